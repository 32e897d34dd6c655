"""Writing what a run on a RELION STAR file makes: gathered stacks, one stack per input stack, the STAR.

Layout of ``cdae-lite denoise particles.star -o OUT/denoised.star``: one new stack per input stack,
under a folder named after the output STAR (``OUT/denoised/``), at the input's name as the STAR wrote it
(``Extract/job007/Movies/mic1.mrcs`` -> ``OUT/denoised/Extract/job007/Movies/mic1.mrcs``; an absolute
name loses its root, ``..`` becomes ``__``, every stack ends in ``.mrcs``). Each new stack holds the
images the STAR names from its input stack, in their order there (all of them when the STAR names
all). The output STAR holds the input's rows, in order, duplicates included, with ``rlnImageName``
pointing at the new images: relative to the project folder when the input's stacks were found from it
(RELION's rule), else relative to the output STAR's folder.

Everything is written into a hidden folder beside the output STAR first and published only when
complete (no file replaced unless asked); a failure leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from cdae_lite.io.blocks import opened_stack
from cdae_lite.io.files import check_target, commit
from cdae_lite.io.mrc import StackWriter, read_block
from cdae_lite.io.relion import StarPlan

#: Images read at a time when copying between stacks (64 MB of 256 px images).
CHUNK = 256


def stack_layout(plan: StarPlan, output_star: str | os.PathLike) -> list[Path]:
    """The new stack of each input stack (``plan.stacks`` order): see the module docstring.

    Raises ``ValueError`` when two input stacks would map to one output name.
    """
    out = Path(output_star)
    root = out.with_suffix("") if out.suffix else out.with_name(out.name + "_stacks")
    paths = []
    for s in plan.stacks:
        parts = [("__" if p == ".." else p) for p in Path(s.name).parts if p not in (".", Path(s.name).anchor)]
        rel = Path(*parts)
        stem = rel.name.removesuffix(".gz")
        stem = stem.rsplit(".", 1)[0] if stem.lower().endswith((".mrcs", ".mrc")) else stem
        paths.append(root / rel.with_name(stem + ".mrcs"))
    if len(set(paths)) != len(paths):
        dup = next(p for p in paths if paths.count(p) > 1)
        raise ValueError(f"two stacks of {plan.path} would both be written as {dup}: rename one")
    return paths


def star_names(plan: StarPlan, stacks: list[Path], output_star: str | os.PathLike,
               project: str | os.PathLike | None = None) -> list[str]:
    """How the output STAR names each new stack: relative to the project folder (``project``, else the
    current directory) when the input's stacks were found from it, else to the output STAR's folder;
    absolute when the stack is outside that folder."""
    from_project = any("project" in s.rule for s in plan.stacks)
    base = (Path(project) if project is not None else Path.cwd()) if from_project else Path(output_star).parent
    base = base.resolve()
    names = []
    for p in stacks:
        full = p.resolve() if p.is_absolute() else (Path.cwd() / p).resolve()
        try:
            names.append(full.relative_to(base).as_posix())
        except ValueError:
            names.append(full.as_posix())
    return names


def check_outputs(paths: list[Path], overwrite: bool, inputs: list[Path]) -> None:
    """Refuse before any work: an output that exists (unless ``overwrite``) or is an input."""
    protect = {p.resolve() for p in inputs}
    for p in paths:
        if p.resolve() in protect:
            raise ValueError(f"the output {p} is an input file: choose another output name")
        if p.exists() and not overwrite:
            raise FileExistsError(f"{p} exists: choose another output name or allow overwriting")


def _runs(src: np.ndarray, dst: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """``(src start, dst start, length)`` of the runs where both index arrays step by one, cut at CHUNK."""
    if len(src) == 0:
        return
    breaks = np.flatnonzero((np.diff(src) != 1) | (np.diff(dst) != 1)) + 1
    for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(src)]):
        for lo in range(int(a), int(b), CHUNK):
            yield int(src[lo]), int(dst[lo]), min(CHUNK, int(b) - lo)


def copy_images(source: Path, src: np.ndarray, writer: StackWriter, dst: np.ndarray, name: str = "") -> None:
    """Copy images ``src`` of the stack ``source`` to positions ``dst`` of ``writer``, CHUNK at a time.

    Raises ``ValueError`` naming the first image with NaN or infinite pixels.
    """
    with opened_stack(source, allow_volume=True) as (plain, mrc, data):
        for s0, d0, n in _runs(np.asarray(src), np.asarray(dst)):
            block = read_block(plain, mrc, data, s0, s0 + n)
            bad = ~np.isfinite(block.reshape(n, -1)).all(axis=1)
            if bad.any():
                raise ValueError(f"{name or source}: image {s0 + int(np.flatnonzero(bad)[0]) + 1} holds NaN or "
                                 "infinite pixels; nothing was written")
            writer.write(d0, block)


def gather(plan: StarPlan, keys: np.ndarray, path: Path, pixel_size_A: float | None) -> Path:
    """Write the images ``keys`` ((stack position, index) pairs from
    :meth:`~cdae_lite.io.relion.StarPlan.unique_images`) into one new stack at ``path``, in that order,
    reading each input stack block by block."""
    box = plan.stacks[int(keys[0, 0])].box
    with StackWriter(path, len(keys), box, pixel_size_A) as w:
        for s, at in by_stack(keys[:, 0]).items():
            info = plan.stacks[s]
            copy_images(info.path, keys[at, 1], w, at, info.name)
    return path


def by_stack(stack: np.ndarray) -> dict[int, np.ndarray]:
    """Stack position -> the (ascending) positions in ``stack`` that hold it; one sort, whatever the
    number of stacks (a project's STAR names thousands)."""
    order = np.argsort(stack, kind="stable")
    values, starts = np.unique(stack[order], return_index=True)
    return {int(v): order[a:b] for v, a, b in zip(values, starts, np.r_[starts[1:], len(order)])}


def scatter(plan: StarPlan, parts: list[tuple[np.ndarray, Path]], outputs: list[Path],
            pixel_sizes: dict[int, float | None], size_of: dict[int, int]) -> list[np.ndarray]:
    """Split processed gathered stacks into one new stack per input stack.

    Parameters
    ----------
    parts : per gathered stack, its keys ``(m, 2)`` and the processed file (image j = key j).
    outputs : the new stack of each input stack (:func:`stack_layout`; its folders are created).
    pixel_sizes, size_of : stack position -> pixel size [A] and box size [px] of its new stack.

    Returns
    -------
    list of int64 arrays -- per input stack, the sorted image indices its new stack holds (image j of the
    new stack is input image ``held[j]``).
    """
    held, empty = [], np.zeros(0, np.int64)
    where = [by_stack(keys[:, 0]) for keys, _ in parts]
    for s, out in enumerate(outputs):
        pieces = [(keys[w.get(s, empty), 1], w.get(s, empty), f) for (keys, f), w in zip(parts, where)]
        idx = np.sort(np.concatenate([p[0] for p in pieces]))
        held.append(idx)
        if len(idx) == 0:
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        with StackWriter(out, len(idx), size_of[s], pixel_sizes[s]) as w:
            for index, src, f in pieces:
                copy_images(f, src, w, np.searchsorted(idx, index))
    return held


def output_rows(plan: StarPlan, names: list[str], held: list[np.ndarray],
                columns: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """The input's rows with ``rlnImageName`` = ``NNNNNN@name`` of the new image each row names (RELION's
    1-based index), plus ``columns`` (label -> one value per row)."""
    out = plan.particles.copy()
    new_index = np.empty(len(out), np.int64)
    for s, rows in by_stack(plan.stack).items():
        new_index[rows] = np.searchsorted(held[s], plan.index[rows])
    out["rlnImageName"] = [f"{i + 1:06d}@{names[s]}" for i, s in zip(new_index, plan.stack)]
    for label, values in (columns or {}).items():
        out[label] = values
    return out


def write_relion(path: Path, particles: pd.DataFrame, optics: pd.DataFrame | None) -> Path:
    """Write a particles STAR file as it is (a staged file), floats with 6 decimals.

    Parameters
    ----------
    path : pathlib.Path
        The file to write.
    particles : pandas.DataFrame
        The ``data_particles`` rows.
    optics : pandas.DataFrame or None
        The ``data_optics`` block (RELION 3.1+); ``None`` writes the particles block alone (RELION 3.0).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import starfile

    blocks = ({} if optics is None else {"optics": optics.reset_index(drop=True)})
    blocks["particles"] = particles.reset_index(drop=True)
    starfile.write(blocks, path, float_format="%.6f")
    return path


@contextlib.contextmanager
def staged(output: str | os.PathLike, overwrite: bool = False) -> Iterator["Stage"]:
    """A hidden folder beside ``output`` to write into, published at the end by :meth:`Stage.publish`.

    Parameters
    ----------
    output : str or os.PathLike
        The run's main output (checked by :func:`cdae_lite.io.files.check_target`).
    overwrite : bool, optional
        Let :meth:`Stage.publish` replace existing files.

    Yields
    ------
    Stage
        On error (or Ctrl-C) the folder and anything published are removed.
    """
    output = Path(output)
    parent = output.parent if str(output.parent) else Path(".")
    check_target(output, overwrite)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=parent))
    stage = Stage(tmp, overwrite)
    try:
        yield stage
    except BaseException:
        stage.rollback()
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Stage:
    """Files written under ``folder``, published all together (see :func:`staged`).

    Parameters
    ----------
    folder : pathlib.Path
        The hidden staging folder.
    overwrite : bool
        Whether publishing may replace existing files.
    """

    def __init__(self, folder: Path, overwrite: bool):
        self.folder, self.overwrite = folder, overwrite
        self.published: list[Path] = []
        self.created: list[Path] = []

    def path(self, name: str) -> Path:
        """A file name inside the stage."""
        return self.folder / name

    def publish(self, pairs: list[tuple[Path, Path]]) -> None:
        """Move each staged file to its final path (folders created, no file replaced unless overwrite)."""
        for src, dst in pairs:
            missing = [p for p in [dst.parent, *dst.parent.parents] if not p.exists()]
            for d in reversed(missing):
                d.mkdir()
                self.created.append(d)
            commit(str(src), dst, self.overwrite)
            self.published.append(dst)

    def rollback(self) -> None:
        """Remove what :meth:`publish` made."""
        for p in reversed(self.published):
            with contextlib.suppress(OSError):
                p.unlink()
        for d in reversed(self.created):
            with contextlib.suppress(OSError):
                d.rmdir()


class StarStack:
    """The images a STAR file names as one stack, for a command that works on one stack (``cdae-lite cluster``).

    Made by :func:`star_stack`; the images are gathered on first use of ``path``.

    Parameters
    ----------
    plan : StarPlan
        The checked STAR file.
    folder : pathlib.Path
        Where the gathered stack is written.
    """

    def __init__(self, plan: StarPlan, folder: Path):
        self.plan, self.folder = plan, folder
        self.keys, self.row_to_key = plan.unique_images()
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        """The gathered stack (distinct images in :meth:`~cdae_lite.io.relion.StarPlan.unique_images`
        order; the first group's pixel size in its header)."""
        if self._path is None:
            px = next(iter(self.plan.groups.values())).pixel_size_A
            self._path = gather(self.plan, self.keys, self.folder / "images.mrcs", px)
        return self._path

    @property
    def rules(self) -> str:
        """Which path rule found the stacks (:meth:`~cdae_lite.io.relion.StarPlan.rules`)."""
        return self.plan.rules()

    @property
    def optics(self) -> pd.DataFrame | None:
        """The input's optics block (None for a RELION 3.0 file)."""
        return self.plan.optics

    def image_rows(self) -> pd.DataFrame:
        """One row per gathered image (the first row that names it), in :attr:`path`'s order, with its optics
        group's ``rlnVoltage``, ``rlnSphericalAberration`` and ``rlnAmplitudeContrast`` added, so that each
        image's CTF can be computed from its own row (several optics groups included)."""
        first = np.unique(self.row_to_key, return_index=True)[1]
        out = self.plan.particles.iloc[first].reset_index(drop=True)
        optics = [self.plan.groups[int(g)].as_optics() for g in self.plan.group[first]]
        for label in ("rlnVoltage", "rlnSphericalAberration", "rlnAmplitudeContrast"):
            if all(label in o for o in optics):
                out[label] = [o[label] for o in optics]
        return out

    def rows(self, columns: dict[str, np.ndarray]) -> pd.DataFrame:
        """The input's rows (duplicates included) with ``columns``: label -> one value per gathered image."""
        out = self.plan.particles.copy()
        for label, values in columns.items():
            out[label] = np.asarray(values)[self.row_to_key]
        return out


@contextlib.contextmanager
def star_stack(input_path: str | os.PathLike, project: str | os.PathLike | None = None,
               near: str | os.PathLike = ".", star: str | None = None) -> Iterator[StarStack | None]:
    """For a STAR file input, its images as one :class:`StarStack`; for a stack input, ``None``.

    All its optics groups must share one box size and (within 1%) one pixel size, since their images
    are compared with each other.

    Parameters
    ----------
    input_path : str or os.PathLike
        The command's input: a ``.star`` file or a stack.
    project : str or os.PathLike, optional
        The RELION project folder (STAR inputs only).
    near : str or os.PathLike, optional
        The output; the hidden folder of the gathered stack is made beside it and removed at the end.
    star : str, optional
        A ``--star`` given with the input (refused for a STAR input).

    Yields
    ------
    StarStack or None

    Raises
    ------
    ValueError, FileNotFoundError
        As :func:`~cdae_lite.io.relion.plan_star`; mixed box or pixel sizes; ``project`` or ``star`` given
        with the wrong kind of input.
    """
    from cdae_lite.io.relion import is_star, plan_star

    if not is_star(input_path):
        if project is not None:
            raise ValueError("--relion-project applies to a STAR file input, not to a stack")
        yield None
        return
    if star is not None:
        raise ValueError("--star pairs rows with a stack input; a STAR file input carries its own rows")
    plan = plan_star(input_path, project)
    if len(plan.box_sizes()) > 1:
        raise ValueError(f"{input_path}: its optics groups hold images of {' and '.join(map(str, plan.box_sizes()))} "
                         "px, which cannot be clustered together: split it by rlnOpticsGroup, or make one size "
                         "with cdae-lite denoise --resample N first")
    px = [g.pixel_size_A for g in plan.groups.values() if g.pixel_size_A]
    if px and max(px) > 1.01 * min(px):
        raise ValueError(f"{input_path}: its optics groups have pixel sizes {min(px):g} to {max(px):g} A, which "
                         "cannot be clustered together: split it by rlnOpticsGroup")
    parent = Path(near).parent if str(Path(near).parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"the output directory {parent} does not exist")
    folder = Path(tempfile.mkdtemp(prefix=".cdae-star.", suffix=".tmp", dir=parent))
    try:
        yield StarStack(plan, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
