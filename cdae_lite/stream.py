"""Denoise stacks larger than memory: read memory-mapped, denoise in batches, write as you go.

Memory use is bounded by the batch (and the model), not by the stack: the input is opened
memory-mapped to check it, then read block by block with plain file reads
(:func:`cdae_lite.io.read_block`), and the output is written block by block
(:class:`cdae_lite.io.StackWriter`) into a file that appears under its final name only when every
image has been written. Neither keeps the stack's pages mapped, so the resident memory stays flat. A failure on image 90,000 of 100,000 (a NaN pixel, a
full disk, Ctrl-C) leaves no output file behind and the input untouched.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch.nn as nn

from .config import progress_enabled
from .equalize import equalize_hist
from .inference import predict
from .io import StackWriter, open_stack, read_block
from .preprocess import resample_images


@dataclass
class StreamReport:
    """What :func:`denoise_file` did."""

    n_images: int
    image_size: int
    seconds: float
    images_per_s: float
    peak_rss_mb: float
    output: str

    def summary(self) -> str:
        return (f"denoised {self.n_images} images of {self.image_size} px in {self.seconds:.1f} s "
                f"({self.images_per_s:.0f} images/s, peak memory {self.peak_rss_mb:.0f} MB) -> {self.output}")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux reports KiB, macOS bytes)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 / 1024 if sys.platform == "darwin" else r / 1024


def denoise_file(model: nn.Module, input_path: str | os.PathLike, output_path: str | os.PathLike,
                 batch_size: int = 256, device=None, equalize: bool = False, overwrite: bool = False,
                 resample: int | None = None, as_stack: bool = False) -> StreamReport:
    """Denoise every image of an MRC stack into a new MRC stack, in bounded memory.

    Parameters
    ----------
    model : a cdae-lite denoiser (works in the units of its input, any size padded to a multiple of 8).
    input_path : ``.mrcs``/``.mrc`` stack (MRC modes 0, 1, 2, 6, 12); never modified.
    output_path : new file; must differ from the input; refused if it exists unless ``overwrite``.
    batch_size : images per batch (memory ~ batch_size x size^2 x 4 bytes x a few).
    equalize : histogram-equalise each output image (values in [0, 1]).
    resample : Fourier-resample images to this box size before denoising (the output has that size
        and a pixel size scaled accordingly); default: keep the size.
    as_stack : read a file flagged as a cubic 3D map as a stack anyway.

    Raises
    ------
    FileNotFoundError, ValueError, FileExistsError, PermissionError
        Unreadable input, NaN/Inf pixels (reported with the image index), output = input, existing
        output, unwritable directory. Nothing is written in any of these cases.
    """
    from tqdm.auto import tqdm

    input_path, output_path = Path(input_path), Path(output_path)
    if output_path.exists() and input_path.exists() and output_path.resolve() == input_path.resolve():
        raise ValueError(f"the output {output_path} is the input file: choose another output name")
    if input_path.suffix in (".gz", ".bz2") and input_path.exists():
        # a compressed stack cannot be memory-mapped: decompress it to a temporary file first
        import tempfile

        from .maps import gunzip_to

        if input_path.suffix == ".bz2":
            raise ValueError(f"{input_path}: decompress bzip2 files first (bunzip2)")
        with tempfile.TemporaryDirectory() as tmp:
            plain = gunzip_to(input_path, Path(tmp) / input_path.stem)
            return denoise_file(model, plain, output_path, batch_size, device, equalize, overwrite, resample,
                                as_stack)
    mrc, data = open_stack(input_path, allow_volume=as_stack)
    t0 = time.perf_counter()
    try:
        n, size = data.shape[0], data.shape[-1]
        px = float(mrc.voxel_size.x) or None
        out_size = resample or size
        if resample:
            from .inference import SIZE_MULTIPLE

            if resample < SIZE_MULTIPLE:
                raise ValueError(f"--resample must be at least {SIZE_MULTIPLE} pixels")
            px = px * size / resample if px else None
        with StackWriter(output_path, n, out_size, px, overwrite=overwrite, protect=(input_path,)) as w:
            bar = tqdm(total=n, desc="denoising", unit="img", disable=not progress_enabled(), file=sys.stderr)
            try:
                for start in range(0, n, batch_size):
                    block = read_block(input_path, mrc, data, start, start + batch_size)
                    bad = ~np.isfinite(block.reshape(len(block), -1)).all(axis=1)
                    if bad.any():
                        raise ValueError(f"{input_path}: image {start + int(np.flatnonzero(bad)[0])} holds NaN "
                                         "or infinite pixels; nothing was written")
                    if resample:
                        block = resample_images(block, resample)
                    out = predict(model, block, batch_size=batch_size, device=device, check=False)
                    if equalize:
                        out = equalize_hist(out)
                    w.write(start, out)
                    bar.update(len(block))
            finally:
                bar.close()  # ends the bar's line, so that an error message starts a line of its own
    finally:
        mrc.close()
    dt = time.perf_counter() - t0
    return StreamReport(n_images=n, image_size=out_size, seconds=dt, images_per_s=n / max(dt, 1e-9),
                        peak_rss_mb=peak_rss_mb(), output=str(output_path))
