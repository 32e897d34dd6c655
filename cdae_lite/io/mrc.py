"""Particle stacks (``.mrcs`` via mrcfile) and their metadata (RELION STAR files via starfile).

Every reader checks what it reads and says what is wrong in words a user can act on: a missing file
raises ``FileNotFoundError``; an unreadable, truncated or wrong-shaped one raises ``ValueError``.
Writers never leave a half-written file (they write to a temporary name, then rename) and refuse to
overwrite unless asked.

STAR layout (RELION 3.1+): a ``data_optics`` block (voltage, Cs, amplitude contrast, pixel size,
image size) and a ``data_particles`` block with one row per image. cdae-lite writes RELION labels
where RELION has one (``rlnImageName``, ``rlnAngleRot/Tilt/Psi``, ``rlnOriginXAngst/YAngst``,
``rlnDefocusU/V/Angle``, ``rlnClassNumber``) and its own ``cdae*`` labels for the rest (view label,
SNR, noise sigma).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import mrcfile
import numpy as np

from cdae_lite.images import check_images
from cdae_lite.io.files import atomic_write, check_target, commit, temporary_beside

#: MRC data modes cdae-lite reads: int8, int16, float32, uint16, float16.
READABLE_MODES = {0: "int8", 1: "int16", 2: "float32", 6: "uint16", 12: "float16"}


def known_pixel_size(pixel_size_A: float | None) -> float | None:
    """A pixel size worth writing (Angstrom): a positive finite number, else None ("unknown", stored as 0).

    A negative or NaN pixel size read from a damaged header is not copied into a new file.
    """
    if pixel_size_A is None or not np.isfinite(pixel_size_A) or pixel_size_A <= 0:
        return None
    return float(pixel_size_A)


def write_stack(path: str | os.PathLike, images: np.ndarray, pixel_size_A: float | None,
                overwrite: bool = False) -> Path:
    """Write a stack as an MRC image stack (mode 2, float32), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Usually ``*.mrcs``.
    images : numpy.ndarray
        ``(n, size, size)`` (or one image), checked by :func:`cdae_lite.images.check_images`.
    pixel_size_A : float or None
        Pixel size stored in the header, Angstrom (``None`` or a non-positive value stores 0, "unknown").
    overwrite : bool, optional
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        ``path``, published only once complete.
    """
    path = Path(path)
    imgs = check_images(images)
    with atomic_write(path, overwrite) as tmp:
        with mrcfile.new(tmp, overwrite=True) as mrc:
            mrc.set_data(imgs)
            mrc.set_image_stack()
            px = known_pixel_size(pixel_size_A) or 0.0
            mrc.voxel_size = (px, px, 1.0 if px else 0.0)
    return path


def _refuse_map(mrc, data, path: Path, allow_volume: bool) -> None:
    """A file flagged as a volume (space group 1) whose three axes are equal is a 3D map, not a stack.

    Many programs write stacks with space group 1 too, so a non-cubic "volume" (say 7 images of
    320 x 320) is read as the stack it obviously is; a cubic one is ambiguous and refused, with a way out.
    """
    if allow_volume or path.suffix == ".mrcs" or not mrc.is_volume():
        return
    if data.ndim == 3 and data.shape[0] == data.shape[1] == data.shape[2]:
        raise ValueError(f"{path} is a 3D map (MRC space group 1, {data.shape[0]}^3 voxels), not an image "
                         "stack. If it really is a stack, rename it to .mrcs (or pass --as-stack)")


def open_stack(path: str | os.PathLike, allow_volume: bool = False):
    """Open a stack memory-mapped, read-only, after checking it.

    Used by :func:`read_stack` and for streaming large stacks.

    Parameters
    ----------
    path : str or os.PathLike
        An uncompressed ``.mrcs``/``.mrc`` file, modes :data:`READABLE_MODES`.
    allow_volume : bool, optional
        Read a file flagged as a cubic 3D map as a stack of images.

    Returns
    -------
    tuple of (mrcfile.mrcmemmap.MrcMemmap, numpy.ndarray)
        ``(mrc, data)``: the open file (header, ``voxel_size`` in Angstrom; close it when done) and a
        read-only ``(n, size, size)`` array of the file's dtype backed by the file (nothing is loaded
        until used).

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file; empty, truncated, compressed or non-MRC file; unsupported mode; a 3D map where a
        stack is expected (unless ``allow_volume``, or the name ends in ``.mrcs``); non-square images.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such stack file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a stack file")
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{path} is empty (0 bytes)")
    if size < 1024:
        raise ValueError(f"{path} is too short ({size} bytes) to be an MRC file (the header alone is 1024)")
    if path.suffix == ".gz" or path.suffix == ".bz2":
        raise ValueError(f"{path} is compressed: decompress it first (gunzip) to read it memory-mapped")
    try:
        with warnings.catch_warnings():  # mrcfile's warnings precede our own message; the checks below decide
            warnings.simplefilter("ignore", RuntimeWarning)
            mrc = mrcfile.mmap(path, mode="r", permissive=False)
    except ValueError as exc:
        msg = str(exc)
        if "mode" in msg.lower():
            raise ValueError(f"{path} uses an MRC data mode cdae-lite cannot read ({msg}); readable "
                             f"modes: {READABLE_MODES}") from exc
        if any(w in msg.lower() for w in ("too small", "truncated", "smaller", "mmap length is greater")):
            raise ValueError(f"{path} is truncated: the file is shorter than its header says ({msg})") from exc
        raise ValueError(f"{path} is not a valid MRC file ({msg})") from exc
    except (OSError, EOFError, OverflowError) as exc:  # OverflowError: negative or absurd dimensions
        raise ValueError(f"{path} could not be read as MRC ({exc}); is its header damaged?") from exc
    try:
        mode = int(mrc.header.mode)
        if mode not in READABLE_MODES:
            raise ValueError(f"{path} uses MRC mode {mode}, which cdae-lite does not read; readable "
                             f"modes: {READABLE_MODES}")
        data = mrc.data
        if data is None or data.size == 0:
            raise ValueError(f"{path} holds no images")
        if data.ndim == 2:
            data = data[None]
        _refuse_map(mrc, data, path, allow_volume)
        if data.shape[1] != data.shape[2]:
            raise ValueError(f"{path} holds non-square images ({data.shape[1]}x{data.shape[2]}): "
                             "crop or pad them to a square box first")
    except Exception:
        mrc.close()
        raise
    return mrc, data


def read_block(path: str | os.PathLike, mrc, data: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Images ``start ... stop - 1`` of a stack opened by :func:`open_stack`.

    Read with a plain file read rather than through the memory map, so that streaming a stack
    larger than RAM does not leave its pages counted in the process's resident memory.

    Parameters
    ----------
    path : str or os.PathLike
        The file :func:`open_stack` opened.
    mrc : mrcfile.mrcmemmap.MrcMemmap
        The open file (for its header's length).
    data : numpy.ndarray
        Its memory-mapped ``(n, size, size)`` data (for the shape and dtype).
    start, stop : int
        First image, and one past the last (clipped to the stack).

    Returns
    -------
    numpy.ndarray
        ``(stop - start, size, size)`` float32.

    Raises
    ------
    ValueError
        When the file is shorter than the images asked for (truncated).
    """
    start, stop = max(0, int(start)), min(int(stop), data.shape[0])
    offset = int(mrc.header.nbytes + mrc.extended_header.nbytes)
    per = int(np.prod(data.shape[1:]))
    with open(path, "rb") as f:
        f.seek(offset + start * per * data.dtype.itemsize)
        block = np.fromfile(f, dtype=data.dtype, count=(stop - start) * per)
    if block.size != (stop - start) * per:
        raise ValueError(f"{path} is truncated: images {start}..{stop - 1} could not be read")
    return block.reshape((stop - start,) + data.shape[1:]).astype(np.float32)


def read_stack(path: str | os.PathLike, allow_volume: bool = False,
               check_finite: bool = True) -> tuple[np.ndarray, float | None]:
    """Read a whole stack into memory as float32.

    Parameters
    ----------
    path : str or os.PathLike
        ``.mrcs``/``.mrc`` file, or a gzip- or bzip2-compressed one.
    allow_volume : bool, optional
        Read a file flagged as a cubic 3D map as a stack of images.
    check_finite : bool, optional
        Refuse NaN or infinite pixels (and check the shape) with :func:`cdae_lite.images.check_images`.

    Returns
    -------
    images : numpy.ndarray
        ``(n, size, size)`` float32.
    pixel_size_A : float or None
        From the header, Angstrom (``None`` when it holds 0).

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`open_stack`; also ``ValueError`` for NaN/infinite pixels when ``check_finite``.
    """
    path = Path(path)
    if path.suffix in (".gz", ".bz2"):
        if not path.exists():
            raise FileNotFoundError(f"no such stack file: {path}")
        try:
            with mrcfile.open(path, permissive=False) as mrc:
                data = np.array(mrc.data, dtype=np.float32)
                px = float(mrc.voxel_size.x)
                if data.ndim == 2:
                    data = data[None]
                _refuse_map(mrc, data, path, allow_volume)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path} is not a readable compressed MRC file ({exc})") from exc
    else:
        mrc, mm = open_stack(path, allow_volume=allow_volume)
        with mrc:
            data = np.array(mm, dtype=np.float32)
            px = float(mrc.voxel_size.x)
    if check_finite:
        data = check_images(data, name=str(path))
    return data, (px if px > 0 else None)


def stack_pixel_size(path: str | os.PathLike) -> float | None:
    """Pixel size in the header of an MRC file (the header alone is read).

    Parameters
    ----------
    path : str or os.PathLike
        An MRC file.

    Returns
    -------
    float or None
        Angstrom per pixel, or ``None`` when the header holds 0 (unknown).
    """
    with mrcfile.open(path, header_only=True, permissive=True) as mrc:
        px = float(mrc.voxel_size.x)
    return px if px > 0 else None


class StackWriter:
    """Write a large stack block by block into an MRC file, atomically, in bounded memory.

    The stack goes to a temporary file beside ``path``, renamed to ``path`` when the ``with`` block
    ends without error; on error the temporary file is removed and ``path`` is untouched. Blocks are
    written with plain file writes (not through a memory map, whose dirty pages would count against
    the process's resident memory until the end), and the header statistics (min, max, mean, rms) are
    accumulated as blocks arrive, so memory use is that of one block whatever the stack's size.

    Parameters
    ----------
    path : str or os.PathLike
        The stack to publish (checked by :func:`cdae_lite.io.files.check_target` unless ``shared``).
    n : int
        Number of images, at least 1.
    size : int
        Box size, pixels, at least 2.
    pixel_size_A : float or None
        Pixel size for the header, Angstrom (``None``: 0, unknown).
    overwrite : bool, optional
        Replace an existing ``path``.
    protect : tuple of path, optional
        Inputs ``path`` must not be.
    shared : str, optional
        The temporary file of another process's writer (its ``temporary``) to write a share into; such
        a writer never publishes (:func:`cdae_lite.distributed.write_in_shares`).

    Attributes
    ----------
    written : int
        Images written so far.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> with StackWriter(os.path.join(d, "s.mrcs"), n=4, size=8, pixel_size_A=2.0) as w:
    ...     w.write(0, np.ones((4, 8, 8), np.float32))
    >>> read_stack(os.path.join(d, "s.mrcs"))[0].shape
    (4, 8, 8)
    """

    def __init__(self, path: str | os.PathLike, n: int, size: int, pixel_size_A: float | None,
                 overwrite: bool = False, protect: tuple = (), shared: str | None = None):
        if n < 1 or size < 2:
            raise ValueError("a stack needs at least one image of at least 2x2 pixels")
        self.path = Path(path)
        self.n, self.size, self.pixel_size_A = int(n), int(size), known_pixel_size(pixel_size_A)
        self.overwrite = overwrite
        self.owner = shared is None  # a writer on another process's temporary file never publishes it
        if self.owner:
            check_target(self.path, overwrite, protect=tuple(Path(p) for p in protect))
        self._tmp = temporary_beside(self.path) if self.owner else str(shared)
        self._file = None
        self._offset = 0
        self._stats = [np.inf, -np.inf, 0.0, 0.0]  # min, max, sum, sum of squares (float64)
        self.written = 0

    @property
    def temporary(self) -> str:
        """The hidden file being written (other processes may write their share into it: ``shared=``)."""
        return self._tmp

    def __enter__(self) -> "StackWriter":
        if self.owner:  # the header (and a file of the final size) via mrcfile; the data then by plain writes
            with mrcfile.new_mmap(self._tmp, shape=(self.n, self.size, self.size), mrc_mode=2, overwrite=True) as m:
                m.set_image_stack()
                px = self.pixel_size_A or 0.0
                m.voxel_size = (px, px, 1.0 if px else 0.0)
                self._offset = int(m.header.nbytes + m.extended_header.nbytes)
                self._dtype = m.data.dtype
        else:
            with mrcfile.open(self._tmp, header_only=True, permissive=True) as m:
                self._offset = int(m.header.nbytes + m.header.nsymbt)
                self._dtype = np.dtype(np.float32)
        self._file = open(self._tmp, "r+b")
        return self

    @property
    def stats(self) -> tuple[list[float], int]:
        """Running ``[min, max, sum, sum of squares]`` of the pixels written, and the images written."""
        return list(self._stats), self.written

    def set_stats(self, stats: list[float], written: int) -> None:
        """Replace the running statistics (with those of every process that wrote into the file)."""
        self._stats, self.written = list(stats), int(written)

    def write(self, start: int, block: np.ndarray) -> None:
        """Put a block of images at images ``start ... start + b - 1``.

        Parameters
        ----------
        start : int
            Index of the block's first image.
        block : numpy.ndarray
            ``(b, size, size)``, written as float32.

        Raises
        ------
        ValueError
            Wrong shape, a block beyond the stack's end, or NaN/infinite values (nothing is written).
        """
        b = np.asarray(block, np.float32)
        if b.ndim != 3 or b.shape[1:] != (self.size, self.size):
            raise ValueError(f"block must have shape (b, {self.size}, {self.size}), got {b.shape}")
        if start < 0 or start + b.shape[0] > self.n:
            raise ValueError(f"block {start}..{start + b.shape[0]} does not fit a stack of {self.n}")
        bad = ~np.isfinite(b.reshape(len(b), -1)).all(axis=1)
        if bad.any():  # a NaN weight, an overflow, an absurd SNR: refuse rather than write junk
            raise ValueError(f"image {start + int(np.flatnonzero(bad)[0])} of the output holds NaN or infinite "
                             f"values (overflow, or a broken model); nothing was written")
        self._file.seek(self._offset + start * self.size * self.size * self._dtype.itemsize)
        self._file.write(np.ascontiguousarray(b, dtype=self._dtype).tobytes())
        b64 = b.astype(np.float64)
        st = self._stats
        st[0], st[1] = min(st[0], float(b64.min())), max(st[1], float(b64.max()))
        st[2] += float(b64.sum())
        st[3] += float(np.square(b64).sum())
        self.written += b.shape[0]

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.owner:
            if self._file is not None:
                self._file.close()
            return
        try:
            if self._file is not None:
                self._file.close()
            if exc_type is None:
                count = self.n * self.size * self.size
                mean = self._stats[2] / count
                with mrcfile.mmap(self._tmp, mode="r+") as m:  # header only: the data pages stay untouched
                    if self.written:
                        m.header.dmin, m.header.dmax = self._stats[0], self._stats[1]
                        m.header.dmean = mean
                        m.header.rms = float(np.sqrt(max(self._stats[3] / count - mean**2, 0.0)))
                commit(self._tmp, self.path, self.overwrite)
        finally:
            if os.path.exists(self._tmp):
                os.remove(self._tmp)
