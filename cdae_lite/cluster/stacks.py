"""Clustering a whole stack: in memory for pixels and 2D alignment, streamed otherwise.

:func:`cluster_path` is the library behind ``cdae-lite cluster``: it picks the streamed path
(:func:`~cdae_lite.cluster.stream.cluster_file`, bounded memory) for k-means and Ward on principal
components, and :func:`cluster_stack` (the whole stack in memory) for pixels or alignment.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from functools import partial

import numpy as np
import pandas as pd
import torch.nn as nn

from cdae_lite.cluster.align import align_classify
from cdae_lite.cluster.methods import check_k, class_averages, flatten, hierarchical, kmeans
from cdae_lite.cluster.ml2d import ml2d_classify, ml2d_denoised_start
from cdae_lite.cluster.refine import refine_file
from cdae_lite.cluster.stream import ClusterReport, cluster_file
from cdae_lite.denoise.inference import Negated, predict
from cdae_lite.images import check_images, evenly_spaced, particle_polarity
from cdae_lite.io.blocks import opened_stack
from cdae_lite.io.mrc import read_stack
from cdae_lite.io.star import image_indices, image_names
from cdae_lite.runtime import peak_rss_mb

METHODS = ("kmeans", "hierarchical", "align", "ml2d")


def choose_method(particles: pd.DataFrame | None) -> str:
    """The default clustering method for a stack described by STAR rows.

    Parameters
    ----------
    particles : pandas.DataFrame or None
        The stack's STAR rows (None: no STAR file).

    Returns
    -------
    str
        ``"ml2d"`` when the rows say the particles are rotated in plane (``rlnAnglePsi``, degrees, takes
        more than 36 distinct whole-degree values), else ``"kmeans"`` (the paper's unrotated views).
    """
    if particles is not None and "rlnAnglePsi" in particles.columns:
        if particles["rlnAnglePsi"].round().nunique() > 36:
            return "ml2d"
    return "kmeans"


def star_ctf_images(particles: pd.DataFrame, optics: dict, n_images: int, size: int, pixel_size_A: float,
             stack_name: str, by_position: bool = False) -> np.ndarray | None:
    """Each image's CTF from the STAR columns rlnDefocusU/V (Angstrom) and rlnDefocusAngle (degrees) and
    the optics' rlnVoltage (kV), rlnSphericalAberration (mm) and rlnAmplitudeContrast.

    Parameters
    ----------
    particles : pandas.DataFrame or None
        STAR rows, paired with images by ``rlnImageName`` (or by position).
    optics : dict
        The optics group's values; per-row ``rlnVoltage``, ``rlnSphericalAberration`` and
        ``rlnAmplitudeContrast`` columns of ``particles`` (several optics groups) take precedence, and
        RELION's defaults (300 kV, 2.7 mm, 0.1) fill what neither gives.
    n_images, size : int
        The stack's number of images and box size, pixels.
    pixel_size_A : float
        Angstrom per pixel.
    stack_name : str
        The stack's file name, as the rows' ``rlnImageName`` give it.
    by_position : bool
        Row i describes image i.

    Returns
    -------
    ndarray (n_images, size, size) float32 or None
        Each image's CTF, zero frequency at ``(size // 2, size // 2)`` (images no row names get 1), or
        None when there are no rows or they have no rlnDefocusU.

    Raises
    ------
    ValueError
        Rows that :func:`~cdae_lite.io.star.image_indices` cannot pair with the stack's images.
    """
    from cdae_lite.simulation.ctf import ctf_2d

    if particles is None or "rlnDefocusU" not in particles.columns:
        return None
    idx = np.arange(len(particles)) if by_position else image_indices(particles, stack_name, n_images)
    du = particles["rlnDefocusU"].to_numpy(np.float64)
    dv = particles.get("rlnDefocusV", particles["rlnDefocusU"]).to_numpy(np.float64)
    ang = particles.get("rlnDefocusAngle", pd.Series(np.zeros(len(particles)))).to_numpy(np.float64)
    # per-row optics columns (several optics groups) before the optics block's values, then RELION's defaults
    lens = np.stack([particles[c].to_numpy(np.float64) if c in particles.columns else
                     np.full(len(particles), float(optics.get(c, d)))
                     for c, d in (("rlnVoltage", 300.0), ("rlnSphericalAberration", 2.7),
                                  ("rlnAmplitudeContrast", 0.1))], axis=1)
    out = np.ones((n_images, size, size), np.float32)
    for values in np.unique(lens, axis=0):  # one CTF computation per optics group
        rows = np.flatnonzero((lens == values).all(axis=1))
        out[idx[rows]] = ctf_2d(size, pixel_size_A, du[rows], dv[rows], ang[rows], *map(float, values)).numpy()
    return out


def cluster_stack(images: np.ndarray, k: int, method: str = "kmeans", model: nn.Module | None = None,
                  seed: int = 0, device=None) -> np.ndarray:
    """Labels of a stack held in memory, clustered on its pixels.

    Parameters
    ----------
    images : array (n, size, size)
        The stack, any units.
    k : int
        The number of classes, 1 <= k <= n.
    method : str
        ``"kmeans"``, ``"hierarchical"`` (Ward), ``"align"`` (alignment-aware 2D classification) or
        ``"ml2d"`` (maximum likelihood, for images rotated in plane).
    model : torch.nn.Module, optional
        A denoiser applied first (its outputs are clustered; with ``"ml2d"`` they only start EM on the
        raw images: :func:`~cdae_lite.cluster.ml2d.ml2d_denoised_start`), or None.
    seed : int
        Seeds k-means, the alignment or ML2D.
    device : str or torch.device, optional
        Where the model and ML2D run.

    Returns
    -------
    ndarray (n,) int64
        The class of each image, in ``0..k-1``.

    Raises
    ------
    ValueError
        Images that :func:`~cdae_lite.images.check_images` refuses, ``k`` outside 1..n, or an unknown
        ``method``.
    """
    x = check_images(images)
    check_k(len(x), k)
    if method not in METHODS:
        raise ValueError(f"unknown clustering method {method!r}: use one of {', '.join(METHODS)}")
    if method == "ml2d":  # a denoiser gives ML2D of the raw images a start only (see ml2d_denoised_start)
        return (ml2d_classify(x, k, seed=seed, device=device) if model is None else
                ml2d_denoised_start(x, k, partial(predict, model, device=device), seed=seed, device=device)).labels
    src = x if model is None else predict(model, x, device=device)
    if method == "align":
        return align_classify(src, k, seed=seed)[0]
    f = flatten(src)
    return kmeans(f, k, seed) if method == "kmeans" else hierarchical(f, k)


def cluster_path(path: str | os.PathLike, k: int, n_components: int = 10, method: str = "kmeans",
                 model: nn.Module | None = None, seed: int = 0, device=None, refine_with: nn.Module | None = None,
                 max_iter: int = 20, as_stack: bool = False, invert: bool | None = None,
                 star: tuple | None = None) -> ClusterReport:
    """Cluster the stack in a file: streamed on principal components, or in memory on pixels or by alignment.

    With ``refine_with`` (a denoiser; not for ``"align"``), the labels are then refined against
    denoised class averages until they stop changing (:mod:`cdae_lite.cluster.refine`, one pass over
    the file per round). With both ``model`` and ``refine_with``, the loop runs from the clusters of
    the denoised images and from those of the raw images, and keeps the labels whose images correlate
    best with their references (so denoising first can only help that score).

    The denoisers were trained on bright particles: when the particles are dark on a lighter background
    (``invert``; default: detected on 256 images spread over the stack,
    :func:`~cdae_lite.images.particle_polarity`), every image is negated before a denoiser and negated
    back after it (:class:`~cdae_lite.denoise.inference.Negated`); the class averages are always of
    the input images as they are.

    ``method=None`` chooses with :func:`~cdae_lite.cluster.stacks.choose_method` from ``star``
    = ``(particles, optics, by_position)`` (the stack's STAR rows): ``"ml2d"`` for particles rotated in
    plane, which uses each image's CTF (:func:`star_ctf_images`) and returns its CTF-corrected class references.

    Parameters
    ----------
    path : str or PathLike
        An MRC stack (``.mrcs``/``.mrc``, or gzipped), (n, size, size).
    k : int
        The number of classes, 1 <= k <= n.
    n_components : int
        Principal components clustered on the streamed path; 0: pixels, in memory.
    method : str or None
        ``"kmeans"``, ``"hierarchical"`` (Ward), ``"align"``, ``"ml2d"``, or None to choose from ``star``.
    model : torch.nn.Module, optional
        A denoiser applied before clustering (its outputs are clustered; with ``"ml2d"`` they only start
        EM on the raw images, and the likelier run is kept).
    seed : int
        Seeds k-means, the PCA, the alignment or ML2D.
    device : str or torch.device, optional
        Where the denoisers and ML2D run.
    refine_with : torch.nn.Module, optional
        The denoiser of the class averages in the refinement loop (None: no refinement).
    max_iter : int
        At most this many refinement rounds.
    as_stack : bool
        Read a file flagged as a cubic 3D map as a stack anyway.
    invert : bool, optional
        Whether the particles are dark (negated around the denoisers); None: detected.
    star : tuple, optional
        ``(particles DataFrame, optics dict, by_position bool)`` of the stack's STAR file.

    Returns
    -------
    ClusterReport
        The labels and the class averages of the input images (``scores`` is empty for the in-memory
        path; ``refinement`` is set when the loop ran, ``inverted`` when the particles were negated).

    Raises
    ------
    ValueError
        ``k`` outside 1..n, an unknown ``method``, a negative ``n_components``, or a file that cannot be
        read as a stack (NaN or infinite pixels included).
    FileNotFoundError
        No file at ``path``.
    """
    star = star or (None, {}, False)
    method = choose_method(star[0]) if method is None else method
    if method == "ml2d":
        return _ml2d_path(path, k, star, model, seed, device, as_stack, invert)
    if n_components < 0:
        raise ValueError(f"n_components must be 0 (pixels) or more, got {n_components}")
    if (model is not None or refine_with is not None) and _dark(path, as_stack, invert):
        model, refine_with = (None if m is None else Negated(m) for m in (model, refine_with))
        return replace(cluster_path(path, k, n_components, method, model, seed, device, refine_with, max_iter,
                                    as_stack, invert=False), inverted=True)
    if refine_with is not None and method not in ("align", "ml2d"):
        return _refined(path, k, n_components, method, model, seed, device, refine_with, max_iter, as_stack)
    if method not in ("align", "ml2d") and n_components > 0:
        return cluster_file(path, k, n_components, method, model=model, seed=seed, device=device, as_stack=as_stack)
    return _whole_stack(path, k, as_stack, partial(_pixels, k=k, method=method, model=model, seed=seed, device=device))


def _dark(path, as_stack: bool, invert: bool | None) -> bool:
    """``invert`` when given, else whether the particles are dark (on 256 images spread over the stack)."""
    if invert is not None:
        return invert
    with opened_stack(path, as_stack) as (_, _, data):
        return particle_polarity(np.asarray(data[evenly_spaced(data.shape[0], 256)], np.float32))[0] == "dark"


def _refined(path, k: int, n_components: int, method: str, model, seed: int, device, refine_with, max_iter: int,
             as_stack: bool) -> ClusterReport:
    """The refinement loop from the clusters of the denoised images (with ``model``) and of the raw ones; the
    run whose images correlate best with their references wins. ``model`` and ``refine_with`` come oriented
    for the particles' polarity (wrapped in :class:`~cdae_lite.denoise.inference.Negated` for dark ones)."""
    t0 = time.perf_counter()  # the caller has oriented the models already (invert=False: no second Negated)
    starts = [cluster_path(path, k, n_components, method, m, seed, device, as_stack=as_stack, invert=False)
              for m in ([model, None] if model is not None else [None])]
    runs = [refine_file(path, r.labels, k, refine_with, max_iter, device, as_stack=as_stack) for r in starts]
    best = int(np.argmax([r.mean_correlation[-1] for r in runs]))
    return replace(starts[best], labels=runs[best].labels, averages=runs[best].averages,
                   seconds=time.perf_counter() - t0, peak_rss_mb=peak_rss_mb(), refinement=runs[best])


def _whole_stack(path, k: int, as_stack: bool, classify) -> ClusterReport:
    """Read the whole stack and classify it in memory: ``classify(images, pixel_size_A)`` gives
    ``(labels (n,) int64, averages (k, size, size) float32)``."""
    t0 = time.perf_counter()
    x, px = read_stack(path, allow_volume=as_stack)
    labels, averages = classify(x, px)
    return ClusterReport(n_images=len(x), k=k, labels=labels, scores=np.empty((len(x), 0), np.float32),
                         averages=averages, pixel_size_A=px, seconds=time.perf_counter() - t0,
                         peak_rss_mb=peak_rss_mb())


def _ml2d_path(path, k: int, star: tuple, model, seed: int, device, as_stack: bool, invert: bool | None) -> ClusterReport:
    """:func:`cluster_path` with ML2D: the whole stack, each image's CTF from ``star``, the denoiser ``model``
    (negated around for dark particles) giving one more start."""
    dark = model is not None and _dark(path, as_stack, invert)
    report = _whole_stack(path, k, as_stack, partial(_ml2d_star, k=k, star=star, stack_name=os.path.basename(path),
                                                     seed=seed, device=device, model=Negated(model) if dark else model))
    return replace(report, inverted=dark)


def _ml2d_star(x: np.ndarray, px: float | None, *, k: int, star: tuple, stack_name: str, seed: int, device,
               model=None):
    """ML2D's labels and CTF-corrected references, each image's CTF from the STAR rows ``star``; with a
    denoiser ``model``, its outputs give one more start (:func:`~cdae_lite.cluster.ml2d.ml2d_denoised_start`)."""
    particles, optics, by_position = star
    ctf = star_ctf_images(particles, optics, len(x), x.shape[-1], px or 1.0, stack_name, by_position)
    res = (ml2d_classify(x, k, ctf, seed=seed, device=device) if model is None else
           ml2d_denoised_start(x, k, partial(predict, model, device=device), ctf, seed=seed, device=device))
    return res.labels, res.averages


def _pixels(x: np.ndarray, px: float | None, *, k: int, method: str, model, seed: int, device):
    """:func:`cluster_stack`'s labels and the class averages of the input images."""
    labels = cluster_stack(x, k, method, model, seed, device)
    return labels, class_averages(x, labels, k)


def labels_table(labels: np.ndarray, stack_name: str, particles: pd.DataFrame | None = None,
                 by_position: bool = False) -> pd.DataFrame:
    """The STAR particles table of a clustering: ``particles`` (or ``rlnImageName`` rows ``i@stack_name``)
    with ``rlnClassNumber`` = label + 1 (RELION counts classes from 1).

    Each row of ``particles`` gets the label of the image its ``rlnImageName`` names
    (:func:`~cdae_lite.io.star.image_indices`), whatever the rows' order; a row naming another stack
    raises ``ValueError``.

    Parameters
    ----------
    labels : array (n,) int
        Each image's class, in ``0..k-1``.
    stack_name : str
        The stack's file name (as ``rlnImageName`` gives it).
    particles : pandas.DataFrame, optional
        The stack's STAR rows; None: one new row per image.
    by_position : bool
        Row i gets image i's label (for a stack made image by image from the one the STAR file names,
        such as a denoised copy; the numbers of rows and images must match).

    Returns
    -------
    pandas.DataFrame
        The rows with an int column ``rlnClassNumber`` in ``1..k``.

    Raises
    ------
    ValueError
        Rows that name another stack or an index outside ``1..n``, or (``by_position``) a number of rows
        other than the number of labels.
    """
    if particles is None:
        out = pd.DataFrame({"rlnImageName": image_names(len(labels), stack_name)})
        idx = np.arange(len(labels))
    elif by_position:
        if len(particles) != len(labels):
            raise ValueError(f"{len(particles)} STAR rows for {len(labels)} images: cannot pair them by position")
        out, idx = particles.copy(), np.arange(len(labels))
    else:
        out, idx = particles.copy(), image_indices(particles, stack_name, len(labels))
    out["rlnClassNumber"] = np.asarray(labels)[idx] + 1
    return out
