"""Neighbour-mean targets: the paper's fine-tuning targets (3.3), better ones, and a label-free score to stop the cascade early.

The paper averages each image's k = 30 nearest neighbours (PCA of the raw images; the search is
:mod:`cdae_lite.denoise.neighbours`) and uses the mean as the image's target: with the default
:class:`TargetConfig`, :func:`find_neighbourhoods` then :func:`neighbourhood_means`. A target is only
as good as its neighbours are pure (same view, :func:`neighbourhood_purity`) and many (noise variance
over k). Three changes that use no labels:

* **cluster-restricted**: the stack is first split by k-means in the same PCA space, and neighbours
  are searched only inside the image's cluster, so a neighbour of another view is rarer;
* **larger k with a distance threshold**: up to ``k`` neighbours, of which the first ``min_k`` are
  always kept and the others only when they lie within ``distance_factor`` times the ``min_k``-th
  neighbour's distance, so images in dense regions get many neighbours, isolated ones few;
* **features of denoised images**: neighbours found among images denoised by another model (for
  example the pre-trained network, or the previous block), where noise hides the view far less;
  the means are still taken of the *raw* images, whose noise is independent of the input's.

:func:`stopping_scores` scores each block's output against the means of *held-out* neighbours (the
next ``k`` nearest, not used in any target), in data units; its smallest value picks the block to
stop at without the truth. Its expectation is the output's squared error plus the held-out mean's
noise variance (the same for every block) plus the neighbours' impurity, so blocks are ranked as by
their true error when the neighbours are pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans

from cdae_lite.denoise.neighbours import knn, pca_features
from cdae_lite.images import check_images
from cdae_lite.metrics import psnr


@dataclass(frozen=True)
class TargetConfig:
    """Which neighbours are averaged into each image's target.

    Attributes
    ----------
    k : int
        Neighbours per image (at most ``k`` with a distance threshold); the paper's 30.
    n_components : int
        Principal components of the feature space.
    clusters : int or None
        Restrict neighbours to the image's k-means cluster (this many clusters in the feature
        space); None: the whole stack (the paper).
    min_k : int or None
        With a threshold: neighbours always kept; the rest of the ``k`` are kept only within
        ``distance_factor`` times the ``min_k``-th neighbour's distance. None: keep all ``k``.
    distance_factor : float
        The threshold's factor (>= 1).
    seed : int
        PCA and k-means seed.

    Raises
    ------
    ValueError
        If ``k < 1``, ``min_k`` is not from 1 to ``k``, ``clusters < 1`` or ``distance_factor < 1``.
    """

    k: int = 30
    n_components: int = 10
    clusters: int | None = None
    min_k: int | None = None
    distance_factor: float = 1.2
    seed: int = 0

    def __post_init__(self):
        if self.k < 1 or (self.min_k is not None and not 1 <= self.min_k <= self.k):
            raise ValueError(f"need k >= 1 and 1 <= min_k <= k, got k={self.k}, min_k={self.min_k}")
        if self.clusters is not None and self.clusters < 1 or self.distance_factor < 1:
            raise ValueError(f"need clusters >= 1 and distance_factor >= 1, got {self.clusters}, "
                             f"{self.distance_factor}")


@dataclass
class Neighbourhoods:
    """Each image's neighbours.

    Attributes
    ----------
    indices : numpy.ndarray
        int64 (n, k): each image's neighbours (indices into the stack), nearest first; never itself.
    keep : numpy.ndarray
        bool (n, k): which of them count (all, with the paper's targets).
    """

    indices: np.ndarray
    keep: np.ndarray

    @property
    def counts(self) -> np.ndarray:
        """Neighbours kept per image; int (n,)."""
        return self.keep.sum(axis=1)


def _knn_within(features: np.ndarray, groups: np.ndarray, k: int, device=None) -> tuple[np.ndarray, np.ndarray]:
    """k nearest neighbours inside each group; rows of small groups are padded and masked."""
    n = len(features)
    idx = np.zeros((n, k), np.int64)
    keep = np.zeros((n, k), bool)
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        if len(members) < 2:  # alone in its cluster: fall back to the whole stack
            idx[members] = knn(features, k, device=device)[members]
            keep[members] = True
            continue
        kg = min(k, len(members) - 1)
        idx[members, :kg] = members[knn(features[members], kg, device=device)]
        idx[members, kg:] = idx[members, :1]
        keep[members, :kg] = True
    return idx, keep


def find_neighbourhoods(images, config: TargetConfig = TargetConfig(), features=None,
                        device=None) -> Neighbourhoods:
    """Neighbourhoods of every image under ``config``.

    Parameters
    ----------
    images : array (n, size, size)
        The images whose features are searched (ignored when ``features`` is given).
    config : TargetConfig
        Which neighbours (``k``, PCA components, clusters, threshold, seed).
    features : array (n, d), optional
        Features to search instead of the images' PCA (for example
        :func:`~cdae_lite.denoise.neighbours.pca_features` of denoised images).
    device : str or torch.device, optional
        Where the search runs (default: the GPU when present).

    Returns
    -------
    Neighbourhoods
        With the default config, the paper's k nearest neighbours, all kept.

    Raises
    ------
    ValueError
        If the stack has no more than ``k`` images.
    """
    f = pca_features(images, config.n_components, config.seed) if features is None else np.asarray(features, np.float32)
    if config.k >= len(f):
        raise ValueError(f"k = {config.k} neighbours need at least {config.k + 1} images; got {len(f)}")
    if config.clusters is None or config.clusters == 1:
        idx, keep = knn(f, config.k, device=device), np.ones((len(f), config.k), bool)
    else:
        groups = KMeans(config.clusters, n_init=4, random_state=config.seed).fit_predict(f)
        idx, keep = _knn_within(f, groups, config.k, device=device)
    if config.min_k is not None:
        dist = np.linalg.norm(f[idx] - f[:, None], axis=2)
        limit = config.distance_factor * dist[:, config.min_k - 1:config.min_k]
        keep &= (dist <= limit) | (np.arange(config.k) < config.min_k)[None]
    return Neighbourhoods(idx, keep)


def neighbourhood_means(images, hoods: Neighbourhoods) -> np.ndarray:
    """Mean of each image's kept neighbours, the image itself excluded: the fine-tuning targets.

    Excluding the image keeps its own noise out of its target, so the target's noise is independent
    of the input's (as in Noise2Noise); with k pure neighbours the target's noise variance is the
    images' noise variance over k.

    Parameters
    ----------
    images : array (n, size, size)
        The images that are averaged (the raw ones, in data units).
    hoods : Neighbourhoods
        Each image's neighbours (:func:`find_neighbourhoods`).

    Returns
    -------
    numpy.ndarray
        float32 (n, size, size), in the images' units.

    Raises
    ------
    ValueError
        If ``hoods`` has another number of images than ``images``.
    """
    x = check_images(images)
    if hoods.indices.ndim != 2 or hoods.indices.shape[0] != len(x):
        raise ValueError(f"neighbourhoods of {hoods.indices.shape[0]} images for a stack of {len(x)}")
    out = np.empty_like(x)
    if hoods.keep.all():  # the paper's targets: a plain mean of the k neighbours, in blocks
        for i in range(0, len(x), 1024):
            out[i:i + 1024] = x[hoods.indices[i:i + 1024]].mean(axis=1)
        return out
    w = hoods.keep.astype(np.float32)
    for i in range(0, len(x), 512):
        sl = slice(i, i + 512)
        out[sl] = np.einsum("nk,nkyx->nyx", w[sl], x[hoods.indices[sl]]) / w[sl].sum(1)[:, None, None]
    return out


def neighbourhood_purity(hoods: Neighbourhoods, labels) -> np.ndarray:
    """Fraction of each image's kept neighbours that share its label (its true view).

    Parameters
    ----------
    hoods : Neighbourhoods
        Each image's neighbours.
    labels : array (n,)
        Each image's label (any type that compares with ``==``).

    Returns
    -------
    numpy.ndarray
        float64 (n,), from 0 to 1 (chance: the share of the image's label in the stack).
    """
    lab = np.asarray(labels)
    same = lab[hoods.indices] == lab[:, None]
    return (same & hoods.keep).sum(1) / hoods.keep.sum(1)


def heldout_means(images, features, k: int = 30, device=None) -> np.ndarray:
    """Mean of each image's neighbours ranked ``k + 1`` to ``2k`` (not used by k-neighbour targets).

    Parameters
    ----------
    images : array (n, size, size)
        The raw images that are averaged.
    features : array (n, d)
        The features the neighbours are ranked in.
    k : int
        Neighbours used in the targets; the next ``k`` are held out.
    device : str or torch.device, optional
        Where the search runs.

    Returns
    -------
    numpy.ndarray
        float32 (n, size, size), in the images' units.
    """
    x = check_images(images)
    idx = knn(features, 2 * k, device=device)[:, k:]
    return neighbourhood_means(x, Neighbourhoods(idx, np.ones(idx.shape, bool)))


def stopping_scores(outputs, heldout: np.ndarray) -> list[float]:
    """Label-free score of each block's output: mean squared difference from held-out neighbour means.

    Parameters
    ----------
    outputs : sequence of arrays (n, size, size)
        Each block's output, in data units.
    heldout : array (n, size, size)
        :func:`heldout_means` of the raw images.

    Returns
    -------
    list of float
        One per block, in squared data units; stop after the block with the smallest.
    """
    h = np.asarray(heldout, np.float64)
    return [float(np.mean((np.asarray(y, np.float64) - h) ** 2)) for y in outputs]


def compare_targets(noisy, clean, labels, choices: dict, features: dict | None = None, device=None) -> list[dict]:
    """Score several target choices against the truth (for the book; labels and truth only score).

    Parameters
    ----------
    noisy, clean : arrays (n, size, size)
        Raw images and their truth.
    labels : array (n,)
        True views, for purity.
    choices : dict
        Name -> ``(TargetConfig, feature name or None)``; None: PCA of the raw images.
    features : dict, optional
        Feature name -> array (n, d).
    device : str or torch.device, optional
        Where the searches run.

    Returns
    -------
    list of dict
        Per choice: ``targets`` (its name), ``target_psnr`` (dB, mean over images), ``purity`` (mean)
        and ``neighbours`` (mean count).
    """
    rows = []
    for name, (cfg, feat) in choices.items():
        hoods = find_neighbourhoods(noisy, cfg, None if feat is None else features[feat], device=device)
        rows.append({"targets": name, "target_psnr": float(psnr(neighbourhood_means(noisy, hoods), clean).mean()),
                     "purity": float(neighbourhood_purity(hoods, labels).mean()),
                     "neighbours": float(hoods.counts.mean())})
    return rows
