"""Chapter 3 (fine-tuning on mean images): nearest neighbours, neighbour-mean targets, purity.

Each exercise has a reference solution ``solution_<name>`` and a check ``check_<name>``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from cdae_lite.denoise import knn
from cdae_lite.exercises.feedback import (Feedback, as_array, call, checked, exercises, ok, per_image, rule_out,
                                          toy_stack, wrong)


def solution_nearest_neighbours(features: np.ndarray, k: int) -> np.ndarray:
    """Indices of each row's ``k`` nearest other rows (Euclidean), nearest first.

    Parameters
    ----------
    features : numpy.ndarray
        Shape (n, d), e.g. PCA scores of the images.
    k : int
        Number of neighbours, ``1 <= k < n``.

    Returns
    -------
    numpy.ndarray
        int, shape (n, k); row ``i`` never contains ``i``.
    """
    d = ((features[:, None, :] - features[None, :, :]) ** 2).sum(axis=-1)
    np.fill_diagonal(d, np.inf)  # an image is not its own neighbour
    return np.argsort(d, axis=1)[:, :k]


@checked
def check_nearest_neighbours(nearest_neighbours: Callable) -> Feedback:
    """Check a student's ``nearest_neighbours(features, k)`` on 40 random points against
    ``cdae_lite.denoise.knn``."""
    f = np.random.default_rng(5).normal(size=(40, 5)).astype(np.float32)
    k = 6
    out = np.asarray(call(nearest_neighbours, f.copy(), k))
    n = len(f)
    if out.shape == (n, k + 1) and np.array_equal(out[:, 0], np.arange(n)):
        return wrong("you kept each image as its own nearest neighbour (distance 0) plus k others; "
                     "exclude the image itself: set the distance matrix's diagonal to inf")
    got = as_array(out, (n, k), "the neighbour indices")
    if out.dtype.kind not in "iu":
        return wrong(f"indices must be integers, got dtype {out.dtype}: argsort returns them")
    d = ((f[:, None].astype(np.float64) - f[None]) ** 2).sum(-1)
    want = knn(f, k, device="cpu")
    rule_out(got, {
        "each image is its own nearest neighbour (distance 0): exclude it, set the diagonal of the "
        "distance matrix to inf before sorting": np.argsort(d, axis=1)[:, :k],
        "you took the farthest rows: sort distances in increasing order (np.argsort without reversing)":
            np.argsort(-np.where(np.eye(n, dtype=bool), -np.inf, d), axis=1)[:, :k],
    }, rtol=1e-9)
    if not np.array_equal(got, want):
        same_sets = all(set(a) == set(b) for a, b in zip(got.astype(int), want))
        return wrong("the right neighbours, not ordered nearest first: sort each row's distances"
                     if same_sets else "some neighbours are not the nearest: compare squared Euclidean distances "
                     "between rows of the features")
    return ok(f"{k} nearest neighbours of each of {n} images, nearest first, as denoise.knn")


def solution_neighbour_means(images: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """The paper's fine-tuning target of each image: the mean of its neighbours (itself excluded).

    Parameters
    ----------
    images : numpy.ndarray
        Shape (n, size, size).
    neighbours : numpy.ndarray
        int, shape (n, k): each image's neighbours.

    Returns
    -------
    numpy.ndarray
        Shape (n, size, size).
    """
    return images[neighbours].mean(axis=1)


@checked
def check_neighbour_means(neighbour_means: Callable) -> Feedback:
    """Check a student's ``neighbour_means(images, neighbours)`` on 24 toy images with 4 pure neighbours each."""
    clean, labels = toy_stack(24, 16, seed=6)
    x = (clean + np.random.default_rng(6).normal(size=clean.shape)).astype(np.float32)
    idx = np.stack([np.flatnonzero((labels == labels[i]) & (np.arange(len(x)) != i))[:4] for i in range(len(x))])
    got = as_array(call(neighbour_means, x.copy(), idx.copy()), x.shape, "the targets")
    want = solution_neighbour_means(x, idx)
    k = idx.shape[1]
    rule_out(got, {
        "your target includes the image itself: its own noise then leaks into its target, which the network "
        "learns to copy; average only the k neighbours": (x + x[idx].sum(axis=1)) / (k + 1),
        "you summed the neighbours; the target is their mean (divide by k)": x[idx].sum(axis=1),
        "you used only the nearest neighbour; average all k of them (axis=1 of images[neighbours])": x[idx[:, 0]],
        "you took the median; the paper's target is the mean of the neighbours": np.median(x[idx], axis=1),
    })
    if not np.allclose(got, want, atol=1e-5):
        return wrong("the targets differ from images[neighbours].mean(axis=1): index the stack with the "
                     "(n, k) array and average over the k axis")
    noise = float((want - solution_neighbour_means(clean, idx)).var() / (x - clean).var())
    return ok(f"targets as the paper's fine-tuning builds them; their noise variance is {noise:.2f} of the images' "
              f"(1/k = {1 / k:.2f} with k = {k} pure neighbours)")


def solution_neighbour_purity(neighbours: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Fraction of each image's neighbours that show its view.

    Parameters
    ----------
    neighbours : numpy.ndarray
        int, shape (n, k).
    labels : numpy.ndarray
        int, shape (n,): the true view of each image.

    Returns
    -------
    numpy.ndarray
        float, shape (n,), in [0, 1].
    """
    return (labels[neighbours] == labels[:, None]).mean(axis=1)


@checked
def check_neighbour_purity(neighbour_purity: Callable) -> Feedback:
    """Check a student's ``neighbour_purity(neighbours, labels)``: 30 images, 3 views, random neighbours."""
    rng = np.random.default_rng(7)
    labels = np.arange(30) % 3
    idx = np.stack([rng.choice(np.delete(np.arange(30), i), 5, replace=False) for i in range(30)])
    out = call(neighbour_purity, idx.copy(), labels.copy())
    got = per_image(out, 30, "the purity",
                    "you returned one number; return the purity of each image (mean over axis 1), "
                    "then average it yourself if you want one number")
    want = solution_neighbour_purity(idx, labels)
    rule_out(got, {
        "you counted the neighbours that share the view; purity is the fraction: divide by k (.mean(axis=1))":
            (labels[idx] == labels[:, None]).sum(axis=1),
        "you computed the impurity (neighbours of another view); purity counts those that share the view":
            1 - want,
        "you compared with the first neighbour's view; compare each neighbour's view with the image's own, "
        "labels[:, None]": (labels[idx] == labels[idx[:, :1]]).mean(axis=1),
    })
    if not np.allclose(got, want):
        return wrong("the purity differs from (labels[neighbours] == labels[:, None]).mean(axis=1)")
    return ok(f"mean purity {got.mean():.3f} for random neighbours among 3 views (chance: 1/3 minus a little, "
              "since an image is not its own neighbour)")


EXERCISES = exercises(globals(), "nearest_neighbours", "neighbour_means", "neighbour_purity")
