"""Fine-tuning targets beyond the paper, and a label-free score to stop the cascade early.

The paper averages each image's k = 30 nearest neighbours (PCA of the raw images) and uses the mean
as the image's target (:func:`cdae_lite.denoise.neighbours.neighbour_means`). A target is only as good as
its neighbours are pure (same view) and many (noise variance over k). Three changes that use no labels:

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

from cdae_lite.denoise.neighbours import knn, mean_targets, pca_features
from cdae_lite.images import check_images
from cdae_lite.metrics import psnr


@dataclass(frozen=True)
class TargetConfig:
    """Which neighbours are averaged into each image's target.

    Attributes
    ----------
    k : int -- neighbours per image (at most ``k`` with a distance threshold); the paper's 30.
    n_components : int -- principal components of the feature space.
    clusters : int | None -- restrict neighbours to the image's k-means cluster (this many clusters in
        the feature space); None: the whole stack (the paper).
    min_k : int | None -- with a threshold: neighbours always kept; the rest of the ``k`` are kept only
        within ``distance_factor`` times the ``min_k``-th neighbour's distance. None: keep all ``k``.
    distance_factor : float -- the threshold's factor (>= 1).
    seed : int -- PCA and k-means seed.
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
    """Each image's neighbours: ``indices`` int64 (n, k), nearest first; ``keep`` bool (n, k), which count."""

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
    images : array (n, size, size) -- the images whose features are searched (ignored when
        ``features`` is given).
    config : TargetConfig
    features : array (n, d), optional -- features to search instead of the images' PCA (for example
        :func:`~cdae_lite.denoise.neighbours.pca_features` of denoised images).
    device : torch device for the search.

    Returns
    -------
    Neighbourhoods -- with the default config, the paper's k nearest neighbours, all kept.
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
    """Mean of each image's kept neighbours (itself excluded); float32 (n, size, size).

    With every neighbour kept this is :func:`~cdae_lite.denoise.neighbours.mean_targets` (the paper's).
    """
    x = check_images(images)
    if hoods.indices.shape[0] != len(x):
        raise ValueError(f"neighbourhoods of {hoods.indices.shape[0]} images for a stack of {len(x)}")
    if hoods.keep.all():
        return mean_targets(x, hoods.indices)
    out = np.empty_like(x)
    w = hoods.keep.astype(np.float32)
    for i in range(0, len(x), 512):
        sl = slice(i, i + 512)
        out[sl] = np.einsum("nk,nkyx->nyx", w[sl], x[hoods.indices[sl]]) / w[sl].sum(1)[:, None, None]
    return out


def neighbourhood_purity(hoods: Neighbourhoods, labels) -> np.ndarray:
    """Fraction of each image's kept neighbours that share its label; float (n,)."""
    lab = np.asarray(labels)
    same = lab[hoods.indices] == lab[:, None]
    return (same & hoods.keep).sum(1) / hoods.keep.sum(1)


def heldout_means(images, features, k: int = 30, device=None) -> np.ndarray:
    """Mean of each image's neighbours ranked ``k + 1`` to ``2k`` (not used by k-neighbour targets).

    Parameters
    ----------
    images : array (n, size, size) -- the raw images that are averaged.
    features : array (n, d) -- the features the neighbours are ranked in.
    k : int -- neighbours used in the targets; the next ``k`` are held out.

    Returns
    -------
    float32 (n, size, size)
    """
    x = check_images(images)
    idx = knn(features, 2 * k, device=device)[:, k:]
    return neighbourhood_means(x, Neighbourhoods(idx, np.ones(idx.shape, bool)))


def stopping_scores(outputs, heldout: np.ndarray) -> list[float]:
    """Label-free score of each block's output: mean squared difference from held-out neighbour means.

    Parameters
    ----------
    outputs : sequence of arrays (n, size, size) -- each block's output, in data units.
    heldout : array (n, size, size) -- :func:`heldout_means` of the raw images.

    Returns
    -------
    list of float -- one per block; stop after the block with the smallest.
    """
    h = np.asarray(heldout, np.float64)
    return [float(np.mean((np.asarray(y, np.float64) - h) ** 2)) for y in outputs]


def compare_targets(noisy, clean, labels, choices: dict, features: dict | None = None, device=None) -> list[dict]:
    """Score several target choices against the truth (for the book; labels and truth only score).

    Parameters
    ----------
    noisy, clean : arrays (n, size, size) -- raw images and their truth.
    labels : array (n,) -- true views, for purity.
    choices : dict name -> (TargetConfig, feature name or None) -- None: PCA of the raw images.
    features : dict feature name -> array (n, d), optional.

    Returns
    -------
    list of dict -- per choice: ``target_psnr`` (dB, mean), ``purity`` (mean), ``neighbours`` (mean count).
    """
    rows = []
    for name, (cfg, feat) in choices.items():
        hoods = find_neighbourhoods(noisy, cfg, None if feat is None else features[feat], device=device)
        rows.append({"targets": name, "target_psnr": float(psnr(neighbourhood_means(noisy, hoods), clean).mean()),
                     "purity": float(neighbourhood_purity(hoods, labels).mean()),
                     "neighbours": float(hoods.counts.mean())})
    return rows
