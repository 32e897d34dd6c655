"""Clustering images by view: features, k-means, Ward, spectral clustering of a kNN graph, class averages."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
from sklearn.decomposition import PCA

from cdae_lite.images import check_images, normalise


def check_k(n_images: int, k: int) -> None:
    """Raise a clear error unless 1 <= k <= number of images."""
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"the number of clusters K must be a positive integer, got {k!r}")
    if k > n_images:
        raise ValueError(f"K = {k} clusters is more than the {n_images} images to cluster")


def flatten(images, normalize: bool = True) -> np.ndarray:
    """Images as feature vectors (n, size * size), each normalised to zero mean, unit std by default."""
    x = normalise(images) if normalize else check_images(images)
    return x.reshape(len(x), -1)


def pca(images, n_components: int = 10, seed: int = 0) -> np.ndarray:
    """Scores on the first principal components of the normalised images (n, n_components)."""
    f = flatten(images)
    return PCA(n_components=min(n_components, *f.shape), svd_solver="randomized",
               random_state=seed).fit_transform(f).astype(np.float32)


def kmeans(features, k: int, seed: int = 0, n_init: int = 10) -> np.ndarray:
    """k-means labels (n,), int64; deterministic for a given seed."""
    f = np.asarray(features, np.float32).reshape(len(features), -1)
    check_k(len(f), k)
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(f).astype(np.int64)


def hierarchical(features, k: int, linkage: str = "ward") -> np.ndarray:
    """Agglomerative (hierarchical) clustering labels (n,), Ward linkage by default."""
    f = np.asarray(features, np.float32).reshape(len(features), -1)
    check_k(len(f), k)
    return AgglomerativeClustering(n_clusters=k, linkage=linkage).fit_predict(f).astype(np.int64)


def spectral(features, k: int, n_neighbours: int = 10, seed: int = 0) -> np.ndarray:
    """Spectral clustering of the symmetrised ``n_neighbours``-nearest-neighbour graph; labels (n,), int64.

    Groups images that are linked through chains of close neighbours, so a view whose images spread
    along a curved or elongated cloud in feature space (a slow change of defocus, of a flexible part)
    stays one cluster, where k-means would cut it. Use it on a few principal components (of the
    raw or the denoised images), not on thousands of pixels.
    """
    f = np.asarray(features, np.float32).reshape(len(features), -1)
    check_k(len(f), k)
    nn = max(1, min(n_neighbours, len(f) - 1))
    model = SpectralClustering(n_clusters=k, affinity="nearest_neighbors", n_neighbors=nn, random_state=seed,
                               assign_labels="cluster_qr")
    return model.fit_predict(f).astype(np.int64)


def class_averages(images, labels, k: int | None = None) -> np.ndarray:
    """Mean image of each cluster, (k, size, size); an empty cluster's average is all zeros."""
    x = check_images(images)
    lab = np.asarray(labels)
    if lab.shape != (len(x),):
        raise ValueError(f"{len(lab)} labels for {len(x)} images")
    k = int(lab.max()) + 1 if k is None else k
    out = np.zeros((k,) + x.shape[1:], np.float32)
    for c in range(k):
        if np.any(lab == c):
            out[c] = x[lab == c].mean(axis=0)
    return out


def pairwise_correlation(a, b) -> np.ndarray:
    """Pearson correlation of paired images a[i], b[i]; (n,)."""
    x, y = flatten(a), flatten(b)
    return (x * y).sum(1) / x.shape[1]
