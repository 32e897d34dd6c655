"""Chapter 5 (clustering by view): matched macro F1, cluster purity, class averages.

Each exercise has a reference solution ``solution_<name>`` and a check ``check_<name>``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment

from cdae_lite import metrics
from cdae_lite.cluster import class_averages
from cdae_lite.exercises.feedback import Feedback, as_array, call, checked, exercises, ok, rule_out, toy_stack, wrong


def _table(labels_true: np.ndarray, labels_pred: np.ndarray) -> np.ndarray:
    views, t = np.unique(labels_true, return_inverse=True)
    clusters, p = np.unique(labels_pred, return_inverse=True)
    table = np.zeros((len(views), len(clusters)), np.int64)
    np.add.at(table, (t, p), 1)
    return table


def solution_matched_f1(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Macro F1 over views after matching clusters to views one to one (Hungarian algorithm).

    Parameters
    ----------
    labels_true : numpy.ndarray
        int, shape (n,): the view of each image.
    labels_pred : numpy.ndarray
        int, shape (n,): the cluster of each image (any numbering).

    Returns
    -------
    float
        The mean over views of each view's F1 with its matched cluster (0 for an unmatched view).
    """
    table = _table(labels_true, labels_pred)  # views x clusters counts
    rows, cols = linear_sum_assignment(-table)  # the one-to-one matching with the most images
    f1 = np.zeros(table.shape[0])
    for r, c in zip(rows, cols):
        precision, recall = table[r, c] / table[:, c].sum(), table[r, c] / table[r].sum()
        f1[r] = 2 * precision * recall / (precision + recall) if table[r, c] else 0.0
    return float(f1.mean())


def _f1_mistakes(t: np.ndarray, p: np.ndarray) -> dict[str, float]:
    table = _table(t, p)
    greedy = []
    for r in range(table.shape[0]):  # each view its best cluster, clusters reused
        c = int(np.argmax(table[r]))
        pr, rc = table[r, c] / table[:, c].sum(), table[r, c] / table[r].sum()
        greedy.append(2 * pr * rc / (pr + rc))
    from sklearn.metrics import f1_score
    return {
        "you compared cluster numbers with view numbers directly; cluster 0 need not be view 0: match "
        "clusters to views first (scipy.optimize.linear_sum_assignment on the negated counts table)":
            float(f1_score(t, p, average="macro")),
        "you counted the images whose cluster number equals their view number; cluster 0 need not be view 0: "
        "match clusters to views first (linear_sum_assignment), then average each view's F1": float(np.mean(t == p)),
        "each view took its best cluster, so two views can share one cluster; the matching must be one to "
        "one (linear_sum_assignment)": float(np.mean(greedy)),
        "you computed the accuracy (micro average); the matched F1 is the mean of the per-view F1 (macro)":
            metrics.matched_scores(t, p)["accuracy"],
        "you computed the pairwise (pair-counting) F1; this exercise asks for the matched, per-view F1":
            metrics.pairwise_scores(t, p)["f1"],
    }


def _label_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    t = np.repeat(np.arange(4), 10)
    rng = np.random.default_rng(10)
    noisy = np.where(rng.random(40) < 0.3, rng.integers(0, 4, 40), (t + 1) % 4)
    uneven = np.where(t == 3, 2, (t + 2) % 4)
    uneven[:3] = 1
    return [(t, (t + 1) % 4), (t, np.zeros(40, np.int64)), (t, noisy), (t, uneven)]


@checked
def check_matched_f1(matched_f1: Callable) -> Feedback:
    """Check a student's ``matched_f1(labels_true, labels_pred)`` on four clusterings of 4 views."""
    cases = _label_cases()
    got = as_array([float(np.asarray(call(matched_f1, t.copy(), p.copy())).ravel()[0]) for t, p in cases],
                   (len(cases),), "the F1 values")
    want = np.array([metrics.matched_scores(t, p)["f1"] for t, p in cases])
    per_case = [_f1_mistakes(t, p) for t, p in cases]
    rule_out(got, {m: np.array([c[m] for c in per_case]) for m in per_case[0]}, rtol=1e-6)
    if not np.allclose(got, want, atol=1e-6):
        bad = int(np.argmax(np.abs(got - want)))
        return wrong(f"on case {bad + 1} you get {got[bad]:.3f}, metrics.matched_scores gives {want[bad]:.3f}: "
                     "per view, F1 = 2 P R / (P + R) with its matched cluster, then the mean over views")
    return ok(f"matched F1 {', '.join(f'{v:.3f}' for v in got)} on the four test clusterings "
              "(a relabelled perfect one, all in one cluster, a noisy one, two views merged)")


def solution_cluster_purity(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Purity of a clustering: the fraction of images in their cluster's majority view.

    Parameters
    ----------
    labels_true, labels_pred : numpy.ndarray
        int, shape (n,): views and clusters.

    Returns
    -------
    float
        In (0, 1].
    """
    table = _table(labels_true, labels_pred)
    return float(table.max(axis=0).sum() / table.sum())


@checked
def check_cluster_purity(cluster_purity: Callable) -> Feedback:
    """Check a student's ``cluster_purity(labels_true, labels_pred)`` on four clusterings of 4 views."""
    t = np.repeat(np.arange(4), 10)
    split = t * 2 + (np.arange(40) % 2)  # every view split in two clusters: pure, purity 1
    cases = _label_cases() + [(t, split)]
    got = as_array([float(np.asarray(call(cluster_purity, a.copy(), b.copy())).ravel()[0]) for a, b in cases],
                   (len(cases),), "the purities")
    tables = [_table(a, b) for a, b in cases]
    rule_out(got, {
        "you took each view's largest cluster (inverse purity); purity asks, for each cluster, how many of "
        "its images belong to its majority view: max over axis 0 of the views x clusters table":
            np.array([tb.max(axis=1).sum() / tb.sum() for tb in tables]),
        "you averaged the clusters' purities, so a cluster of 2 images weighs as much as one of 20; "
        "count images: sum of the majority counts / number of images":
            np.array([np.mean(tb.max(axis=0) / tb.sum(axis=0)) for tb in tables]),
        "you returned a count; purity is a fraction, divide by the number of images":
            np.array([tb.max(axis=0).sum() for tb in tables]),
    }, rtol=1e-6)
    want = np.array([solution_cluster_purity(a, b) for a, b in cases])
    if not np.allclose(got, want):
        return wrong("purity = (sum over clusters of the count of their majority view) / number of images")
    return ok(f"purity {', '.join(f'{v:.3f}' for v in got)}; note the last case: 8 clusters for 4 views are "
              "perfectly pure, which is why purity is reported beside the matched F1")


def solution_class_means(images: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Class averages: the mean image of each cluster ``0 .. k - 1``.

    Parameters
    ----------
    images : numpy.ndarray
        Shape (n, size, size).
    labels : numpy.ndarray
        int, shape (n,): cluster of each image, in ``0 .. k - 1``.
    k : int
        Number of clusters.

    Returns
    -------
    numpy.ndarray
        Shape (k, size, size); an empty cluster's average is zeros.
    """
    out = np.zeros((k,) + images.shape[1:], np.float64)
    for c in range(k):
        if np.any(labels == c):
            out[c] = images[labels == c].mean(axis=0)
    return out


@checked
def check_class_means(class_means: Callable) -> Feedback:
    """Check a student's ``class_means(images, labels, k)`` against ``cdae_lite.cluster.class_averages``."""
    clean, views = toy_stack(24, 16, seed=11)
    x = (clean + np.random.default_rng(11).normal(size=clean.shape)).astype(np.float32)
    labels = (views + 1) % 4
    labels[:3] = 0  # clusters of unequal sizes
    got = as_array(call(class_means, x.copy(), labels.copy(), 4), (4,) + x.shape[1:], "the class averages")
    want = class_averages(x, labels, 4)
    rule_out(got, {
        "you summed each cluster's images; a class average divides by the cluster's size (.mean(axis=0))":
            np.stack([x[labels == c].sum(axis=0) for c in range(4)]),
        "your averages are in the order of the views; index them by cluster number, 0 .. k - 1":
            np.stack([x[views == v].mean(axis=0) for v in range(4)]),
        "every average is the mean of the whole stack: select the images of cluster c, images[labels == c]":
            np.repeat(x.mean(axis=0)[None], 4, axis=0),
    }, rtol=1e-4)
    if not np.allclose(got, want, atol=1e-5):
        return wrong("the averages differ from images[labels == c].mean(axis=0) for c = 0 .. k - 1")
    noise = x - clean
    snr_gain = float(noise.var() / noise[labels == 1].mean(axis=0).var())
    return ok(f"4 class averages as cluster.class_averages; averaging n images divides the noise variance "
              f"by about n ({snr_gain:.1f} for a cluster of {int((labels == 1).sum())})")


EXERCISES = exercises(globals(), "matched_f1", "cluster_purity", "class_means")
