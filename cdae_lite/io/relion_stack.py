"""A STAR file's images as one stack, for a command that works on one stack (``cdae-lite cluster``).

:func:`star_stack` checks the STAR file (:func:`cdae_lite.io.relion.plan_star`) and gathers the distinct
images it names into one stack in a hidden folder (:func:`cdae_lite.io.relion_out.gather`); results per
image are spread back onto the STAR's rows (duplicates included) by :meth:`StarStack.rows`.
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

from cdae_lite.io.relion import StarPlan
from cdae_lite.io.relion_out import gather


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
