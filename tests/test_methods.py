"""Tests of ``cdae_lite.cluster.methods``: PCA, k-means, hierarchical and spectral clustering, features, class
averages."""

import numpy as np
import pytest

from cdae_lite import cluster
from cdae_lite.metrics import clustering_scores


def test_bad_labels_and_k():
    with pytest.raises(ValueError, match="labels"):
        clustering_scores([0, 1], [0])
    with pytest.raises(ValueError, match="more than the 5 images"):
        cluster.kmeans(np.zeros((5, 3)), 6)
    with pytest.raises(ValueError, match="positive"):
        cluster.hierarchical(np.zeros((5, 3)), 0)


def _patterns(rng, n_per=30, size=32, noise=0.3, rotate=False):
    """Three patterns of 2, 3 and 4 blobs (distinct up to rotation), drawn analytically, so that a
    rotated pattern is exactly rotated (no interpolation)."""
    yy, xx = np.indices((size, size)) - size // 2
    labels = np.repeat(np.arange(3), n_per)
    angles = rng.uniform(0, 2 * np.pi, len(labels)) if rotate else np.zeros(len(labels))
    imgs = np.zeros((len(labels), size, size), np.float32)
    for i, (c, phi) in enumerate(zip(labels, angles)):
        for a in range(c + 2):
            ang = 2 * np.pi * a / (c + 2) + phi + 0.3 * a * (c == 2)  # pattern 2 is not symmetric
            imgs[i] += np.exp(-((xx - (5 + c) * np.cos(ang)) ** 2 + (yy - (5 + c) * np.sin(ang)) ** 2) / 6.0)
    return (imgs + noise * rng.normal(size=imgs.shape)).astype(np.float32), labels, angles


def test_kmeans_and_hierarchical_find_aligned_views_and_are_deterministic(rng):
    imgs, labels, _ = _patterns(rng)
    f = cluster.pca(imgs, 5)
    a, b = cluster.kmeans(f, 3, seed=1), cluster.kmeans(f, 3, seed=1)
    assert np.array_equal(a, b)
    assert clustering_scores(labels, a)["accuracy"] == 1.0
    assert clustering_scores(labels, cluster.hierarchical(f, 3))["accuracy"] == 1.0


def test_rotated_copies_are_closer_in_rotation_invariant_features_than_other_patterns():
    rng = np.random.default_rng(5)
    imgs, labels, angles = _patterns(rng, n_per=6, noise=0.0, rotate=True)
    d = {name: np.linalg.norm(f[:, None] - f[None], axis=-1) for name, f in
         [("invariant", cluster.rotation_invariant_features(imgs)), ("pixels", cluster.flatten(imgs))]}
    same = labels[:, None] == labels[None]
    off = ~np.eye(len(labels), dtype=bool)
    # rotated copies of one pattern: every one nearer each other than to any other pattern...
    assert d["invariant"][same & off].max() < d["invariant"][~same].min()
    # ...which is not so in pixel space, where a rotated copy is just another image
    assert d["pixels"][same & off].max() > d["pixels"][~same].min()


def test_class_averages(rng):
    imgs = rng.normal(size=(6, 4, 4)).astype(np.float32)
    lab = np.array([0, 0, 1, 1, 1, 3])
    avg = cluster.class_averages(imgs, lab)
    assert avg.shape == (4, 4, 4) and np.allclose(avg[1], imgs[2:5].mean(0)) and np.all(avg[2] == 0)
    with pytest.raises(ValueError):
        cluster.class_averages(imgs, lab[:3])


def test_spectral_clustering_follows_chains_of_neighbours_where_kmeans_cuts():
    from sklearn.datasets import make_circles

    from cdae_lite.cluster import kmeans, spectral
    from cdae_lite.metrics import clustering_scores

    x, truth = make_circles(n_samples=300, factor=0.4, noise=0.04, random_state=0)
    assert clustering_scores(truth, spectral(x, 2, n_neighbours=10))["f1"] > 0.99
    assert clustering_scores(truth, kmeans(x, 2))["f1"] < 0.7  # two rings: k-means cuts them in halves
    np.testing.assert_array_equal(spectral(x, 2), spectral(x, 2))
    with pytest.raises(ValueError, match="more than"):
        spectral(x[:3], 4)
