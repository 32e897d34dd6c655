"""Files in and out: MRC stacks, RELION STAR files, block-wise reading, safe publication, data paths.

Every reader checks what it reads and says what is wrong in words a user can act on; every writer
publishes its file only when complete and never over an input or an existing file unasked.
"""

from cdae_lite.io.blocks import iter_blocks, opened_stack, plain_stack
from cdae_lite.io.files import atomic_write, check_target, gunzip_to
from cdae_lite.io.mrc import (READABLE_MODES, StackWriter, open_stack, read_block, read_stack, stack_pixel_size,
                              write_stack)
from cdae_lite.io.paths import cache_dir, data_dir, data_path, repo_root, results_dir
from cdae_lite.io.star import image_indices, image_names, read_star, write_star

__all__ = ["READABLE_MODES", "StackWriter", "atomic_write", "cache_dir", "check_target", "data_dir", "data_path",
           "gunzip_to", "image_indices", "image_names", "iter_blocks", "open_stack", "opened_stack", "plain_stack",
           "read_block", "read_stack", "read_star", "repo_root", "results_dir", "stack_pixel_size", "write_stack", "write_star"]
