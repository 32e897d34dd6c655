"""Clustering stacks larger than memory.

:func:`cluster_file` fits an incremental PCA block by block, keeps only the principal-component scores
(n x 10 floats: 40 MB for a million images), clusters them with k-means and accumulates the class
averages in a last pass.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch.nn as nn

from cdae_lite.cluster.refine import Refinement
from cdae_lite.denoise.inference import predict
from cdae_lite.images import evenly_spaced
from cdae_lite.io.blocks import iter_blocks, opened_stack
from cdae_lite.runtime import peak_rss_mb, progress_enabled

#: Ward clustering holds an n x n distance matrix: refused above this many images (8 bytes x n^2 / 2 = 3.6 GB).
MAX_HIERARCHICAL_IMAGES = 30000


@dataclass
class ClusterReport:
    """What :func:`cluster_file` did: labels ``(n,)`` int64 in 0..k-1, scores ``(n, n_components)``
    float32, class averages of the input images ``(k, size, size)`` float32."""

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
        return np.bincount(self.labels, minlength=self.k).tolist()

    def summary(self) -> str:
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
    input_path : ``.mrcs``/``.mrc`` stack (or ``.gz``), float or integer modes; never modified.
    k : number of classes, 1 <= k <= number of images.
    n_components : principal components (clipped to the number of images and pixels).
    method : ``"kmeans"`` or ``"hierarchical"`` (Ward; refused above
        :data:`MAX_HIERARCHICAL_IMAGES` images, whose distance matrix would not fit in memory).
    block_size : images read (and denoised) at a time; default: 2048, fewer for images over 128 px
        (a block holds at most 2^25 pixels, 128 MB as float32).
    fit_images : images the PCA is fitted on (all of them in a smaller stack).

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`cdae_lite.io.mrc.open_stack`; NaN/Inf pixels (with the image index); a bad ``k``.
    """
    from sklearn.decomposition import IncrementalPCA
    from tqdm.auto import tqdm

    from cdae_lite.cluster.methods import check_k, flatten, hierarchical, kmeans

    if method not in ("kmeans", "hierarchical"):
        raise ValueError(f"method must be 'kmeans' or 'hierarchical', got {method!r}")
    t0 = time.perf_counter()
    with opened_stack(input_path, as_stack) as (plain, mrc, data):
        n, size = data.shape[0], data.shape[-1]
        check_k(n, k)
        if method == "hierarchical" and n > MAX_HIERARCHICAL_IMAGES:
            raise ValueError(f"hierarchical (Ward) clustering of {n} images would hold a {n} x {n} distance "
                             f"matrix ({4e-9 * n * n:.0f} GB); use k-means (--method kmeans) above "
                             f"{MAX_HIERARCHICAL_IMAGES} images")
        px = float(mrc.voxel_size.x) or None
        nc = int(min(n_components, n, size * size))
        block_size = block_size or max(nc, min(2048, 2**25 // (size * size)))

        def features(block):
            if model is not None:
                block = predict(model, block, device=device, check=False)
            return flatten(block)

        n_blocks = -(-n // block_size)
        fit_blocks = evenly_spaced(n_blocks, fit_images // block_size)
        fit_n = sum(min(block_size, n - b * block_size) for b in fit_blocks)
        bar = tqdm(total=fit_n + 2 * n, desc="clustering", unit="img", disable=not progress_enabled(),
                   file=sys.stderr)
        try:
            scores = np.zeros((n, nc), np.float32)
            labels = np.zeros(n, np.int64)  # one image: one class, nothing to fit
            if n > 1:
                ipca, pending = IncrementalPCA(n_components=nc), []
                for b in fit_blocks:  # pass 1: fit, in chunks of at least nc images (IncrementalPCA needs them)
                    for _, block in iter_blocks(plain, mrc, data, block_size, b * block_size, (b + 1) * block_size):
                        pending.append(features(block))
                        bar.update(len(block))
                    if sum(len(p) for p in pending) >= max(nc, 2):
                        ipca.partial_fit(np.concatenate(pending))
                        pending = []
                if pending and (not hasattr(ipca, "components_") or sum(len(p) for p in pending) >= nc):
                    ipca.partial_fit(np.concatenate(pending))
                for start, block in iter_blocks(plain, mrc, data, block_size):  # pass 2: project
                    scores[start:start + len(block)] = ipca.transform(features(block))
                    bar.update(len(block))
                labels = kmeans(scores, k, seed) if method == "kmeans" else hierarchical(scores, k)
            sums, counts = np.zeros((k, size, size)), np.bincount(labels, minlength=k)
            for start, block in iter_blocks(plain, mrc, data, block_size):  # pass 3: class averages
                lab = labels[start:start + len(block)]
                for c in np.unique(lab):
                    sums[c] += block[lab == c].sum(axis=0, dtype=np.float64)
                bar.update(len(block))
        finally:
            bar.close()
    averages = (sums / np.maximum(counts, 1)[:, None, None]).astype(np.float32)
    dt = time.perf_counter() - t0
    return ClusterReport(n_images=n, k=k, labels=labels, scores=scores, averages=averages, pixel_size_A=px,
                         seconds=dt, peak_rss_mb=peak_rss_mb())
