"""Where data, results and downloads live.

Data files are looked up in ``$CDAE_DATA`` if set, else in the ``data/`` folder of the repository
checkout the package was imported from, else downloaded from the repository into the cache
(``$CDAE_CACHE`` or ``~/.cache/cdae-lite``).
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from cdae_lite import REPOSITORY_URL
from cdae_lite.io.files import atomic_write


def repo_root() -> Path | None:
    """The repository checkout the package lives in.

    Returns
    -------
    pathlib.Path or None
        The checkout's root folder (it holds ``data/proteins.json``), or ``None`` for an installed wheel.
    """
    root = Path(__file__).resolve().parents[2]
    return root if (root / "data" / "proteins.json").exists() else None


def data_dir() -> Path:
    """The folder holding the shipped data (see the module docstring for the search order).

    Returns
    -------
    pathlib.Path
        ``$CDAE_DATA``, else ``data/`` of the checkout, else ``data/`` in :func:`cache_dir`.
    """
    env = os.environ.get("CDAE_DATA")
    if env:
        return Path(env)
    root = repo_root()
    if root is not None:
        return root / "data"
    from cdae_lite.io.paths import cache_dir

    return cache_dir() / "data"


def data_path(relative: str) -> Path:
    """Path of a shipped data file, e.g. ``data_path("maps/rubisco.mrc.gz")``.

    Downloads the file from the repository into the cache when the package runs without its checkout.

    Parameters
    ----------
    relative : str
        The file's path under ``data/``.

    Returns
    -------
    pathlib.Path
        Where the file is (after downloading it when needed).

    Raises
    ------
    FileNotFoundError
        When the file is missing from the checkout or ``$CDAE_DATA``, or could not be downloaded (with
        what to do).
    """
    path = data_dir() / relative
    if path.exists():
        return path
    if os.environ.get("CDAE_DATA") or repo_root() is not None:
        raise FileNotFoundError(f"shipped data file {relative} is missing from {data_dir()}")
    url = f"{REPOSITORY_URL}/raw/main/data/{relative}"
    try:
        return download(url, path)
    except (urllib.error.URLError, OSError) as exc:
        raise FileNotFoundError(
            f"{relative} is not in {data_dir()} and could not be downloaded from {url} ({exc}). "
            "Clone the repository and install it with `pip install -e .`, or set CDAE_DATA to its "
            "data/ folder.") from exc


def results_dir() -> Path:
    """Where recorded results live.

    Returns
    -------
    pathlib.Path
        ``$CDAE_RESULTS``, else ``results/`` of the checkout, else ``results/`` beside :func:`data_dir`.
    """
    env = os.environ.get("CDAE_RESULTS")
    if env:
        return Path(env)
    root = repo_root()
    return (root / "results") if root is not None else data_dir().parent / "results"


def cache_dir() -> Path:
    """Where downloads are kept.

    Returns
    -------
    pathlib.Path
        ``$CDAE_CACHE``, else ``~/.cache/cdae-lite`` (not created here).
    """
    return Path(os.environ.get("CDAE_CACHE", Path.home() / ".cache" / "cdae-lite"))


def download(url: str, dest: Path, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest``; folders are created, the file is published only when complete.

    Parameters
    ----------
    url : str
        What to download.
    dest : pathlib.Path
        Where to put it (replaced if it exists).
    timeout : float, optional
        Seconds to wait for the server.

    Returns
    -------
    pathlib.Path
        ``dest``.
    """
    with atomic_write(dest, overwrite=True, make_parents=True) as tmp:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
            shutil.copyfileobj(r, f)
    return dest
