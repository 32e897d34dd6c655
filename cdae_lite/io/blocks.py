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
    """The stack at ``path`` as a file that can be read block by block.

    Parameters
    ----------
    path : str or os.PathLike
        A stack file, ``.gz`` allowed (``.bz2`` is refused).

    Yields
    ------
    pathlib.Path
        ``path`` itself, or for a ``.gz`` file a decompressed copy in a temporary folder, deleted when
        the ``with`` block ends.

    Raises
    ------
    ValueError
        For an existing ``.bz2`` file.
    """
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
    """A checked stack opened for block-wise reading, closed at the end of the ``with`` block.

    :func:`plain_stack`, then :func:`cdae_lite.io.mrc.open_stack`.

    Parameters
    ----------
    path : str or os.PathLike
        ``.mrcs``/``.mrc`` stack, ``.gz`` allowed.
    allow_volume : bool, optional
        Read a file whose header says "volume" as a stack of images.

    Yields
    ------
    tuple of (pathlib.Path, mrcfile.mrcmemmap.MrcMemmap, numpy.ndarray)
        ``(readable path, mrc, data)``: the file to read from, the open MRC file (header, voxel size in
        Angstrom) and its memory-mapped ``(n, size, size)`` data, for :func:`iter_blocks`.
    """
    with plain_stack(path) as plain:
        mrc, data = open_stack(plain, allow_volume=allow_volume)
        try:
            yield plain, mrc, data
        finally:
            mrc.close()


def iter_blocks(path: Path, mrc, data: np.ndarray, block_size: int, start: int = 0,
                stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Consecutive blocks of a stack opened by :func:`opened_stack`, each checked for NaN/Inf pixels.

    Parameters
    ----------
    path : pathlib.Path
        The readable file (the first item of :func:`opened_stack`).
    mrc : mrcfile.mrcmemmap.MrcMemmap
        The open MRC file.
    data : numpy.ndarray
        Its memory-mapped ``(n, size, size)`` data.
    block_size : int
        Images per block (the last one may hold fewer).
    start : int, optional
        First image.
    stop : int, optional
        One past the last image (default: the end of the stack).

    Yields
    ------
    tuple of (int, numpy.ndarray)
        ``(index of the block's first image, images)``, images float32 ``(<= block_size, size, size)``.

    Raises
    ------
    ValueError
        Naming the first image that holds NaN or infinite pixels.
    """
    stop = data.shape[0] if stop is None else min(stop, data.shape[0])
    for i in range(start, stop, block_size):
        block = read_block(path, mrc, data, i, min(i + block_size, stop))
        bad = ~np.isfinite(block.reshape(len(block), -1)).all(axis=1)
        if bad.any():
            raise ValueError(f"{path}: image {i + int(np.flatnonzero(bad)[0])} holds NaN "
                             "or infinite pixels; nothing was written")
        yield i, block
