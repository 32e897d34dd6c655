"""Denoising every image a RELION particles STAR file names, into new stacks and a new STAR file.

:func:`denoise_star` is ``cdae-lite denoise particles.star -o denoised.star``. Per optics group, the
images the STAR names are gathered (block by block) into one temporary stack, denoised by
:func:`~cdae_lite.denoise.stream.denoise_file` (polarity, calibration and the stack-aware mode then see
the whole group), and split into one new stack per input stack; layout and naming are those of
:mod:`cdae_lite.io.relion_out`. Memory stays that of one block; the temporary files take about twice
the output's size on disk beside the output STAR while the run lasts.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch.nn as nn

from cdae_lite.denoise.preprocess import star_ctfs
from cdae_lite.denoise.stream import StreamReport, denoise_file
from cdae_lite.distributed import launched
from cdae_lite.io.files import check_name
from cdae_lite.io.relion import StarPlan, is_star, plan_star
from cdae_lite.io.relion_out import (check_outputs, gather, output_rows, scatter, stack_layout, staged, star_names,
                                     write_relion)


@dataclass
class StarReport:
    """What :func:`denoise_star` did: per optics group, the report of its denoising.

    Attributes
    ----------
    rows : int
        The input STAR file's particle rows.
    images : int
        The distinct images denoised (rows naming the same image count once).
    stacks : list of Path
        The new stacks, one per input stack.
    output : Path
        The new STAR file.
    rules : str
        The path rule that found the input's stacks.
    groups : dict of int to StreamReport
        Optics group number -> the report of :func:`~cdae_lite.denoise.stream.denoise_file` on its images.
    seconds : float
        Wall-clock time of the run.
    """

    rows: int
    images: int
    stacks: list[Path]
    output: Path
    rules: str
    groups: dict[int, StreamReport]
    seconds: float

    def summary(self) -> str:
        """One line for the command line: images, stacks, time, each group's polarity and contrast, outputs.

        Returns
        -------
        str
            The line, without a newline.
        """
        how = "; ".join(f"optics group {g}: {r.n_images} images of {r.image_size} px, particles {r.polarity}"
                        + (f", contrast x{r.scale:.2f}" if r.scale != 1.0 else "") for g, r in self.groups.items())
        folder = self.stacks[0].parent if len(self.stacks) == 1 else os.path.commonpath(self.stacks)
        return (f"denoised {self.images} images ({self.rows} STAR rows) of {len(self.stacks)} stacks in "
                f"{self.seconds:.1f} s ({how}; {self.rules}) -> {self.output} + {len(self.stacks)} stacks under "
                f"{folder}")


def output_optics(plan: StarPlan, resample: int | None):
    """The output's optics: the input's, with box and pixel size changed by ``resample`` (RELION 3.0: the
    per-row ``rlnImagePixelSize``/``rlnMagnification`` and the pixel origins ``rlnOriginX/Y``).

    Parameters
    ----------
    plan : StarPlan
        The checked input STAR file (:func:`~cdae_lite.io.relion.plan_star`).
    resample : int or None
        The output's box size, pixels; None or 0: the input's.

    Returns
    -------
    optics : pandas.DataFrame or None
        A copy of the optics block with ``rlnImageSize`` (pixels) and ``rlnImagePixelSize`` (Angstrom)
        changed, or None for a RELION 3.0 file.
    particles : pandas.DataFrame
        A copy of the particle rows (with pixel sizes, magnifications and origins rescaled for a RELION
        3.0 file).
    """
    optics, parts = (None if plan.optics is None else plan.optics.copy()), plan.particles.copy()
    if not resample:
        return optics, parts
    if optics is not None:
        for g, info in plan.groups.items():
            at = optics["rlnOpticsGroup"].astype(int) == g
            optics.loc[at, "rlnImageSize"] = resample
            if info.pixel_size_A:
                optics.loc[at, "rlnImagePixelSize"] = info.pixel_size_A * info.image_size / resample
        return optics, parts
    factor = np.array([plan.groups[int(g)].image_size / resample for g in plan.group])  # new px / old px
    if "rlnImagePixelSize" in parts:
        parts["rlnImagePixelSize"] = parts["rlnImagePixelSize"].astype(float) * factor
    if "rlnMagnification" in parts and "rlnDetectorPixelSize" in parts:
        parts["rlnMagnification"] = parts["rlnMagnification"].astype(float) / factor
    for col in ("rlnOriginX", "rlnOriginY"):
        if col in parts:
            parts[col] = parts[col].astype(float) / factor
    return optics, parts


def group_ctfs(plan: StarPlan, group: int, size: int | None = None) -> np.ndarray:
    """The CTF of each distinct image of an optics group, in the order of ``plan.unique_images([group])``
    (each image's first row), at box ``size`` (default: the group's; the pixel size follows a resampling).

    Returns
    -------
    ndarray (m, size, size) float32
        ``fftshift`` layout (:func:`~cdae_lite.denoise.preprocess.star_ctfs`).

    Raises
    ------
    ValueError
        A group without a pixel size or without defocus columns.
    """
    info = plan.groups[group]
    if not info.pixel_size_A:
        raise ValueError(f"optics group {group} has no pixel size: its CTFs cannot be computed")
    keys, row_to_key = plan.unique_images([group])
    rows = np.flatnonzero(row_to_key >= 0)
    first = np.empty(len(keys), np.int64)
    first[row_to_key[rows[::-1]]] = rows[::-1]  # the first row of each image
    optics = {"rlnVoltage": info.voltage_kV, "rlnSphericalAberration": info.cs_mm,
              "rlnAmplitudeContrast": info.amplitude_contrast}
    size = size or info.image_size
    return star_ctfs(size, info.pixel_size_A * info.image_size / size, plan.particles.iloc[first],
                     {k: v for k, v in optics.items() if v is not None})


def denoise_star(model: nn.Module, star_path: str | os.PathLike, output_path: str | os.PathLike,
                 project: str | os.PathLike | None = None, overwrite: bool = False,
                 resample: int | None = None, **options) -> StarReport:
    """Denoise every image a particles STAR file names; write one new stack per input stack and a STAR.

    Parameters
    ----------
    model : torch.nn.Module
        A cdae-lite denoiser.
    star_path : str or PathLike
        RELION 3.0 or 3.1+ particles STAR file (:func:`~cdae_lite.io.relion.plan_star`); never modified,
        nor any stack it names.
    output_path : str or PathLike
        The new STAR file (``.star``); its stacks go under the folder of the same name without ``.star``
        (:mod:`cdae_lite.io.relion_out`).
    project : str or PathLike, optional
        RELION project folder the image names are relative to (default: the current directory, then
        the STAR file's folder).
    overwrite : bool
        Replace existing outputs.
    resample : int, optional
        Box size, pixels, to Fourier-resample every group to (pixel sizes in the output STAR follow).
    **options
        Passed to :func:`~cdae_lite.denoise.stream.denoise_file` for each optics group (``batch_size``,
        ``device``, ``invert``, ``calibrate``, ``stack_aware``, ``equalize``, ...).

    Returns
    -------
    StarReport
        What was written, with each optics group's report.

    Raises
    ------
    FileNotFoundError, FileExistsError, ValueError
        Everything :func:`~cdae_lite.io.relion.plan_star` refuses, an existing output, an output that is
        an input, an output not named ``*.star``, a launch by torchrun. All checked before any work;
        nothing is written on any error.
    """
    t0 = time.perf_counter()
    check_name(output_path)
    output_path = Path(output_path)
    if output_path.suffix.lower() != ".star":
        raise ValueError(f"a STAR file input gives a STAR file output: name it *.star, not {output_path}")
    if launched():
        raise ValueError("a STAR file input runs in one process: launch it without torchrun")
    plan = plan_star(star_path, project)
    finals = stack_layout(plan, output_path)
    check_outputs([output_path, *finals], overwrite, [plan.path, *(s.path for s in plan.stacks)])
    names = star_names(plan, finals, output_path, project)
    reports = {}
    with staged(output_path, overwrite) as stage:
        staged_stacks = [stage.folder / p.relative_to(output_path.parent) for p in finals]
        parts, pixel_sizes, sizes = [], {}, {}
        for g, info in plan.groups.items():
            keys, _ = plan.unique_images([g])
            src = gather(plan, keys, stage.path(f"group{g}_in.mrcs"), info.pixel_size_A)
            den = stage.path(f"group{g}_out.mrcs")
            aware = options.get("stack_aware")
            ctfs = group_ctfs(plan, g, resample) if aware is not None and aware.ctf_aware else None
            reports[g] = denoise_file(model, src, den, overwrite=False, resample=resample, ctfs=ctfs, **options)
            src.unlink()
            parts.append((keys, den))
            out_px = info.pixel_size_A and info.pixel_size_A * info.image_size / (resample or info.image_size)
            for s in np.unique(keys[:, 0]).tolist():
                pixel_sizes.setdefault(s, out_px)
                sizes.setdefault(s, resample or info.image_size)
        held = scatter(plan, parts, staged_stacks, pixel_sizes, sizes)
        optics, particles = output_optics(plan, resample)
        plan_out = StarPlan(plan.path, particles, optics, plan.stacks, plan.stack, plan.index, plan.group, plan.groups)
        star_tmp = write_relion(stage.path("out.star"), output_rows(plan_out, names, held), optics)
        stage.publish([*zip(staged_stacks, finals), (star_tmp, output_path)])
    images = sum(len(h) for h in held)
    return StarReport(rows=len(plan.particles), images=images, stacks=finals, output=output_path, rules=plan.rules(),
                      groups=reports, seconds=time.perf_counter() - t0)


def denoise_path(model: nn.Module, input_path: str | os.PathLike, output_path: str | os.PathLike,
                 project: str | os.PathLike | None = None, as_stack: bool = False, **options):
    """:func:`denoise_star` for a STAR file input (``*.star``), else
    :func:`~cdae_lite.denoise.stream.denoise_file` (``as_stack`` applies to it).

    Parameters
    ----------
    model : torch.nn.Module
        A cdae-lite denoiser.
    input_path : str or PathLike
        A particles STAR file or an MRC stack.
    output_path : str or PathLike
        The new STAR file, or the new stack.
    project : str or PathLike, optional
        RELION project folder (a STAR file input only).
    as_stack : bool
        Read a file flagged as a cubic 3D map as a stack anyway (a stack input only).
    **options
        Passed to :func:`denoise_star` or :func:`~cdae_lite.denoise.stream.denoise_file`.

    Returns
    -------
    StarReport or StreamReport
        The report of the function that ran.

    Raises
    ------
    FileNotFoundError, FileExistsError, ValueError
        What either function refuses, or ``project`` given with a stack input.
    """
    if is_star(input_path):
        return denoise_star(model, input_path, output_path, project, **options)
    if project is not None:
        raise ValueError("--relion-project applies to a STAR file input, not to a stack")
    if options.get("stack_aware") is not None and options["stack_aware"].ctf_aware:
        raise ValueError("--ctf-aware needs each particle's CTF: give a RELION particles STAR file, not a stack")
    return denoise_file(model, input_path, output_path, as_stack=as_stack, **options)


def external_job(job_dir: str | os.PathLike, in_parts: str | os.PathLike, model: str = "general",
                 **options) -> StarReport:
    """A RELION External job: denoise the particles ``in_parts`` into the job folder ``job_dir``.

    Writes ``job_dir/particles.star`` and its stacks under ``job_dir/particles/`` (names relative to the
    project folder, the current directory RELION runs jobs in), ``RELION_OUTPUT_NODES.star`` naming the
    STAR as a particles node (RELION 3.1's type 3 and RELION 4/5's label), then
    ``RELION_JOB_EXIT_SUCCESS``; on any error ``RELION_JOB_EXIT_FAILURE`` (and the error is raised).

    Parameters
    ----------
    job_dir : str or PathLike
        The job folder (RELION's ``--o``; created if missing).
    in_parts : str or PathLike
        The input particles STAR file (RELION's ``--in_parts``).
    model : str
        ``"general"``, ``"cdae"`` or a checkpoint path (:func:`~cdae_lite.denoise.checkpoint.load_denoiser`);
        its contrast is calibrated when its recorded gain departs from 1 by more than 0.1.
    **options
        Passed to :func:`denoise_star`.

    Returns
    -------
    StarReport
        As :func:`denoise_star` gives it.

    Raises
    ------
    FileNotFoundError, FileExistsError, ValueError
        No ``in_parts``, and what :func:`~cdae_lite.denoise.checkpoint.load_model` and
        :func:`denoise_star` refuse (after ``RELION_JOB_EXIT_FAILURE`` is written).
    """
    import pandas as pd

    from cdae_lite.denoise.checkpoint import load_denoiser, recorded_gain

    job = Path(job_dir)
    job.mkdir(parents=True, exist_ok=True)
    for marker in ("RELION_JOB_EXIT_SUCCESS", "RELION_JOB_EXIT_FAILURE"):
        (job / marker).unlink(missing_ok=True)  # a rerun starts unjudged
    try:
        if not in_parts:
            raise ValueError("no input particles: give --in_parts (the particles STAR file)")
        net, meta, _ = load_denoiser(model)
        gain = recorded_gain(meta)
        options.setdefault("calibrate", gain is not None and abs(gain - 1) > 0.1)
        out = job / "particles.star"
        report = denoise_star(net, in_parts, out, **options)
        nodes = pd.DataFrame({"rlnPipeLineNodeName": [out.as_posix()], "rlnPipeLineNodeType": [3],
                              "rlnPipeLineNodeTypeLabel": ["ParticleGroupMetadata.star.cdae"]})
        write_relion_nodes(job / "RELION_OUTPUT_NODES.star", nodes)
    except BaseException:
        (job / "RELION_JOB_EXIT_FAILURE").touch()
        raise
    (job / "RELION_JOB_EXIT_SUCCESS").touch()
    return report


def write_relion_nodes(path: Path, nodes) -> None:
    """Write RELION's ``data_output_nodes`` table, replacing any file at ``path``.

    Parameters
    ----------
    path : Path
        The file, e.g. ``job_dir/RELION_OUTPUT_NODES.star``.
    nodes : pandas.DataFrame
        One row per output node, columns ``rlnPipeLineNodeName`` and ``rlnPipeLineNodeType`` (and
        RELION 4/5's ``rlnPipeLineNodeTypeLabel``).
    """
    import starfile

    starfile.write({"output_nodes": nodes}, path, overwrite=True)
