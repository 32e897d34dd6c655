"""Tests of cdae_lite.denoise.neighbours: the PCA features and the exact k-nearest-neighbour search."""

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from cdae_lite.denoise.neighbours import knn, pca_features


def test_knn_matches_brute_force_and_excludes_self(rng):
    f = rng.normal(size=(300, 5)).astype(np.float32)
    idx = knn(f, 7, device="cpu", block=64)
    ref = NearestNeighbors(n_neighbors=8).fit(f).kneighbors(f, return_distance=False)[:, 1:]
    assert np.array_equal(np.sort(idx, 1), np.sort(ref, 1))
    assert not np.any(idx == np.arange(300)[:, None])


def test_k_too_large_is_a_clear_error(rng):
    with pytest.raises(ValueError, match="need at least"):
        knn(rng.normal(size=(10, 3)), 10)


def test_pca_features_shape(rng):
    assert pca_features(rng.normal(size=(40, 8, 8)).astype(np.float32), 10).shape == (40, 10)
