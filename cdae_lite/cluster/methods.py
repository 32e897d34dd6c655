"""Clustering images by view: features, k-means, Ward, spectral clustering of a kNN graph, class averages."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering

from cdae_lite.denoise.neighbours import pca_features
from cdae_lite.images import check_images, normalise


def check_k(n_images: int, k: int) -> None:
    """Raise a clear error unless 1 <= k <= number of images.

    Parameters
    ----------
    n_images : int
        Images to cluster.
    k : int
        Clusters asked for.

    Raises
    ------
    ValueError
        If ``k`` is not a whole number from 1 to ``n_images``.
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"the number of clusters K must be a positive integer, got {k!r}")
    if k > n_images:
        raise ValueError(f"K = {k} clusters is more than the {n_images} images to cluster")


def flatten(images, normalize: bool = True) -> np.ndarray:
    """Images as feature vectors.

    Parameters
    ----------
    images : array (n, size, size)
    normalize : bool
        Normalise each image to zero mean and unit standard deviation first.

    Returns
    -------
    numpy.ndarray
        float32 (n, size * size).
    """
    x = normalise(images) if normalize else check_images(images)
    return x.reshape(len(x), -1)


def pca(images, n_components: int = 10, seed: int = 0) -> np.ndarray:
    """Scores on the first principal components of the normalised images.

    Parameters
    ----------
    images, n_components, seed
        As in :func:`cdae_lite.denoise.neighbours.pca_features` (here 10 components by default).

    Returns
    -------
    numpy.ndarray
        float32 (n, n_components), in units of normalised pixel values.
    """
    return pca_features(images, n_components, seed)


def kmeans(features, k: int, seed: int = 0, n_init: int = 10) -> np.ndarray:
    """k-means labels; deterministic for a given seed.

    Parameters
    ----------
    features : array (n, ...)
        One feature vector (or image) per item; flattened.
    k : int
        Clusters.
    seed : int
        Seed of the initialisations.
    n_init : int
        Initialisations; the best (lowest inertia) is kept.

    Returns
    -------
    numpy.ndarray
        int64 (n,), labels 0 to k - 1.
    """
    f = np.asarray(features, np.float32).reshape(len(features), -1)
    check_k(len(f), k)
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(f).astype(np.int64)


def hierarchical(features, k: int, linkage: str = "ward") -> np.ndarray:
    """Agglomerative (hierarchical) clustering labels.

    Parameters
    ----------
    features, k : array (n, ...), int
        The items and the number of clusters, as in :func:`kmeans`.
    linkage : str
        scikit-learn's linkage (``"ward"``, ``"average"``, ...).

    Returns
    -------
    numpy.ndarray
        int64 (n,), labels 0 to k - 1.
    """
    f = np.asarray(features, np.float32).reshape(len(features), -1)
    check_k(len(f), k)
    return AgglomerativeClustering(n_clusters=k, linkage=linkage).fit_predict(f).astype(np.int64)


def spectral(features, k: int, n_neighbours: int = 10, seed: int = 0) -> np.ndarray:
    """Spectral clustering of the symmetrised ``n_neighbours``-nearest-neighbour graph; labels (n,), int64.

    Groups images that are linked through chains of close neighbours, so a view whose images spread
    along a curved or elongated cloud in feature space (a slow change of defocus, of a flexible part)
    stays one cluster, where k-means would cut it. Use it on a few principal components (of the
    raw or the denoised images), not on thousands of pixels.

    Parameters
    ----------
    features : array (n, ...)
        One feature vector per item; flattened.
    k : int
        Clusters.
    n_neighbours : int
        Neighbours of each item in the graph (at most n - 1).
    seed : int
        Seed of the eigensolver.

    Returns
    -------
    numpy.ndarray
        int64 (n,), labels 0 to k - 1.
    """
    f = np.asarray(features, np.float32).reshape(len(features), -1)
    check_k(len(f), k)
    nn = max(1, min(n_neighbours, len(f) - 1))
    model = SpectralClustering(n_clusters=k, affinity="nearest_neighbors", n_neighbors=nn, random_state=seed,
                               assign_labels="cluster_qr")
    return model.fit_predict(f).astype(np.int64)


def class_averages(images, labels, k: int | None = None) -> np.ndarray:
    """Mean image of each cluster.

    Parameters
    ----------
    images : array (n, size, size)
    labels : array (n,)
        Integer labels from 0.
    k : int, optional
        Clusters (default: the largest label plus one).

    Returns
    -------
    numpy.ndarray
        float32 (k, size, size), in the images' units; an empty cluster's average is all zeros.

    Raises
    ------
    ValueError
        If there are not as many labels as images.
    """
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
