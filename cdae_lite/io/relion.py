"""RELION particle STAR files as inputs: every stack they name, every optics group, RELION's path rule.

A RELION particles STAR file names each image as ``NNNNNN@path`` (1-based index in the stack ``path``);
a project's STAR names hundreds of stacks (one per micrograph, ``Extract/jobNNN/Movies/*.mrcs``), with
paths relative to the *project directory*, the folder RELION runs in. :func:`plan_star` reads such a
file and checks everything a run needs before anything is written:

* image names resolved from the current directory (the project root) and, when not found there, from
  the STAR file's folder; with ``project=`` from that folder only (absolute names as they are);
* every stack exists, is a readable MRC stack, and holds the images named (index within its length);
* optics groups: RELION 3.1+ files carry a ``data_optics`` block (one row per group: pixel size, voltage,
  Cs, amplitude contrast, box size) and ``rlnOpticsGroup`` per particle; RELION 3.0 files carry these
  per particle (pixel size as ``rlnDetectorPixelSize`` [um] x 10^4 / ``rlnMagnification``), so their groups
  are the distinct combinations. Each group's images must share one box size.

Writing the outputs (gathering the named images, scattering results into one stack per input stack,
the output STAR) is in :mod:`cdae_lite.io.relion_out`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: Per-particle optics labels of RELION 3.0 files (3.1+ keeps them in ``data_optics``).
OPTICS_LABELS = ("rlnVoltage", "rlnSphericalAberration", "rlnAmplitudeContrast", "rlnImagePixelSize",
                 "rlnDetectorPixelSize", "rlnMagnification")


@dataclass
class OpticsGroup:
    """One RELION optics group.

    Attributes
    ----------
    group : int -- its ``rlnOpticsGroup`` number (RELION 3.0 files: 1, 2, ... in order of appearance).
    pixel_size_A : float or None -- Angstrom per pixel (None: unknown).
    voltage_kV, cs_mm, amplitude_contrast : float or None -- for CTF correction (None: not given).
    image_size : int -- box size of its images, px (read from the stacks).
    """

    group: int
    pixel_size_A: float | None
    voltage_kV: float | None
    cs_mm: float | None
    amplitude_contrast: float | None
    image_size: int = 0

    def as_optics(self) -> dict:
        """RELION labels -> values, as :func:`cdae_lite.denoise.preprocess.star_ctf_params` reads them."""
        pairs = {"rlnOpticsGroup": self.group, "rlnImagePixelSize": self.pixel_size_A, "rlnVoltage": self.voltage_kV,
                 "rlnSphericalAberration": self.cs_mm, "rlnAmplitudeContrast": self.amplitude_contrast,
                 "rlnImageSize": self.image_size}
        return {k: v for k, v in pairs.items() if v is not None}


@dataclass
class StackInfo:
    """A stack named by the STAR: its name as written there, where it was found and what it holds.

    Attributes
    ----------
    name : str
        The stack's path as the STAR file writes it.
    path : pathlib.Path
        Where it was found.
    rule : str
        Which path rule found it, in words (:func:`resolve`).
    n_images, box : int
        Its number of images and their box size, px.
    header_pixel_size_A : float or None
        Pixel size in its header, Angstrom (``None``: 0, unknown).
    """

    name: str
    path: Path
    rule: str
    n_images: int
    box: int
    header_pixel_size_A: float | None


@dataclass
class StarPlan:
    """A checked particle STAR file: one entry per row in ``stack``, ``index`` and ``group``.

    Attributes
    ----------
    path : the STAR file. particles : its rows (a copy, in file order). optics : its optics block
        (None for a RELION 3.0 file).
    stacks : the stacks named, in order of first appearance.
    stack, index, group : int64 ``(rows,)`` -- per row: position in ``stacks``, 0-based image index in
        that stack, optics group number.
    groups : optics group number -> :class:`OpticsGroup`.
    """

    path: Path
    particles: pd.DataFrame
    optics: pd.DataFrame | None
    stacks: list[StackInfo]
    stack: np.ndarray
    index: np.ndarray
    group: np.ndarray
    groups: dict[int, OpticsGroup] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """``"3.0"`` (no optics block) or ``"3.1+"``."""
        return "3.0" if self.optics is None else "3.1+"

    def unique_images(self, groups: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The distinct images the rows name (duplicated rows, e.g. after symmetry expansion, count once).

        Returns
        -------
        keys : int64 ``(m, 2)`` -- (stack position, image index), sorted; only rows of ``groups`` if given.
        row_to_key : int64 ``(rows,)`` -- per row, its image's position in ``keys`` (-1 for rows outside
            ``groups``).
        """
        keep = np.ones(len(self.stack), bool) if groups is None else np.isin(self.group, groups)
        pairs = np.stack([self.stack, self.index], axis=1)
        keys, inverse = np.unique(pairs[keep], axis=0, return_inverse=True)
        row_to_key = np.full(len(pairs), -1, np.int64)
        row_to_key[keep] = inverse.ravel()
        return keys.astype(np.int64), row_to_key

    def rules(self) -> str:
        """Which path rule found the stacks, in words, for a command's summary."""
        counts = pd.Series([s.rule for s in self.stacks]).value_counts()
        return "; ".join(f"{n} stack{'s' * (n > 1)} found {rule}" for rule, n in counts.items())

    def box_sizes(self) -> list[int]:
        """The distinct box sizes of the optics groups, px."""
        return sorted({g.image_size for g in self.groups.values()})


def read_relion(path: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The particles and optics tables of a RELION particles STAR file.

    Parameters
    ----------
    path : str or os.PathLike
        A RELION 3.0 or 3.1+ particles STAR file.

    Returns
    -------
    particles : pandas.DataFrame
        One row per particle, with ``rlnImageName``.
    optics : pandas.DataFrame or None
        The ``data_optics`` block, ``None`` for RELION 3.0 files.

    Raises
    ------
    FileNotFoundError, ValueError
        No such file, not a STAR file, no particles table, or no ``rlnImageName`` column.
    """
    from cdae_lite.io.star import star_tables

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such STAR file: {path}")
    tables = star_tables(path)
    optics = tables.get("optics")
    particles = tables.get("particles")
    if particles is None:
        particles = next((v for k, v in tables.items() if k != "optics" and "rlnImageName" in v), None)
    if particles is None or len(particles) == 0:
        raise ValueError(f"{path} holds no particles table (a data_particles block with rlnImageName)")
    if "rlnImageName" not in particles.columns:
        raise ValueError(f"{path} has no rlnImageName column: it names no images")
    return particles.reset_index(drop=True), (None if optics is None else optics.reset_index(drop=True))


def split_names(names: pd.Series, star: Path) -> tuple[np.ndarray, list[str]]:
    """Image indices and stack names of RELION image names ``NNNNNN@path``.

    Parameters
    ----------
    names : pandas.Series
        The ``rlnImageName`` column.
    star : pathlib.Path
        The STAR file, for the error message.

    Returns
    -------
    indices : numpy.ndarray
        ``(rows,)`` int64, 0-based.
    stacks : list of str
        Per row, the stack's path as written.

    Raises
    ------
    ValueError
        Naming the first name that is not ``index@path`` with an index >= 1.
    """
    parts = names.astype(str).str.strip().str.split("@", n=1, expand=True)
    ok = parts.shape[1] == 2 and not parts[1].isna().any() and parts[0].str.isdigit().all()
    if ok:
        idx = parts[0].astype(np.int64).to_numpy() - 1
        ok = bool((idx >= 0).all())
    if not ok:
        bad = next(n for n in names.astype(str) if not _good_name(n))
        raise ValueError(f"{star}: rlnImageName must be index@stack with an index from 1 (e.g. "
                         f"000001@Extract/job007/Movies/mic1.mrcs); got {bad!r}")
    return idx, [p.strip() for p in parts[1]]


def _good_name(name: str) -> bool:
    head, _, tail = name.strip().partition("@")
    return bool(tail) and head.isdigit() and int(head) >= 1


def resolve(name: str, star: Path, project: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Where RELION finds the stack ``name`` of the STAR file ``star``, and the rule that found it.

    RELION opens image names relative to the folder it runs in (the project directory); so does this,
    then falls back to the STAR file's folder (a STAR moved with its stacks). ``project`` replaces both
    with that folder. Absolute names are used as they are.

    Parameters
    ----------
    name : str
        The stack's path as the STAR file writes it.
    star : pathlib.Path
        The STAR file.
    project : str or os.PathLike, optional
        The RELION project folder.

    Returns
    -------
    tuple of (pathlib.Path, str)
        The stack's path, and the rule in words (e.g. "from the STAR file's folder").

    Raises
    ------
    FileNotFoundError
        The stack is in none of those places (the message names where it looked).
    """
    p = Path(name)
    if p.is_absolute():
        if p.exists():
            return p, "by absolute path"
        raise FileNotFoundError(f"{star} names the stack {name}, which does not exist")
    bases = ([(Path(project), f"from the RELION project folder {project} (--relion-project)")] if project is not None
             else [(Path.cwd(), "from the current directory (the RELION project root)"),
                   (star.resolve().parent, "from the STAR file's folder")])
    for base, rule in bases:
        if (base / p).exists():
            return base / p, rule
    where = " nor ".join(str(b) for b, _ in bases)
    raise FileNotFoundError(f"{star} names the stack {name}, found neither from {where}: run from the RELION "
                            "project folder or pass --relion-project DIR" if len(bases) > 1 else
                            f"{star} names the stack {name}, which is not in {where}")


def _stack_info(name: str, path: Path, rule: str) -> StackInfo:
    from cdae_lite.io.blocks import opened_stack

    with opened_stack(path, allow_volume=True) as (_, mrc, data):  # index@file: a stack, whatever its flag
        px = float(mrc.voxel_size.x)
        return StackInfo(name, path, rule, int(data.shape[0]), int(data.shape[-1]), px if px > 0 else None)


def _optics_ids(particles: pd.DataFrame, optics: pd.DataFrame | None, star: Path) -> tuple[np.ndarray, dict]:
    """Per row its optics group number, and group number -> its labels (dict)."""
    if optics is not None:
        if "rlnOpticsGroup" not in optics.columns:
            raise ValueError(f"{star}: the optics block has no rlnOpticsGroup column")
        table = {int(r["rlnOpticsGroup"]): r.to_dict() for _, r in optics.iterrows()}
        if "rlnOpticsGroup" not in particles.columns:
            if len(table) != 1:
                raise ValueError(f"{star}: {len(table)} optics groups but the particles have no rlnOpticsGroup")
            return np.full(len(particles), next(iter(table)), np.int64), table
        ids = pd.to_numeric(particles["rlnOpticsGroup"], errors="coerce")
        missing = sorted(set(ids.dropna().astype(int)) - set(table)) + ([] if ids.notna().all() else ["(blank)"])
        if missing:
            raise ValueError(f"{star}: particles name optics group {missing[0]}, which has no row in data_optics")
        return ids.astype(np.int64).to_numpy(), table
    cols = [c for c in OPTICS_LABELS if c in particles.columns]  # RELION 3.0: groups = distinct combinations
    if not cols:
        return np.ones(len(particles), np.int64), {1: {}}
    combos = particles[cols].astype(str).agg("|".join, axis=1)
    codes, uniques = pd.factorize(combos)
    first = [int(np.flatnonzero(codes == c)[0]) for c in range(len(uniques))]
    return codes.astype(np.int64) + 1, {c + 1: particles.iloc[i][cols].to_dict() for c, i in enumerate(first)}


def _number(labels: dict, key: str) -> float | None:
    try:
        v = float(labels[key])
    except (KeyError, TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def group_pixel_size(labels: dict) -> float | None:
    """Pixel size of an optics group's labels.

    Parameters
    ----------
    labels : dict
        RELION label -> value of one optics group.

    Returns
    -------
    float or None
        Angstrom: ``rlnImagePixelSize``, else RELION 3.0's ``rlnDetectorPixelSize`` [um] x 10^4 /
        ``rlnMagnification``; ``None`` when neither is given.
    """
    px = _number(labels, "rlnImagePixelSize")
    det, mag = _number(labels, "rlnDetectorPixelSize"), _number(labels, "rlnMagnification")
    if px is None and det and mag:
        px = det * 1e4 / mag
    return px if px and px > 0 else None


def plan_star(path: str | os.PathLike, project: str | os.PathLike | None = None) -> StarPlan:
    """Read and check a particles STAR file and every stack it names (headers only): see the module.

    Parameters
    ----------
    path : a RELION 3.0 or 3.1+ particles STAR file.
    project : the RELION project folder image names are relative to (default: the current directory,
        then the STAR file's folder).

    Returns
    -------
    StarPlan

    Raises
    ------
    FileNotFoundError, ValueError
        A missing stack, an index beyond a stack's length, an optics group with no optics row, no
        ``rlnImageName``, an unreadable stack, or box sizes that differ within one optics group (or from
        the group's ``rlnImageSize``). Nothing is written.
    """
    path = Path(path)
    if project is not None and not Path(project).is_dir():
        raise FileNotFoundError(f"--relion-project {project} is not a folder")
    particles, optics = read_relion(path)
    index, names = split_names(particles["rlnImageName"], path)
    groups_of, labels = _optics_ids(particles, optics, path)
    order = list(dict.fromkeys(names))
    pos = {n: i for i, n in enumerate(order)}
    stacks = [_stack_info(n, *resolve(n, path, project)) for n in order]
    stack = np.array([pos[n] for n in names], np.int64)
    lengths = np.array([s.n_images for s in stacks])
    beyond = np.flatnonzero(index >= lengths[stack])
    if len(beyond):
        i = int(beyond[0])
        raise ValueError(f"{path}: row {i + 1} names image {index[i] + 1} of {names[i]}, which holds "
                         f"{lengths[stack[i]]} images")
    groups = {}
    for g in sorted(set(groups_of.tolist())):
        used = sorted({stacks[s].box for s in set(stack[groups_of == g].tolist())})
        want = _number(labels[g], "rlnImageSize")
        if len(used) > 1 or (want is not None and int(want) != used[0]):
            sizes = " and ".join(map(str, sorted(set(used) | ({int(want)} if want else set()))))
            raise ValueError(f"{path}: optics group {g} mixes box sizes {sizes} px (stacks or rlnImageSize): "
                             "cdae-lite needs one box size per optics group")
        first = stacks[int(stack[groups_of == g][0])]
        groups[g] = OpticsGroup(g, group_pixel_size(labels[g]) or first.header_pixel_size_A,
                                _number(labels[g], "rlnVoltage"), _number(labels[g], "rlnSphericalAberration"),
                                _number(labels[g], "rlnAmplitudeContrast"), used[0])
    return StarPlan(path, particles.copy(), optics, stacks, stack, index, groups_of, groups)


def is_star(path: str | os.PathLike) -> bool:
    """Whether a command's input is a STAR file (by its name).

    Parameters
    ----------
    path : str or os.PathLike
        The input.

    Returns
    -------
    bool
        ``True`` for a name ending in ``.star`` (any case).
    """
    return str(path).lower().endswith(".star")
