"""How good is a denoised image, and how good is a clustering?

Image metrics compare an estimate with the clean reference, image by image, and return one number per
image (``(n,)`` arrays); tables report their mean and standard deviation.

- **PSNR** (dB) ``= 10 log10(R^2 / MSE)`` with ``MSE`` the mean squared difference over the box and
  ``R`` the *reference image's* range ``max - min`` (per image), in the units of the noisy input. It
  equals ``skimage.metrics.peak_signal_noise_ratio(ref, est, data_range=R)``. Identical images give
  ``inf``. With histogram equalisation (``he=True``) the estimate is equalised to [0, 1] and compared
  with the reference scaled to [0, 1] (``R = 1``), as the paper's "with HEE" columns.
- **SSIM**: ``skimage.metrics.structural_similarity`` with the same ``R``.
- **FRC**: Fourier ring correlation between estimate and reference, per ring of spatial frequency.

PSNR alone cannot tell a denoiser that loses structure from one that only shrinks contrast (a
faithful image at half its contrast loses about 6 dB). Three numbers tell them apart:

- **gain**: the slope of the estimate regressed on the reference, per image (1: contrast kept; 0.5:
  halved; it is about the contrast the estimate carries, not its noise);
- **correlation**: Pearson correlation with the reference (shape, whatever the scale);
- **affine PSNR** (an *oracle*: it uses the truth): the PSNR after the best per-image affine map
  ``a * estimate + b`` onto the reference, i.e. what the estimate would score with its contrast and
  offset put right. ``affine PSNR - PSNR`` is the part of the loss that is contrast and offset.

An output that turns every view into one centred blob can score a good PSNR on a mostly empty box:
:func:`view_fidelity` tells whether outputs still tell the views apart, or are **collapsed**.

Without a truth (real particles), :func:`support_mask` takes a particle's support from a trusted
estimate and :func:`outside_ratio` measures how much an output shows outside it.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

from cdae_lite.images import check_images, equalize_hist, minmax


def _pair(estimate, reference) -> tuple[np.ndarray, np.ndarray]:
    e, r = check_images(estimate, "estimate"), check_images(reference, "reference")
    if e.shape != r.shape:
        raise ValueError(f"estimate {e.shape} and reference {r.shape} differ in shape")
    return e, r


def psnr(estimate, reference, data_range: float | np.ndarray | None = None, he: bool = False) -> np.ndarray:
    """Peak signal-to-noise ratio of each image, dB; shape (n,).

    Parameters
    ----------
    estimate, reference : arrays (n, size, size)
    data_range : float or array (n,), optional -- default: each reference image's max - min.
    he : bool -- histogram-equalise the estimate and min-max scale the reference first.
    """
    e, r = _pair(estimate, reference)
    if he:
        e, r, data_range = equalize_hist(e), minmax(r), 1.0
    e64, r64 = e.astype(np.float64), r.astype(np.float64)
    rng = np.ptp(r64, axis=(1, 2)) if data_range is None else np.broadcast_to(
        np.asarray(data_range, np.float64), (len(r64),))
    mse = ((e64 - r64) ** 2).mean(axis=(1, 2))
    with np.errstate(divide="ignore"):
        return np.where(mse > 0, 10 * np.log10(rng**2 / np.where(mse > 0, mse, 1)), np.inf)


def _centred(estimate, reference) -> tuple[np.ndarray, np.ndarray]:
    e, r = _pair(estimate, reference)
    e64 = e.reshape(len(e), -1).astype(np.float64)
    r64 = r.reshape(len(r), -1).astype(np.float64)
    return e64 - e64.mean(1, keepdims=True), r64 - r64.mean(1, keepdims=True)


def gain(estimate, reference) -> np.ndarray:
    """Contrast gain of each image: the least-squares slope of the estimate on the reference; (n,).

    ``sum((e - mean e)(r - mean r)) / sum((r - mean r)^2)`` over each image's pixels. An estimate
    ``a * reference + b + independent noise`` has gain ``a`` (up to the noise's chance correlation).
    A constant reference gives ``nan``.

    Examples
    --------
    >>> r = np.random.default_rng(0).normal(size=(2, 16, 16))
    >>> gain(0.5 * r + 3, r).round(6).tolist()
    [0.5, 0.5]
    """
    e, r = _centred(estimate, reference)
    rr = (r * r).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rr > 0, (e * r).sum(1) / np.where(rr > 0, rr, 1), np.nan)


def correlation(estimate, reference) -> np.ndarray:
    """Pearson correlation of each estimate with its reference; (n,), ``nan`` for a constant image.

    >>> r = np.random.default_rng(0).normal(size=(1, 8, 8))
    >>> correlation(-2 * r, r).round(6).tolist()
    [-1.0]
    """
    e, r = _centred(estimate, reference)
    den = np.sqrt((e * e).sum(1) * (r * r).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (e * r).sum(1) / np.where(den > 0, den, 1), np.nan)


def support_mask(reference, sigma_px: float = 3.0, fraction: float = 0.3, radius_fraction: float = 0.4) -> np.ndarray:
    """Where a centred particle is, per image: ``(n, size, size)`` bool.

    Without ground truth the particle's support is taken from a trusted estimate (for real particles,
    BM3D's output): each image's deviation from its background level (the median outside a circle of
    ``radius_fraction`` of the box) is taken in absolute value, so that dark and bright densities (and
    the fringes a CTF leaves) both count, smoothed by a Gaussian of ``sigma_px`` pixels, and the pixels
    above ``fraction`` of the largest smoothed value inside that circle are kept, inside the circle
    only (particles are centred in their boxes; what lies near the edges, such as carbon or a
    neighbour, is not the particle). The smoothing gives the support a margin of a few pixels.
    """
    from scipy.ndimage import gaussian_filter

    x = check_images(reference).astype(np.float64)
    size = x.shape[-1]
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    inner = np.hypot(yy, xx) < radius_fraction * size
    dev = np.abs(x - np.median(x[:, ~inner], axis=1)[:, None, None])
    sm = np.stack([gaussian_filter(im, sigma_px) for im in dev])
    top = np.where(inner, sm, -np.inf).reshape(len(sm), -1).max(1)[:, None, None]
    return (sm > fraction * np.maximum(top, 1e-12)) & inner


def outside_ratio(estimate, mask) -> np.ndarray:
    """How much an estimate shows outside a particle's support relative to inside it; (n,).

    The root-mean-square deviation from the image's median outside ``mask`` over that inside: near 0
    for a clean particle on a flat background, about 1 for pure noise, above 1 when an estimate puts
    more density outside the particle than on it. ``nan`` where the mask is empty or full.

    >>> m = np.zeros((1, 8, 8), bool); m[0, 2:6, 2:6] = True
    >>> float(outside_ratio(m.astype(float), m)[0])
    0.0
    """
    e = check_images(estimate).astype(np.float64)
    m = np.asarray(mask, bool)
    if m.shape != e.shape:
        raise ValueError(f"mask {m.shape} and estimate {e.shape} differ in shape")
    out = np.full(len(e), np.nan)
    for i, (im, mi) in enumerate(zip(e, m)):
        if mi.any() and not mi.all():
            d = im - np.median(im)
            inside = np.sqrt(np.mean(d[mi] ** 2))
            out[i] = np.sqrt(np.mean(d[~mi] ** 2)) / inside if inside > 0 else np.nan
    return out


def affine_psnr(estimate, reference, data_range: float | np.ndarray | None = None) -> np.ndarray:
    """PSNR (dB) after the best affine map ``a * estimate + b`` of each image onto its reference; (n,).

    An **oracle**: ``a`` and ``b`` are fitted to the truth, so no method can use it in practice. It
    measures the structure an estimate carries, forgiving contrast and offset; never below
    :func:`psnr` (the identity map is one of the affine maps). A constant estimate is fitted by its
    best constant (the reference's mean).

    >>> r = np.random.default_rng(0).normal(size=(1, 8, 8))
    >>> est = 0.3 * r - 1  # the structure intact, the contrast shrunk and shifted
    >>> float(psnr(est, r)[0]) < 11, float(affine_psnr(est, r)[0]) > 100
    (True, True)
    """
    e, r = _centred(estimate, reference)
    ee = (e * e).sum(1)
    a = np.where(ee > 0, (e * r).sum(1) / np.where(ee > 0, ee, 1), 0.0)
    mse = ((a[:, None] * e - r) ** 2).mean(1)
    rng = np.ptp(r, axis=1) if data_range is None else np.broadcast_to(  # the range ignores the offset
        np.asarray(data_range, np.float64), (len(r),))
    with np.errstate(divide="ignore"):
        return np.where(mse > 1e-20 * rng**2, 10 * np.log10(rng**2 / np.where(mse > 0, mse, 1)), np.inf)


def image_scores(estimate, reference) -> dict:
    """Mean PSNR, gain, correlation and affine PSNR (oracle) of a stack of estimates, and their count.

    The numbers every PSNR table of the book reports side by side; keys ``psnr``, ``gain``,
    ``correlation``, ``affine_psnr`` (means over the images) and ``n``.
    """
    return {"psnr": float(np.mean(psnr(estimate, reference))), "gain": float(np.nanmean(gain(estimate, reference))),
            "correlation": float(np.nanmean(correlation(estimate, reference))),
            "affine_psnr": float(np.mean(affine_psnr(estimate, reference))), "n": int(len(check_images(estimate)))}


COLLAPSE_CORRELATION = 0.99  # outputs of two views alike above this (their clean images less): collapsed
CHANCE_TOLERANCE = 0.1  # view accuracy within this of chance (1 / number of views): collapsed


def _unit_rows(x: np.ndarray) -> np.ndarray:  # each image centred and scaled to norm 1, flattened
    z = _centred(x, x)[0]
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-300)


def _view_margins(z: np.ndarray, zc: np.ndarray, lab: np.ndarray, views: np.ndarray, per_view: int) -> np.ndarray:
    """Own view's best correlation minus the best other view's, per image (see :func:`view_fidelity`)."""
    scores = np.full((len(z), len(views)), -np.inf)
    for k, v in enumerate(views):
        members = np.flatnonzero(lab == v)
        refs = members[np.linspace(0, len(members) - 1, min(per_view, len(members))).round().astype(int)]
        corr = z @ zc[refs].T
        corr[refs[None, :] == np.arange(len(z))[:, None]] = -np.inf  # never an image's own clean image
        scores[:, k] = corr.max(axis=1)
    own = (np.arange(len(z)), np.searchsorted(views, lab))
    mine, scores[own] = scores[own].copy(), -np.inf
    return mine - scores.max(axis=1)


def view_fidelity(estimate, clean, labels, per_view: int = 16) -> dict:
    """Does each output still show its own view? A measure that a collapsed output (a blob) cannot pass.

    Each estimate is correlated with up to ``per_view`` clean images of every true view (evenly
    spaced, never its own clean image); a view scores its best correlation. An output is **correct**
    when its own view scores best; its **margin** is that score minus the best other view's. Scored
    alike, the clean images give the accuracy these views allow (``clean_accuracy``: below 1 for
    symmetry mates or in-plane rotations). Outputs are **collapsed** when they cannot tell apart views
    that the clean images can: accuracy within ``CHANCE_TOLERANCE`` of chance while the clean
    accuracy is above chance by twice that, or two views' mean outputs correlating at
    ``COLLAPSE_CORRELATION`` or more while their clean means correlate less.

    Parameters
    ----------
    estimate, clean : arrays (n, size, size) -- outputs and the clean images, any units.
    labels : array (n,), int -- each image's true view.
    per_view : int -- clean images per view used as references.

    Returns
    -------
    dict -- ``correct`` (n,) bool, ``margin`` (n,), ``accuracy``, ``mean_margin``, ``clean_accuracy``,
    ``chance``, ``separation`` (highest correlation of two views' mean outputs; ``nan`` for one view),
    ``clean_separation`` (the same pair's clean means) and ``collapsed``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> views = rng.normal(size=(3, 16, 16)); lab = np.repeat(np.arange(3), 8)
    >>> clean = views[lab] + 0.1 * rng.normal(size=(24, 16, 16))
    >>> blob = np.tile(views[:1], (24, 1, 1))
    >>> view_fidelity(clean, clean, lab)["accuracy"], view_fidelity(blob, clean, lab)["collapsed"]
    (1.0, True)
    """
    (e, c), lab = _pair(estimate, clean), np.asarray(labels).ravel()
    if lab.shape != (len(e),):
        raise ValueError(f"{lab.size} labels for {len(e)} images")
    views = np.unique(lab)
    zc, sep, clean_sep = _unit_rows(c), np.nan, np.nan
    margin = _view_margins(_unit_rows(e), zc, lab, views, per_view) if len(views) > 1 else np.zeros(len(e))
    clean_acc = float((_view_margins(zc, zc, lab, views, per_view) > 0).mean()) if len(views) > 1 else 0.0
    if len(views) > 1:
        co, cc = (np.corrcoef(np.stack([x[lab == v].mean(0).ravel() for v in views])) for x in (e, c))
        co[np.diag_indices(len(views))] = -np.inf
        a, b = np.unravel_index(np.argmax(co), co.shape)
        sep, clean_sep = float(co[a, b]), float(cc[a, b])
    chance, accuracy = 1.0 / len(views), float((margin > 0).mean())
    collapsed = len(views) > 1 and (
        (accuracy <= chance + CHANCE_TOLERANCE < clean_acc - CHANCE_TOLERANCE)
        or (sep >= COLLAPSE_CORRELATION > clean_sep))
    return {"correct": margin > 0, "margin": margin, "accuracy": accuracy, "mean_margin": float(margin.mean()),
            "clean_accuracy": clean_acc, "chance": chance, "separation": sep, "clean_separation": clean_sep,
            "collapsed": bool(collapsed)}


def ssim(estimate, reference, he: bool = False) -> np.ndarray:
    """Structural similarity of each image (skimage, Gaussian-free 7x7 windows); shape (n,)."""
    e, r = _pair(estimate, reference)
    if he:
        e, r = equalize_hist(e), minmax(r)
    win = min(7, e.shape[-1] - (1 - e.shape[-1] % 2))
    return np.array([structural_similarity(ri, ei, data_range=float(np.ptp(ri)) or 1.0, win_size=win)
                     for ei, ri in zip(e, r)])


def frc(estimate, reference) -> np.ndarray:
    """Fourier ring correlation per image and ring; shape (n, size // 2), ring k at k / size cycles/px."""
    e, r = _pair(estimate, reference)
    n = e.shape[-1]
    fe = np.fft.fftshift(np.fft.fft2(e.astype(np.float64)), axes=(-2, -1))
    fr = np.fft.fftshift(np.fft.fft2(r.astype(np.float64)), axes=(-2, -1))
    y, x = np.indices((n, n)) - n // 2
    ring = np.round(np.hypot(x, y)).astype(int).ravel()
    keep = ring < n // 2
    out = np.empty((len(e), n // 2))
    for i in range(len(e)):
        a, b = fe[i].ravel()[keep], fr[i].ravel()[keep]
        num = np.bincount(ring[keep], (a * np.conj(b)).real, minlength=n // 2)
        pa = np.bincount(ring[keep], np.abs(a) ** 2, minlength=n // 2)
        pb = np.bincount(ring[keep], np.abs(b) ** 2, minlength=n // 2)
        out[i] = num / np.sqrt(np.maximum(pa * pb, 1e-300))
    return out


def frc_resolution(curves: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """First ring where each FRC curve falls below ``threshold``, in cycles per box (n,)."""
    c = np.asarray(curves)
    below = c < threshold  # the first ring (the mean) never counts
    below[:, 0] = False
    first = np.where(below.any(axis=1), below.argmax(axis=1), c.shape[1])
    return first.astype(float)


def summarize(values: np.ndarray) -> dict:
    """Mean, standard deviation and count of per-image values (infinite values counted apart)."""
    v = np.asarray(values, np.float64)
    f = v[np.isfinite(v)]
    return {"mean": float(f.mean()) if f.size else np.nan, "std": float(f.std()) if f.size else np.nan,
            "n": int(v.size), "n_infinite": int((~np.isfinite(v)).sum())}


# ------------------------------------------------------------------------------------ clustering
# Two definitions of precision / recall / F1 for a clustering against true views. Pairwise (pair
# counting): a pair of images is a true positive when it shares a cluster and a view; precision = TP /
# (pairs sharing a cluster), recall = TP / (pairs sharing a view); one big cluster has recall 1 and
# precision 1/K. Matched: clusters matched one-to-one to views (Hungarian) so that most images agree,
# P/R/F1 per view, macro-averaged; one big cluster scores accuracy 1/K. The book's tables use these.


def _labels(labels_true, labels_pred) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(labels_true).ravel(), np.asarray(labels_pred).ravel()
    if t.shape != p.shape:
        raise ValueError(f"{t.size} true labels but {p.size} predicted labels")
    if t.size == 0:
        raise ValueError("no labels to compare")
    return t, p


def contingency(labels_true, labels_pred) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of images per (true class, cluster): ``(table, classes, clusters)``."""
    t, p = _labels(labels_true, labels_pred)
    classes, ti = np.unique(t, return_inverse=True)
    clusters, pi = np.unique(p, return_inverse=True)
    table = np.zeros((len(classes), len(clusters)), np.int64)
    np.add.at(table, (ti, pi), 1)
    return table, classes, clusters


def pairwise_scores(labels_true, labels_pred) -> dict:
    """Pair-counting precision, recall and F1 (see the definitions above)."""
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
    """Per-view precision, recall, F1 after matching clusters to views (Hungarian), macro-averaged.

    Also returns ``accuracy`` (fraction of images whose cluster is matched to their view) and
    ``mapping`` {cluster: view}. Unmatched clusters (more clusters than views) count as errors.
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
    """Everything the book reports for one clustering: matched P/R/F1, accuracy, pairwise F1, ARI, NMI."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    t, p = _labels(labels_true, labels_pred)
    m = matched_scores(t, p)
    pw = pairwise_scores(t, p)
    return {"precision": m["precision"], "recall": m["recall"], "f1": m["f1"], "accuracy": m["accuracy"],
            "pairwise_precision": pw["precision"], "pairwise_recall": pw["recall"], "pairwise_f1": pw["f1"],
            "ari": float(adjusted_rand_score(t, p)), "nmi": float(normalized_mutual_info_score(t, p)),
            "n_clusters": int(len(np.unique(p)))}


def confusion_matrix(labels_true, labels_pred) -> np.ndarray:
    """Views x clusters counts, clusters reordered to their matched views (unmatched ones last)."""
    from scipy.optimize import linear_sum_assignment

    table, _, _ = contingency(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(-table)
    order = list(cols[np.argsort(rows)]) + [c for c in range(table.shape[1]) if c not in cols]
    return table[:, order]
