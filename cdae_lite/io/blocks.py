"""Reading stacks larger than memory block by block, ``.gz`` stacks included.

The input is opened memory-mapped to check its header, then read block by block with plain file reads
(:func:`cdae_lite.io.mrc.read_block`), so that the stack's pages are never counted in the process's
resident memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from cdae_lite.io.mrc import open_stack, read_block


@contextmanager
def plain_stack(path: str | os.PathLike) -> Iterator[Path]:
    """The stack at ``path`` as a file that can be read block by block: itself, or for a ``.gz``
    file a decompressed copy in a temporary folder (deleted afterwards). ``.bz2`` is refused."""
    path = Path(path)
    if path.suffix == ".bz2" and path.exists():
        raise ValueError(f"{path}: decompress bzip2 files first (bunzip2)")
    if path.suffix != ".gz" or not path.exists():
        yield path
        return
    import tempfile

    from cdae_lite.io.files import gunzip_to

    with tempfile.TemporaryDirectory() as tmp:
        yield gunzip_to(path, Path(tmp) / path.stem)


@contextmanager
def opened_stack(path: str | os.PathLike, allow_volume: bool = False) -> Iterator[tuple[Path, object, np.ndarray]]:
    """``(readable path, mrc, data)`` of a checked stack (:func:`plain_stack`, then
    :func:`cdae_lite.io.mrc.open_stack`), closed at the end of the ``with`` block."""
    with plain_stack(path) as plain:
        mrc, data = open_stack(plain, allow_volume=allow_volume)
        try:
            yield plain, mrc, data
        finally:
            mrc.close()


def iter_blocks(path: Path, mrc, data: np.ndarray, block_size: int, start: int = 0,
                stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """``(first index, images)`` for consecutive blocks of a stack opened by
    :func:`cdae_lite.io.mrc.open_stack`; each block float32 ``(<= block_size, size, size)``.

    Raises ``ValueError`` naming the first image that holds NaN or infinite pixels.
    """
    stop = data.shape[0] if stop is None else min(stop, data.shape[0])
    for i in range(start, stop, block_size):
        block = read_block(path, mrc, data, i, min(i + block_size, stop))
        bad = ~np.isfinite(block.reshape(len(block), -1)).all(axis=1)
        if bad.any():
            raise ValueError(f"{path}: image {i + int(np.flatnonzero(bad)[0])} holds NaN "
                             "or infinite pixels; nothing was written")
        yield i, block
