"""Nearest neighbours of noisy images and the mean-image targets of the paper's fine-tuning (3.3).

Similarity: images are normalised (zero mean, unit standard deviation each), projected on their
first ``n_components`` principal components (PCA over the stack), and compared by Euclidean distance
there. For normalised images, Euclidean distance is a monotone function of correlation; keeping only
the leading components discards most of the noise, which is spread evenly over all directions while
the signal of a few views lives in a few. The search is exact (brute force, in blocks, on the GPU when
present): 12,000 images of 64 px take a few seconds on a CPU.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA

from cdae_lite.images import check_images, normalise
from cdae_lite.runtime import get_device


def pca_features(images, n_components: int = 50, seed: int = 0) -> np.ndarray:
    """Principal-component scores of the normalised images; float32 (n, n_components)."""
    x = normalise(images).reshape(len(images), -1)
    k = int(min(n_components, x.shape[0], x.shape[1]))
    return PCA(n_components=k, svd_solver="randomized", random_state=seed).fit_transform(x).astype(np.float32)


@torch.no_grad()
def knn(features, k: int, device: str | torch.device | None = None, block: int = 4096) -> np.ndarray:
    """Indices of each row's ``k`` nearest other rows (Euclidean), nearest first; int64 (n, k).

    Raises
    ------
    ValueError
        If ``k`` is not smaller than the number of rows.
    """
    f = np.asarray(features, np.float32)
    if f.ndim != 2:
        raise ValueError(f"features must be (n, d), got {f.shape}")
    n = f.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k = {k} neighbours need at least k + 1 = {k + 1} images; got {n}")
    dev = get_device(device)
    ft = torch.from_numpy(f).to(dev)
    sq = (ft * ft).sum(1)
    out = np.empty((n, k), np.int64)
    for i in range(0, n, block):
        q = ft[i:i + block]
        d = sq[i:i + block, None] - 2 * q @ ft.T + sq[None]
        rows = torch.arange(q.shape[0], device=dev)
        d[rows, rows + i] = float("inf")  # not its own neighbour
        out[i:i + block] = torch.topk(d, k, dim=1, largest=False).indices.cpu().numpy()
    return out


def mean_targets(images, neighbours: np.ndarray) -> np.ndarray:
    """Mean of each image's neighbours (the image itself excluded); float32 (n, size, size).

    Excluding the image keeps its own noise out of its target, so the target's noise is independent
    of the input's (as in Noise2Noise); with k pure neighbours the target's noise variance is the
    images' noise variance over k.
    """
    x = check_images(images)
    idx = np.asarray(neighbours)
    if idx.ndim != 2 or idx.shape[0] != x.shape[0]:
        raise ValueError(f"neighbours must be ({x.shape[0]}, k), got {idx.shape}")
    out = np.empty_like(x)
    for i in range(0, len(x), 1024):
        out[i:i + 1024] = x[idx[i:i + 1024]].mean(axis=1)
    return out


def purity(neighbours: np.ndarray, labels) -> np.ndarray:
    """Fraction of each image's neighbours that share its label (its true view); float (n,)."""
    lab = np.asarray(labels)
    return (lab[np.asarray(neighbours)] == lab[:, None]).mean(axis=1)


def neighbour_means(images, k: int = 30, n_components: int = 50, features=None, seed: int = 0,
                   device=None) -> tuple[np.ndarray, np.ndarray]:
    """The paper's fine-tuning targets: ``(mean images, neighbour indices)``.

    ``features`` (n, d) replaces the PCA features of ``images`` when given (e.g. features of images
    already denoised by a previous block).
    """
    feats = pca_features(images, n_components, seed) if features is None else features
    idx = knn(feats, k, device=device)
    return mean_targets(images, idx), idx
