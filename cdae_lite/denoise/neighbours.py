"""Nearest neighbours of noisy images: the feature space and the search behind the paper's targets (3.3).

Similarity: images are normalised (zero mean, unit standard deviation each), projected on their
first ``n_components`` principal components (PCA over the stack), and compared by Euclidean distance
there. For normalised images, Euclidean distance is a monotone function of correlation; keeping only
the leading components discards most of the noise, which is spread evenly over all directions while
the signal of a few views lives in a few. The search is exact (brute force, in blocks, on the GPU when
present): 12,000 images of 64 px take a few seconds on a CPU.

Which neighbours make an image's target, their mean and their purity are in
:mod:`cdae_lite.denoise.targets` (:func:`~cdae_lite.denoise.targets.find_neighbourhoods`,
:func:`~cdae_lite.denoise.targets.neighbourhood_means`, :func:`~cdae_lite.denoise.targets.neighbourhood_purity`).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA

from cdae_lite.images import normalise
from cdae_lite.runtime import get_device


def pca_features(images, n_components: int = 50, seed: int = 0) -> np.ndarray:
    """Principal-component scores of the normalised images.

    Parameters
    ----------
    images : array (n, size, size)
        The images, in any units (each is normalised to zero mean and unit standard deviation first).
    n_components : int
        Components kept (fewer if the stack has fewer images or pixels).
    seed : int
        Seed of the randomised SVD.

    Returns
    -------
    numpy.ndarray
        float32 (n, n_components): each image's scores, in units of normalised pixel values.
    """
    x = normalise(images).reshape(len(images), -1)
    k = int(min(n_components, x.shape[0], x.shape[1]))
    return PCA(n_components=k, svd_solver="randomized", random_state=seed).fit_transform(x).astype(np.float32)


@torch.no_grad()
def knn(features, k: int, device: str | torch.device | None = None, block: int = 4096) -> np.ndarray:
    """Indices of each row's ``k`` nearest other rows (Euclidean distance), nearest first.

    Parameters
    ----------
    features : array (n, d)
        One feature vector per image.
    k : int
        Neighbours per row (the row itself excluded).
    device : str or torch.device, optional
        Where the distances are computed (default: the GPU when present).
    block : int
        Rows compared at once (memory: ``block * n`` distances).

    Returns
    -------
    numpy.ndarray
        int64 (n, k): row indices, nearest first.

    Raises
    ------
    ValueError
        If ``features`` is not 2D, or ``k`` is not from 1 to the number of rows minus one.
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
