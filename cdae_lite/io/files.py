"""Writing files safely: all or nothing, never over an input, never over an existing file unasked."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def chmod_default(path: str | os.PathLike) -> None:
    """Give a file made by ``mkstemp`` (mode 0600) the mode an ordinary new file would get.

    Parameters
    ----------
    path : str or os.PathLike
        The file; its mode becomes ``0o666`` less the process's umask.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def check_name(path: str | os.PathLike, compressed_ok: bool = False) -> None:
    """Raise unless ``path`` names a file that can be written.

    Parameters
    ----------
    path : str or os.PathLike
        The output's name: not a folder (``out/``), and not ``.gz`` unless ``compressed_ok``.
    compressed_ok : bool, optional
        Allow a ``.gz`` name (stacks are written uncompressed; maps may be gzipped).

    Raises
    ------
    IsADirectoryError, ValueError
        A folder; a ``.gz`` name when not allowed.
    """
    if str(path).endswith(("/", os.sep)) or Path(path).is_dir():
        raise IsADirectoryError(f"the output {path} is a folder: give a file name")
    if str(path).endswith(".gz") and not compressed_ok:
        raise ValueError(f"the output {path} ends in .gz, but cdae-lite writes uncompressed files: drop the .gz "
                         "(compress the file afterwards if you wish)")


def check_target(path: str | os.PathLike, overwrite: bool = False, protect: tuple = ()) -> Path:
    """Raise a clear error unless ``path`` can be written.

    Parameters
    ----------
    path : str or os.PathLike
        The output file.
    overwrite : bool, optional
        Allow an existing file to be replaced.
    protect : tuple of path, optional
        Inputs the output must not be (``None`` entries are skipped).

    Returns
    -------
    pathlib.Path
        ``path``, when it is a file name (not a folder) that is not an input, does not exist (or
        ``overwrite``), in an existing, writable folder.

    Raises
    ------
    IsADirectoryError, ValueError, FileExistsError, FileNotFoundError, PermissionError
        A folder name; the output is an input; it exists; its folder is missing; not writable.
    """
    check_name(path, compressed_ok=True)  # .gz outputs are refused by the commands that write stacks
    path = Path(path)
    for p in protect:
        if p is not None and Path(p).exists() and path.resolve() == Path(p).resolve():
            raise ValueError(f"the output {path} is the input file: choose another output name")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists: choose another name or allow overwriting")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise FileNotFoundError(f"the output directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"the output directory {parent} is not writable")
    return path


def temporary_beside(path: str | os.PathLike) -> str:
    """An empty temporary file in ``path``'s folder (so that the final rename is atomic).

    Parameters
    ----------
    path : str or os.PathLike
        The file that will be published.

    Returns
    -------
    str
        The temporary file's path, hidden (``.<name>.XXXX.tmp``), mode 0600.

    Raises
    ------
    PermissionError
        When nothing can be created in the folder.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:  # e.g. a read-only file system, or a directory even root cannot write in
        raise PermissionError(f"cannot create a file in {parent}: {exc.strerror or exc}") from exc
    os.close(fd)
    return tmp


def commit(tmp: str, path: str | os.PathLike, overwrite: bool = False) -> None:
    """Give ``tmp`` ordinary permissions and publish it as ``path``.

    Without ``overwrite`` the publication is no-clobber: a hard link that fails if ``path`` exists,
    so a file that appeared at ``path`` while we worked (another run writing the same output) is
    kept and this one is refused, whoever checked first. File systems without hard links fall back
    to a check and a rename.

    Parameters
    ----------
    tmp : str
        The complete temporary file (from :func:`temporary_beside`).
    path : str or os.PathLike
        Its final name.
    overwrite : bool, optional
        Replace an existing ``path``.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is false.
    """
    chmod_default(tmp)
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} appeared while this output was being written (another run?); "
                              "it was kept and this output discarded") from None
    except OSError:  # no hard links here (some network and FAT file systems)
        if os.path.exists(path):
            raise FileExistsError(f"{path} appeared while this output was being written; it was kept") from None
        os.replace(tmp, path)
        return
    os.remove(tmp)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, overwrite: bool = False, protect: tuple = (),
                 make_parents: bool = False) -> Iterator[str]:
    """Yield a temporary path to write; it becomes ``path`` only if the block ends without error.

    Parameters
    ----------
    path : str or os.PathLike
        The file to publish (checked first by :func:`check_target`).
    overwrite : bool, optional
        Replace an existing file; without it the publication refuses a file that appeared meanwhile.
    protect : tuple of path, optional
        Inputs the output must not be.
    make_parents : bool, optional
        Create the missing folders of ``path`` first.

    Yields
    ------
    str
        A temporary file beside ``path`` (same folder, so the final rename is atomic); removed if the
        block fails.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> with atomic_write(os.path.join(d, "a.txt")) as tmp:
    ...     _ = open(tmp, "w").write("done")
    >>> open(os.path.join(d, "a.txt")).read()
    'done'
    """
    if make_parents:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    check_target(path, overwrite, protect)
    tmp = temporary_beside(path)
    try:
        yield tmp
        commit(tmp, path, overwrite)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def gunzip_to(path: Path, dest: Path) -> Path:
    """Decompress a gzip file; used for tools that cannot read ``.gz``.

    Parameters
    ----------
    path : pathlib.Path
        The ``.gz`` file.
    dest : pathlib.Path
        Where to write the decompressed bytes (replaced if it exists).

    Returns
    -------
    pathlib.Path
        ``dest``.
    """
    with gzip.open(path, "rb") as f, open(dest, "wb") as g:
        shutil.copyfileobj(f, g)
    return dest


def sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB chunks): names exactly which file a result came from.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
