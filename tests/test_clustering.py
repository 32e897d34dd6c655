"""Tests of ``cdae_lite.metrics.clustering``: matched and pairwise clustering scores."""

import itertools

import numpy as np

from cdae_lite.metrics import chance_f1, clustering_scores, confusion_matrix, matched_scores, pairwise_scores
from cdae_lite.paper import f1_direction


def test_perfect_clustering_scores_one_and_relabelling_does_not_matter():
    t = np.repeat(np.arange(4), 25)
    for p in (t, (t + 1) % 4, np.array([3, 0, 2, 1])[t]):
        s = clustering_scores(t, p)
        assert s["f1"] == s["ari"] == s["pairwise_f1"] == s["accuracy"] == 1.0
        assert np.isclose(s["nmi"], 1.0)


def test_random_labels_have_ari_near_zero(rng):
    t = np.repeat(np.arange(4), 500)
    s = clustering_scores(t, rng.integers(0, 4, 2000))
    assert abs(s["ari"]) < 0.01 and s["accuracy"] < 0.3


def test_one_big_cluster():
    t = np.repeat(np.arange(4), 10)
    s = clustering_scores(t, np.zeros(40, int))
    assert np.isclose(s["pairwise_recall"], 1) and np.isclose(s["pairwise_precision"], (4 * 45) / 780)
    assert np.isclose(s["accuracy"], 0.25) and s["ari"] == 0.0


def test_pairwise_scores_agree_with_a_brute_force_count(rng):
    t = rng.integers(0, 3, 30)
    p = rng.integers(0, 4, 30)
    tp = fp = fn = 0
    for i, j in itertools.combinations(range(30), 2):
        same_c, same_t = p[i] == p[j], t[i] == t[j]
        tp += same_c and same_t
        fp += same_c and not same_t
        fn += same_t and not same_c
    s = pairwise_scores(t, p)
    assert np.isclose(s["precision"], tp / (tp + fp)) and np.isclose(s["recall"], tp / (tp + fn))


def test_matched_scores_and_confusion_matrix():
    t = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    p = np.array([5, 5, 7, 7, 7, 7, 9, 9])
    m = matched_scores(t, p)
    assert m["mapping"] == {5: 0, 7: 1, 9: 2}
    assert np.isclose(m["accuracy"], 7 / 8)
    # view 0: precision 2/2, recall 2/3; view 1: precision 3/4, recall 1; view 2: 1, 1
    f = [2 * 1 * (2 / 3) / (1 + 2 / 3), 2 * 0.75 / 1.75, 1.0]
    assert np.isclose(m["f1"], np.mean(f))
    assert confusion_matrix(t, p).tolist() == [[2, 1, 0], [0, 3, 0], [0, 0, 2]]


def test_matched_f1_against_hand_computed_cases():
    from cdae_lite.metrics import matched_scores

    assert matched_scores([0, 0, 0, 1, 1, 1], [1, 1, 1, 0, 0, 0])["f1"] == 1.0  # names of clusters do not matter
    # view 0: precision 2/2, recall 2/3 -> F1 0.8; view 1: precision 3/4, recall 3/3 -> F1 6/7
    assert abs(matched_scores([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1])["f1"] - (0.8 + 6 / 7) / 2) < 1e-12
    # everything in one cluster: view 0 matched (P 1/2, R 1 -> 2/3), view 1 unmatched (0)
    assert abs(matched_scores([0, 0, 1, 1], [5, 5, 5, 5])["f1"] - (2 / 3) / 2) < 1e-12


def test_chance_f1_is_what_random_labels_reach_and_falls_with_more_images():
    few, many = np.repeat(np.arange(4), 25), np.repeat(np.arange(4), 400)
    assert chance_f1(few) > chance_f1(many) > 0.25  # with few images per view random labels score higher
    assert chance_f1(few) == chance_f1(few)  # seeded
    assert chance_f1(few, quantile=0.5) < chance_f1(few)
    rng = np.random.default_rng(1)
    random_f1 = [matched_scores(few, rng.integers(0, 4, few.size))["f1"] for _ in range(200)]
    assert 0.9 < np.mean(np.array(random_f1) <= chance_f1(few)) <= 1.0  # about 99 in 100 at or below it


def test_f1_direction_names_ties_and_says_nothing_below_chance():
    assert f1_direction(0.31, 0.32, chance=0.33) is None  # both at or below chance: no direction
    assert f1_direction(0.34, 0.32, chance=0.33) == 1
    assert f1_direction(0.9, 0.898, chance=0.33) == 0
    assert f1_direction(0.5, 0.9, chance=0.33) == -1
