"""How good is a clustering against the true views: matched and pairwise precision, recall and F1.

Two definitions of precision / recall / F1 for a clustering against true views:

- **pairwise** (pair counting, :func:`~cdae_lite.metrics.pairwise_scores`): a pair of images is a true
  positive when it shares a cluster and a view; precision = TP / (pairs sharing a cluster), recall =
  TP / (pairs sharing a view); one big cluster has recall 1 and precision 1/K;
- **matched** (:func:`~cdae_lite.metrics.matched_scores`): clusters matched one-to-one to views
  (Hungarian) so that most images agree, P/R/F1 per view, macro-averaged; one big cluster scores
  accuracy 1/K. The book's tables use these.
"""

from __future__ import annotations

import numpy as np


def _labels(labels_true, labels_pred) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(labels_true).ravel(), np.asarray(labels_pred).ravel()
    if t.shape != p.shape:
        raise ValueError(f"{t.size} true labels but {p.size} predicted labels")
    if t.size == 0:
        raise ValueError("no labels to compare")
    return t, p


def contingency(labels_true, labels_pred) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of images per (true class, cluster).

    Parameters
    ----------
    labels_true, labels_pred : array_like
        ``(n,)`` each, every image's true class and its cluster (ints or strings; any values).

    Returns
    -------
    table : numpy.ndarray
        ``(n_classes, n_clusters)`` int64, the number of images of each class in each cluster.
    classes : numpy.ndarray
        ``(n_classes,)``, the distinct true labels, sorted (the table's rows).
    clusters : numpy.ndarray
        ``(n_clusters,)``, the distinct predicted labels, sorted (the table's columns).

    Raises
    ------
    ValueError
        Label arrays of different lengths, or no labels.
    """
    t, p = _labels(labels_true, labels_pred)
    classes, ti = np.unique(t, return_inverse=True)
    clusters, pi = np.unique(p, return_inverse=True)
    table = np.zeros((len(classes), len(clusters)), np.int64)
    np.add.at(table, (ti, pi), 1)
    return table, classes, clusters


def pairwise_scores(labels_true, labels_pred) -> dict:
    """Pair-counting precision, recall and F1 (defined in :mod:`cdae_lite.metrics.clustering`).

    Parameters
    ----------
    labels_true, labels_pred : array_like
        ``(n,)`` each, every image's true view and its cluster.

    Returns
    -------
    dict
        ``precision``, ``recall`` and ``f1``: floats in [0, 1] (0 where no pair shares a cluster, or a view).
    """
    table, _, _ = contingency(labels_true, labels_pred)

    def pairs(x):
        x = np.asarray(x, np.float64)
        return float((x * (x - 1) / 2).sum())

    tp = pairs(table)
    same_cluster, same_class = pairs(table.sum(0)), pairs(table.sum(1))
    precision = tp / same_cluster if same_cluster else 0.0
    recall = tp / same_class if same_class else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def matched_scores(labels_true, labels_pred) -> dict:
    """Per-view precision, recall and F1 after matching clusters to views (Hungarian), macro-averaged.

    Unmatched clusters (more clusters than views) count as errors; so do the images of an unmatched
    view (more views than clusters).

    Parameters
    ----------
    labels_true : array_like
        ``(n,)`` int, every image's true view.
    labels_pred : array_like
        ``(n,)``, every image's cluster (ints or strings).

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (floats in [0, 1], means over the views), ``accuracy`` (float,
        the fraction of images whose cluster is matched to their view) and ``mapping`` (dict
        ``{cluster: view}``, ints, for the matched clusters).
    """
    from scipy.optimize import linear_sum_assignment

    table, classes, clusters = contingency(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(-table)
    mapping = {clusters[c]: classes[r] for r, c in zip(rows, cols)}
    p_list, r_list, f_list = [], [], []
    for r in range(len(classes)):
        match = cols[rows == r]
        tp = float(table[r, match[0]]) if len(match) else 0.0
        pred = float(table[:, match[0]].sum()) if len(match) else 0.0
        true = float(table[r].sum())
        prec = tp / pred if pred else 0.0
        rec = tp / true if true else 0.0
        p_list.append(prec)
        r_list.append(rec)
        f_list.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return {"precision": float(np.mean(p_list)), "recall": float(np.mean(r_list)),
            "f1": float(np.mean(f_list)), "accuracy": float(table[rows, cols].sum() / table.sum()),
            "mapping": {int(k) if np.issubdtype(type(k), np.integer) else k: int(v) for k, v in mapping.items()}}


def clustering_scores(labels_true, labels_pred) -> dict:
    """Everything the book reports for one clustering: matched P/R/F1, accuracy, pairwise P/R/F1, ARI, NMI.

    Parameters
    ----------
    labels_true : array_like
        ``(n,)`` int, every image's true view.
    labels_pred : array_like
        ``(n,)``, every image's cluster.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``accuracy`` (:func:`~cdae_lite.metrics.matched_scores`),
        ``pairwise_precision``, ``pairwise_recall``, ``pairwise_f1``
        (:func:`~cdae_lite.metrics.pairwise_scores`), ``ari`` (adjusted Rand index, at most 1, 0 for
        chance) and ``nmi`` (normalised mutual information, in [0, 1]): floats; ``n_clusters`` (int,
        the distinct predicted labels).

    Raises
    ------
    ValueError
        Label arrays of different lengths, or no labels.
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    t, p = _labels(labels_true, labels_pred)
    m = matched_scores(t, p)
    pw = pairwise_scores(t, p)
    return {"precision": m["precision"], "recall": m["recall"], "f1": m["f1"], "accuracy": m["accuracy"],
            "pairwise_precision": pw["precision"], "pairwise_recall": pw["recall"], "pairwise_f1": pw["f1"],
            "ari": float(adjusted_rand_score(t, p)), "nmi": float(normalized_mutual_info_score(t, p)),
            "n_clusters": int(len(np.unique(p)))}


def confusion_matrix(labels_true, labels_pred) -> np.ndarray:
    """Views x clusters counts, clusters reordered to their matched views (unmatched ones last).

    Parameters
    ----------
    labels_true, labels_pred : array_like
        ``(n,)`` each, as in :func:`pairwise_scores`.

    Returns
    -------
    numpy.ndarray
        ``(n_views, n_clusters)`` int64: rows the views in sorted order; columns the matched clusters
        (Hungarian) in the order of their views, then the unmatched ones.
    """
    from scipy.optimize import linear_sum_assignment

    table, _, _ = contingency(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(-table)
    order = list(cols[np.argsort(rows)]) + [c for c in range(table.shape[1]) if c not in cols]
    return table[:, order]


def chance_f1(labels_true, n_clusters: int | None = None, draws: int = 200, quantile: float = 0.99,
              seed: int = 0) -> float:
    """The matched F1 that random labels reach: an F1 at or below it tells nothing about the views.

    Labels drawn uniformly from ``n_clusters`` clusters are scored against ``labels_true``
    (:func:`~cdae_lite.metrics.matched_scores`) ``draws`` times; the ``quantile`` of those F1 scores is returned. With
    few images per view random labels score well above ``1 / K``, which is why a fixed chance line misleads.

    Parameters
    ----------
    labels_true : array_like
        ``(n,)`` int, every image's true view.
    n_clusters : int, optional
        Clusters of the random labels; the number of views when None.
    draws : int, optional
        Random labellings scored.
    quantile : float, optional
        In (0, 1]: the share of random labellings at or below the returned F1.
    seed : int, optional
        Seed of the random labels: the same call gives the same number.

    Returns
    -------
    float
        A matched F1 in [0, 1].

    Examples
    --------
    >>> views = np.repeat(np.arange(4), 100)
    >>> 0.25 < chance_f1(views) < 0.4
    True
    """
    t = np.asarray(labels_true).ravel()
    if t.size == 0 or draws < 1 or not 0 < quantile <= 1:
        raise ValueError(f"chance_f1 needs labels, draws >= 1 and a quantile in (0, 1]: got {t.size} labels, "
                         f"{draws} draws, quantile {quantile}")
    k = n_clusters or len(np.unique(t))
    rng = np.random.default_rng(seed)
    scores = [matched_scores(t, rng.integers(0, k, t.size))["f1"] for _ in range(draws)]
    return float(np.quantile(scores, quantile))
