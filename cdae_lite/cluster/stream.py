"""Clustering stacks larger than memory.

:func:`cluster_file` fits an incremental PCA block by block, keeps only the principal-component scores
(n x 10 floats: 40 MB for a million images), clusters them with k-means and accumulates the class
averages in a last pass.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np
import torch.nn as nn

from cdae_lite.cluster.refine import Refinement
from cdae_lite.denoise.inference import predict
from cdae_lite.images import evenly_spaced
from cdae_lite.io.blocks import iter_blocks, opened_stack
from cdae_lite.runtime import peak_rss_mb, progress

log = logging.getLogger(__name__)

#: Ward clustering holds an n x n distance matrix: refused above this many images (8 bytes x n^2 / 2 = 3.6 GB).
MAX_HIERARCHICAL_IMAGES = 30000


@dataclass
class ClusterReport:
    """What :func:`cluster_file` did.

    Attributes
    ----------
    n_images : int
        Images in the stack.
    k : int
        Number of classes.
    labels : numpy.ndarray
        ``(n_images,)`` int64, each image's class in ``0 .. k-1``.
    scores : numpy.ndarray
        ``(n_images, n_components)`` float32 principal-component scores.
    averages : numpy.ndarray
        ``(k, size, size)`` float32 average of the *input* images of each class (zeros for an empty one).
    pixel_size_A : float or None
        Pixel size of the stack in Angstrom, ``None`` when its header has none.
    seconds : float
        Wall-clock time of the run.
    peak_rss_mb : float
        Peak resident memory of the process, MB.
    refinement : Refinement or None
        The rounds of refinement against denoised class averages, when they ran.
    inverted : bool
        Whether the particles were dark and negated for the denoiser (and back).
    """

    n_images: int
    k: int
    labels: np.ndarray
    scores: np.ndarray
    averages: np.ndarray
    pixel_size_A: float | None
    seconds: float
    peak_rss_mb: float
    refinement: Refinement | None = None
    inverted: bool = False

    @property
    def sizes(self) -> list[int]:
        """Images per class, ``k`` integers."""
        return np.bincount(self.labels, minlength=self.k).tolist()

    def summary(self) -> str:
        """One line for a user: images, classes and their sizes, time, speed, memory, refinement, polarity."""
        r = self.refinement
        how = "" if r is None else (f", refined against denoised class averages in {len(r.changed)} rounds "
                                    f"({'converged' if r.converged else 'stopped before converging'}; "
                                    f"labels changed per round {r.changed})")
        dark = ", particles dark: negated for the denoiser and back" if self.inverted else ""
        return (f"clustered {self.n_images} images into {self.k} classes of sizes {self.sizes} in "
                f"{self.seconds:.1f} s ({self.n_images / max(self.seconds, 1e-9):.0f} images/s, "
                f"peak memory {self.peak_rss_mb:.0f} MB{how}{dark})")


def cluster_file(input_path: str | os.PathLike, k: int, n_components: int = 10, method: str = "kmeans",
                 model: nn.Module | None = None, block_size: int | None = None, fit_images: int = 50000,
                 seed: int = 0, device=None, as_stack: bool = False) -> ClusterReport:
    """Cluster the images of an MRC stack into ``k`` classes, in bounded memory.

    Three passes over the file, each reading one block at a time:

    1. fit an incremental PCA (:class:`sklearn.decomposition.IncrementalPCA`) on the normalised images
       (each to zero mean, unit std) of up to ``fit_images`` images, taken as whole blocks spread
       evenly over the stack (stacks are often ordered by micrograph);
    2. project every image on the ``n_components`` components (the only per-image data kept:
       ``n x n_components`` float32);
    3. cluster the scores (k-means with 10 restarts, or Ward when ``method="hierarchical"``) and sum
       the *input* images of each class into its class average.

    With ``model``, passes 1 and 2 work on the denoised images (each image is denoised once in
    pass 2, and once more if it belongs to a fitting block); the averages are always of the input.

    Parameters
    ----------
    input_path : str or os.PathLike
        ``.mrcs``/``.mrc`` stack (or ``.gz``), float or integer modes; never modified.
    k : int
        Number of classes, 1 <= k <= number of images.
    n_components : int, optional
        Principal components (clipped to the number of images and pixels).
    method : str, optional
        ``"kmeans"`` or ``"hierarchical"`` (Ward; refused above :data:`MAX_HIERARCHICAL_IMAGES` images,
        whose distance matrix would not fit in memory).
    model : torch.nn.Module, optional
        A denoiser applied to each block before PCA (the averages stay those of the input).
    block_size : int, optional
        Images read (and denoised) at a time; default: 2048, fewer for images over 128 px (a block
        holds at most 2^25 pixels, 128 MB as float32).
    fit_images : int, optional
        Images the PCA is fitted on (all of them in a smaller stack).
    seed : int, optional
        Seed of k-means' restarts.
    device : str or torch.device, optional
        Where ``model`` runs (default: :func:`cdae_lite.runtime.get_device`).
    as_stack : bool, optional
        Read a ``.mrc`` whose header says "volume" as a stack of images.

    Returns
    -------
    ClusterReport
        Labels, scores, class averages, pixel size, time and memory.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`cdae_lite.io.mrc.open_stack`; NaN/Inf pixels (with the image index); a bad ``k``.
    """
    if method not in ("kmeans", "hierarchical"):
        raise ValueError(f"method must be 'kmeans' or 'hierarchical', got {method!r}")
    t0 = time.perf_counter()
    with opened_stack(input_path, as_stack) as stack:
        n, size = stack[2].shape[0], stack[2].shape[-1]
        _check_size(n, k, method)
        px = float(stack[1].voxel_size.x) or None
        nc = int(min(n_components, n, size * size))
        block_size = block_size or max(nc, min(2048, 2**25 // (size * size)))
        n_blocks = -(-n // block_size)
        fit_blocks = evenly_spaced(n_blocks, fit_images // block_size)
        fit_n = sum(min(block_size, n - b * block_size) for b in fit_blocks)
        with progress(fit_n + 2 * n, "clustering") as bar:
            scores, labels = np.zeros((n, nc), np.float32), np.zeros(n, np.int64)  # one image: one class
            if n > 1:
                features = _features(model, device)
                log.debug("clustering: PCA of %d components fitted on %d images (%d of %d blocks of %d)",
                          nc, fit_n, len(fit_blocks), n_blocks, block_size)
                ipca = _fit_pca(stack, features, fit_blocks, block_size, nc, bar)
                _project(stack, features, ipca, block_size, scores, bar)
                labels = _cluster_scores(scores, k, method, seed)
            averages = _class_averages(stack, labels, k, block_size, bar)
    return ClusterReport(n_images=n, k=k, labels=labels, scores=scores, averages=averages, pixel_size_A=px,
                         seconds=time.perf_counter() - t0, peak_rss_mb=peak_rss_mb())


def _check_size(n: int, k: int, method: str) -> None:
    from cdae_lite.cluster.methods import check_k

    check_k(n, k)
    if method == "hierarchical" and n > MAX_HIERARCHICAL_IMAGES:
        raise ValueError(f"hierarchical (Ward) clustering of {n} images would hold a {n} x {n} distance "
                         f"matrix ({4e-9 * n * n:.0f} GB); use k-means (--method kmeans) above "
                         f"{MAX_HIERARCHICAL_IMAGES} images")


def _features(model: nn.Module | None, device):
    """The per-image features PCA sees: the flattened images, denoised first with ``model``."""
    from cdae_lite.cluster.methods import flatten

    def features(block):
        if model is not None:
            block = predict(model, block, device=device, check=False)
        return flatten(block)

    return features


def _fit_pca(stack, features, fit_blocks, block_size: int, nc: int, bar):
    """Pass 1: an incremental PCA fitted on whole blocks, in chunks of at least ``nc`` images (as it needs)."""
    from sklearn.decomposition import IncrementalPCA

    ipca, pending = IncrementalPCA(n_components=nc), []
    for b in fit_blocks:
        for _, block in iter_blocks(*stack, block_size, b * block_size, (b + 1) * block_size):
            pending.append(features(block))
            bar.update(len(block))
        if sum(len(p) for p in pending) >= max(nc, 2):
            ipca.partial_fit(np.concatenate(pending))
            pending = []
    if pending and (not hasattr(ipca, "components_") or sum(len(p) for p in pending) >= nc):
        ipca.partial_fit(np.concatenate(pending))
    return ipca


def _project(stack, features, ipca, block_size: int, scores: np.ndarray, bar) -> None:
    """Pass 2: every image's principal-component scores, written into ``scores`` (n, nc)."""
    for start, block in iter_blocks(*stack, block_size):
        scores[start:start + len(block)] = ipca.transform(features(block))
        bar.update(len(block))


def _cluster_scores(scores: np.ndarray, k: int, method: str, seed: int) -> np.ndarray:
    from cdae_lite.cluster.methods import hierarchical, kmeans

    labels = kmeans(scores, k, seed) if method == "kmeans" else hierarchical(scores, k)
    log.debug("clustering: %s of %d scores into %d classes", method, len(scores), k)
    return labels


def _class_averages(stack, labels: np.ndarray, k: int, block_size: int, bar) -> np.ndarray:
    """Pass 3: the average of the input images of each class, (k, size, size) float32."""
    size = stack[2].shape[-1]
    sums, counts = np.zeros((k, size, size)), np.bincount(labels, minlength=k)
    for start, block in iter_blocks(*stack, block_size):
        lab = labels[start:start + len(block)]
        for c in np.unique(lab):
            sums[c] += block[lab == c].sum(axis=0, dtype=np.float64)
        bar.update(len(block))
    return (sums / np.maximum(counts, 1)[:, None, None]).astype(np.float32)
