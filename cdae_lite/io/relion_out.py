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
    """The new stack of each input stack, in ``plan.stacks`` order (the layout of the module docstring).

    Parameters
    ----------
    plan : StarPlan
        The checked input STAR file.
    output_star : str or os.PathLike
        The output STAR file; the new stacks go under the folder of its name without suffix.

    Returns
    -------
    list of pathlib.Path
        One ``.mrcs`` path per input stack.

    Raises
    ------
    ValueError
        When two input stacks would map to one output name.
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
    """How the output STAR names each new stack.

    Relative to the project folder (``project``, else the current directory) when the input's stacks
    were found from it, else to the output STAR's folder; absolute when the stack is outside that folder.

    Parameters
    ----------
    plan : StarPlan
        The checked input STAR file (its stacks' path rules).
    stacks : list of pathlib.Path
        The new stacks (:func:`stack_layout`).
    output_star : str or os.PathLike
        The output STAR file.
    project : str or os.PathLike, optional
        The RELION project folder.

    Returns
    -------
    list of str
        One name per stack, POSIX separators.
    """
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
    """Refuse before any work: an output that exists (unless ``overwrite``) or is an input.

    Parameters
    ----------
    paths : list of pathlib.Path
        The outputs.
    overwrite : bool
        Allow existing outputs to be replaced.
    inputs : list of pathlib.Path
        The input files (the STAR file and its stacks).

    Raises
    ------
    ValueError, FileExistsError
        An output is an input; an output exists.
    """
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

    Parameters
    ----------
    source : pathlib.Path
        The stack to read.
    src : numpy.ndarray
        ``(m,)`` 0-based indices of the images to copy.
    writer : StackWriter
        The open output stack.
    dst : numpy.ndarray
        ``(m,)`` where each image goes in the output.
    name : str, optional
        The stack's name for error messages (default: ``source``).

    Raises
    ------
    ValueError
        Naming the first image with NaN or infinite pixels.
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
    """Write chosen images of the input stacks into one new stack, in order, block by block.

    Parameters
    ----------
    plan : StarPlan
        The checked input STAR file.
    keys : numpy.ndarray
        ``(m, 2)`` int (stack position, image index) pairs, e.g. from
        :meth:`~cdae_lite.io.relion.StarPlan.unique_images`; image j of the new stack is key j.
    path : pathlib.Path
        The new stack.
    pixel_size_A : float or None
        Pixel size for its header, Angstrom.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    box = plan.stacks[int(keys[0, 0])].box
    with StackWriter(path, len(keys), box, pixel_size_A) as w:
        for s, at in by_stack(keys[:, 0]).items():
            info = plan.stacks[s]
            copy_images(info.path, keys[at, 1], w, at, info.name)
    return path


def by_stack(stack: np.ndarray) -> dict[int, np.ndarray]:
    """Stack position -> the (ascending) positions in ``stack`` that hold it.

    One sort, whatever the number of stacks (a project's STAR names thousands).

    Parameters
    ----------
    stack : numpy.ndarray
        ``(rows,)`` int stack position of each row or key.

    Returns
    -------
    dict of int to numpy.ndarray
        ``{stack position: int64 positions}``.
    """
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
    """The input's rows pointing at the new images.

    Parameters
    ----------
    plan : StarPlan
        The checked input STAR file.
    names : list of str
        How the output STAR names each new stack (:func:`star_names`).
    held : list of numpy.ndarray
        Per input stack, the sorted image indices its new stack holds (:func:`scatter`).
    columns : dict of str to numpy.ndarray, optional
        Labels to add, one value per row.

    Returns
    -------
    pandas.DataFrame
        The rows, in order, duplicates included, with ``rlnImageName`` = ``NNNNNN@name`` (RELION's
        1-based index) of the new image each row names.
    """
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
