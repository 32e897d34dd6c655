"""RELION STAR files (via starfile): a ``data_optics`` block and a ``data_particles`` block.

cdae-lite writes RELION labels where RELION has one (``rlnImageName``, ``rlnAngleRot/Tilt/Psi``,
``rlnOriginXAngst/YAngst``, ``rlnDefocusU/V/Angle``, ``rlnClassNumber``) and its own ``cdae*`` labels
for the rest (view label, SNR, noise sigma).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from cdae_lite.io.files import atomic_write


def write_star(path: str | os.PathLike, particles: pd.DataFrame, optics: dict | pd.DataFrame | None = None,
               overwrite: bool = False) -> Path:
    """Write RELION-style metadata, atomically: an optional ``optics`` block and a ``particles`` block.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.star`` file.
    particles : pandas.DataFrame
        One row per image, columns named by STAR label without ``_`` (``rlnImageName``, ...).
    optics : dict or pandas.DataFrame, optional
        One optics group, label -> value (e.g. ``{"rlnVoltage": 300}``), or a table with one row per
        optics group.
    overwrite : bool, optional
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        ``path``; floats are written with 6 decimals.

    Raises
    ------
    ValueError
        ``particles`` is not a non-empty DataFrame.
    """
    path = Path(path)
    if not isinstance(particles, pd.DataFrame) or len(particles) == 0:
        raise ValueError("particles must be a non-empty pandas DataFrame")
    blocks = {}
    if isinstance(optics, pd.DataFrame):
        blocks["optics"] = optics.reset_index(drop=True)
    elif optics:
        blocks["optics"] = pd.DataFrame([optics])
    blocks["particles"] = particles.reset_index(drop=True)
    import starfile

    with atomic_write(path, overwrite) as tmp:
        starfile.write(blocks, tmp, float_format="%.6f")
    return path


def star_tables(path: Path) -> dict[str, pd.DataFrame]:
    """The data blocks of an existing STAR file that are tables, by block name.

    Parameters
    ----------
    path : pathlib.Path
        The STAR file.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``{block name: table}`` (e.g. ``"optics"``, ``"particles"``); blocks of single values are left out.

    Raises
    ------
    ValueError
        The file is not a readable STAR file.
    """
    import starfile

    try:
        blocks = starfile.read(path, always_dict=True)
    except Exception as exc:  # starfile raises a variety of parser errors
        raise ValueError(f"{path} is not a readable STAR file ({exc})") from exc
    return {k: v for k, v in blocks.items() if isinstance(v, pd.DataFrame)}


def read_star(path: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """Read a STAR file's particles table and its first optics group.

    Works for RELION 3.1+ files (``data_optics`` + ``data_particles``) and for older single-block
    files (then ``optics`` is empty and the one block is the particles table). A file with several
    optics groups logs a warning (:func:`cdae_lite.io.relion.plan_star` reads them all).

    Parameters
    ----------
    path : str or os.PathLike
        The STAR file.

    Returns
    -------
    particles : pandas.DataFrame
        One row per image, columns the STAR labels without ``_``, index ``0 .. n-1``.
    optics : dict
        The first optics group, label -> value (``rlnVoltage`` in kV, ``rlnImagePixelSize`` in
        Angstrom...); empty when the file has no optics block.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file; unreadable, or without a particles table.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such STAR file: {path}")
    tables = star_tables(path)
    if not tables:
        raise ValueError(f"{path} holds no data table")
    optics_df = tables.get("optics")
    particles = tables.get("particles")
    if particles is None:
        particles = next((v for k, v in tables.items() if k != "optics"), None)
    if particles is None:
        raise ValueError(f"{path} holds only an optics block: no particles table")
    optics = optics_df.iloc[0].to_dict() if optics_df is not None and len(optics_df) else {}
    if optics_df is not None and len(optics_df) > 1:
        logging.getLogger(__name__).warning("%s has %d optics groups; read_star returns the first (use "
                                            "cdae_lite.io.relion.plan_star for all of them)", path, len(optics_df))
    return particles.reset_index(drop=True), optics


def image_names(n: int, stack_name: str) -> list[str]:
    """RELION image names ``000001@stack.mrcs`` ... for ``n`` images.

    Parameters
    ----------
    n : int
        Number of images.
    stack_name : str
        The stack's file name as the STAR file should give it.

    Returns
    -------
    list of str
        ``n`` names, indices from 1, six digits.
    """
    return [f"{i + 1:06d}@{stack_name}" for i in range(n)]


def image_indices(particles: pd.DataFrame, stack_path: str | os.PathLike, n_images: int) -> np.ndarray:
    """The 0-based index in the stack of the image each STAR row names (``rlnImageName`` = ``index@file``).

    Rows are paired with images by name, not by position, so a STAR whose rows are in another order
    (sorted by class, by defocus) still labels the right particles.

    Parameters
    ----------
    particles : pandas.DataFrame
        The STAR file's particles table.
    stack_path : str or os.PathLike
        The stack its rows must name.
    n_images : int
        Number of images in the stack.

    Returns
    -------
    numpy.ndarray
        ``(len(particles),)`` int64 indices in ``0 .. n_images - 1``, one per row.

    Raises
    ------
    ValueError
        No ``rlnImageName`` column, a name that is not ``index@file``, a file other than the stack
        (compared by file name, a ``.gz`` suffix ignored), or an index outside ``1..n_images``.
    """
    if "rlnImageName" not in particles.columns:
        raise ValueError("the STAR file has no rlnImageName column: rows cannot be paired with images")
    parts = particles["rlnImageName"].astype(str).str.split("@", n=1, expand=True)
    if parts.shape[1] != 2 or parts[1].isna().any() or not parts[0].str.strip().str.isdigit().all():
        bad = particles["rlnImageName"].iloc[0]
        raise ValueError(f"rlnImageName must be index@file (e.g. 000001@particles.mrcs); got {bad!r}")

    def bare(name: str) -> str:
        name = Path(name.strip()).name
        return name.removesuffix(".gz")

    stack = bare(str(stack_path))
    others = sorted({f for f in parts[1].map(bare) if f != stack})
    if others:
        raise ValueError(f"the STAR file names images of {', '.join(others[:3])}, not of {stack}")
    idx = parts[0].astype(np.int64).to_numpy() - 1
    outside = idx[(idx < 0) | (idx >= n_images)]
    if len(outside):
        raise ValueError(f"the STAR file names image {int(outside.max()) + 1} but {stack} holds images 1 to {n_images}")
    return idx
