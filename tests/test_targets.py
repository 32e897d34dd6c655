"""Tests of cdae_lite.denoise.targets: neighbourhoods, their means and purity, held-out scores."""

import numpy as np
import pytest

from cdae_lite.denoise.neighbours import knn, pca_features
from cdae_lite.denoise.targets import (Neighbourhoods, TargetConfig, compare_targets, find_neighbourhoods,
                                       heldout_means, neighbourhood_means, neighbourhood_purity, stopping_scores)


def views(rng, sizes, noise=1.0, scale=10.0, size=12):
    centres = rng.normal(scale=scale, size=(len(sizes), size, size)).astype(np.float32)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    clean = centres[labels]
    return clean + rng.normal(scale=noise, size=clean.shape).astype(np.float32), clean, labels


def test_default_config_is_the_papers_neighbour_means(rng):
    noisy, _, _ = views(rng, [30, 30])
    hoods = find_neighbourhoods(noisy, TargetConfig(k=8, n_components=4))
    ref_idx = knn(pca_features(noisy, 4), 8)
    assert np.array_equal(hoods.indices, ref_idx) and hoods.keep.all()
    assert np.allclose(neighbourhood_means(noisy, hoods), noisy[ref_idx].mean(axis=1), atol=1e-5)


def test_cluster_restriction_keeps_a_small_view_pure(rng):
    # a view of 10 images with k = 15: 5 of every neighbourhood must come from the other view
    # unless the search stays inside the image's cluster
    noisy, _, labels = views(rng, [10, 40])
    plain = find_neighbourhoods(noisy, TargetConfig(k=15, n_components=4))
    small = labels == 0
    assert neighbourhood_purity(plain, labels)[small].max() <= 9 / 15
    restricted = find_neighbourhoods(noisy, TargetConfig(k=15, n_components=4, clusters=2))
    assert neighbourhood_purity(restricted, labels).min() == 1.0
    assert (restricted.counts[small] == 9).all() and (restricted.counts[~small] == 15).all()


def test_distance_threshold_drops_far_neighbours():
    # points on a line: 0, 1, 2, 3 and one far away at 100
    f = np.array([[0.0], [1.0], [2.0], [3.0], [100.0]], np.float32)
    imgs = np.arange(5, dtype=np.float32)[:, None, None] * np.ones((5, 2, 2), np.float32)
    hoods = find_neighbourhoods(imgs, TargetConfig(k=4, min_k=2, distance_factor=1.5), features=f)
    # image 0: neighbours at 1, 2, 3, 100; 2nd is at distance 2, limit 3: keeps 1, 2, 3, drops 100
    row = dict(zip(hoods.indices[0], hoods.keep[0]))
    assert row == {1: True, 2: True, 3: True, 4: False}
    # image 4 is far from everything: it keeps its min_k nearest only (3 at 97, 2 at 98; limit 147 keeps all)
    assert hoods.counts[4] == 4
    means = neighbourhood_means(imgs, hoods)
    assert np.allclose(means[0], 2.0)  # (1 + 2 + 3) / 3


def test_masked_means_and_purity_count_only_kept_neighbours():
    imgs = np.arange(4, dtype=np.float32)[:, None, None] * np.ones((4, 2, 2), np.float32)
    hoods = Neighbourhoods(np.array([[1, 2], [0, 2], [0, 1], [0, 1]]), np.array([[True, False]] * 4))
    assert np.allclose(neighbourhood_means(imgs, hoods)[:, 0, 0], [1, 0, 0, 0])
    assert np.allclose(neighbourhood_purity(hoods, [0, 0, 1, 1]), [1, 1, 0, 0])


def test_stopping_score_picks_the_block_nearest_the_truth(rng):
    noisy, clean, labels = views(rng, [60, 60, 60], noise=3.0)
    feats = clean.reshape(len(clean), -1)[:, :20] + rng.normal(scale=0.1, size=(180, 20)).astype(np.float32)
    held = heldout_means(noisy, feats, k=20)
    outputs = [0.5 * clean, 0.95 * clean, 0.7 * clean]
    scores = stopping_scores(outputs, held)
    assert int(np.argmin(scores)) == 1
    # the held-out neighbours are ranks k+1..2k, disjoint from the k used in targets
    f = rng.normal(size=(180, 20)).astype(np.float32)
    first = knn(f, 20)
    second = knn(f, 40)[:, 20:]
    assert not any(set(a) & set(b) for a, b in zip(first, second))


def test_compare_targets_reports_psnr_purity_and_counts(rng):
    noisy, clean, labels = views(rng, [15, 45])
    rows = compare_targets(noisy, clean, labels, {"paper": (TargetConfig(k=20, n_components=4), None),
                                                  "cluster": (TargetConfig(k=20, n_components=4, clusters=2), None)})
    paper, cluster = rows
    assert paper["purity"] < cluster["purity"] == 1.0
    assert cluster["target_psnr"] > paper["target_psnr"]
    assert paper["neighbours"] == 20 and cluster["neighbours"] < 20


def test_bad_target_configs_are_refused():
    with pytest.raises(ValueError, match="min_k"):
        TargetConfig(k=5, min_k=6)
    with pytest.raises(ValueError, match="distance_factor"):
        TargetConfig(distance_factor=0.5)


def test_neighbours_of_well_separated_groups_are_pure(rng):
    centres = rng.normal(scale=10, size=(4, 16, 16))
    labels = np.repeat(np.arange(4), 50)
    imgs = (centres[labels] + rng.normal(size=(200, 16, 16))).astype(np.float32)
    hoods = find_neighbourhoods(imgs, TargetConfig(k=10, n_components=5))
    targets = neighbourhood_means(imgs, hoods)
    assert neighbourhood_purity(hoods, labels).min() == 1.0
    # the mean of 10 pure neighbours is 10x less noisy than one image
    err_img = ((imgs - centres[labels]) ** 2).mean()
    err_tgt = ((targets - centres[labels]) ** 2).mean()
    assert err_tgt < 0.15 * err_img


def all_kept(idx) -> Neighbourhoods:
    return Neighbourhoods(np.asarray(idx), np.ones(np.shape(idx), bool))


def test_neighbourhood_means_exclude_the_image_itself():
    imgs = np.arange(4 * 2 * 2, dtype=np.float32).reshape(4, 2, 2)
    idx = np.array([[1, 2], [0, 2], [0, 1], [0, 1]])
    t = neighbourhood_means(imgs, all_kept(idx))
    assert np.allclose(t[0], (imgs[1] + imgs[2]) / 2)


def test_purity_of_random_neighbours_is_chance(rng):
    labels = np.repeat(np.arange(4), 250)
    idx = rng.integers(0, 1000, size=(1000, 30))
    assert abs(neighbourhood_purity(all_kept(idx), labels).mean() - 0.25) < 0.02
