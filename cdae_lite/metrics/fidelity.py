"""Does an output still show its particle: the right view (with a truth), nothing outside it (without one).

An output that turns every view into one centred blob can score a good PSNR on a mostly empty box:
:func:`~cdae_lite.metrics.view_fidelity` tells whether outputs still tell the views apart, or are
**collapsed**. Without a truth (real particles), :func:`~cdae_lite.metrics.support_mask` takes a
particle's support from a trusted estimate and :func:`~cdae_lite.metrics.outside_ratio` measures how
much an output shows outside it.
"""

from __future__ import annotations

import numpy as np

from cdae_lite.images import check_images
from cdae_lite.metrics.quality import _centred, _pair

COLLAPSE_CORRELATION = 0.99  # outputs of two views alike above this (their clean images less): collapsed
CHANCE_TOLERANCE = 0.1  # view accuracy within this of chance (1 / number of views): collapsed


def _unit_rows(x: np.ndarray) -> np.ndarray:  # each image centred and scaled to norm 1, flattened
    z = _centred(x, x)[0]
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-300)


def _view_margins(z: np.ndarray, zc: np.ndarray, lab: np.ndarray, views: np.ndarray, per_view: int,
                  clean: np.ndarray | None = None, rotations: int = 1) -> np.ndarray:
    """Own view's best correlation minus the best other view's, per image (see :func:`view_fidelity`);
    with ``rotations`` > 1 the references (``clean``, unnormalised) are also tried rotated in plane."""
    from scipy.ndimage import rotate

    scores = np.full((len(z), len(views)), -np.inf)
    for k, v in enumerate(views):
        members = np.flatnonzero(lab == v)
        refs = members[np.linspace(0, len(members) - 1, min(per_view, len(members))).round().astype(int)]
        for angle in np.arange(rotations) * 360.0 / rotations:
            r = zc[refs] if angle == 0 else _unit_rows(rotate(clean[refs], angle, axes=(1, 2), reshape=False, order=1))
            corr = z @ r.T
            corr[refs[None, :] == np.arange(len(z))[:, None]] = -np.inf  # never an image's own clean image
            scores[:, k] = np.maximum(scores[:, k], corr.max(axis=1))
    own = (np.arange(len(z)), np.searchsorted(views, lab))
    mine, scores[own] = scores[own].copy(), -np.inf
    return mine - scores.max(axis=1)


def view_fidelity(estimate, clean, labels, per_view: int = 16, rotations: int = 1) -> dict:
    """Does each output still show its own view? A measure that a collapsed output (a blob) cannot pass.

    Each estimate is correlated with up to ``per_view`` clean images of every true view (evenly
    spaced, never its own clean image); a view scores its best correlation. An output is **correct**
    when its own view scores best; its **margin** is that score minus the best other view's. Scored
    alike, the clean images give the accuracy these views allow (``clean_accuracy``: below 1 for
    symmetry mates or in-plane rotations). Outputs are **collapsed** when they cannot tell apart views
    that the clean images can: accuracy within ``CHANCE_TOLERANCE`` (0.1) of chance while the clean
    accuracy is above chance by twice that, or two views' mean outputs correlating at
    ``COLLAPSE_CORRELATION`` (0.99) or more while their clean means correlate less.

    Parameters
    ----------
    estimate, clean : array_like
        ``(n, size, size)``, the same shape: the outputs and the clean images, any real dtype and units.
    labels : array_like
        ``(n,)`` int, each image's true view.
    per_view : int, optional
        Clean images per view used as references.
    rotations : int, optional
        For stacks rotated in plane: each reference is also tried at this many in-plane angles, evenly
        spaced over 360 degrees (24: every 15 degrees), and a view scores its best correlation over
        them. Without it, an output of a rotated stack is compared with its own view at other angles,
        and even the clean images reach only part of the views. 1 (the default): no rotation.

    Returns
    -------
    dict
        ``correct`` (``(n,)`` bool), ``margin`` (``(n,)`` float64, a difference of correlations; 0 for
        one view), ``accuracy`` (float, the fraction correct), ``mean_margin`` (float),
        ``clean_accuracy`` (float; 0 for one view), ``chance`` (float, 1 / number of views),
        ``separation`` (float, highest correlation of two views' mean outputs; ``nan`` for one view),
        ``clean_separation`` (float, the same pair's clean means) and ``collapsed`` (bool).

    Raises
    ------
    ValueError
        Stacks of different shapes, images that :func:`~cdae_lite.images.check_images` refuses, or a
        number of labels other than the number of images.

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
    if rotations < 1:
        raise ValueError(f"rotations must be at least 1, not {rotations}")
    margin = (_view_margins(_unit_rows(e), zc, lab, views, per_view, c, rotations) if len(views) > 1
              else np.zeros(len(e)))
    clean_acc = float((_view_margins(zc, zc, lab, views, per_view, c, rotations) > 0).mean()) if len(views) > 1 else 0.0
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


def support_mask(reference, sigma_px: float = 3.0, fraction: float = 0.3, radius_fraction: float = 0.4) -> np.ndarray:
    """Where a centred particle is, image by image.

    Without ground truth the particle's support is taken from a trusted estimate (for real particles,
    BM3D's output): each image's deviation from its background level (the median outside a circle of
    ``radius_fraction`` of the box) is taken in absolute value, so that dark and bright densities (and
    the fringes a CTF leaves) both count, smoothed by a Gaussian of ``sigma_px`` pixels, and the pixels
    above ``fraction`` of the largest smoothed value inside that circle are kept, inside the circle
    only (particles are centred in their boxes; what lies near the edges, such as carbon or a
    neighbour, is not the particle). The smoothing gives the support a margin of a few pixels.

    Parameters
    ----------
    reference : array_like
        ``(n, size, size)``, the trusted estimate, any real dtype and units, particles centred.
    sigma_px : float, optional
        Standard deviation of the Gaussian smoothing, pixels.
    fraction : float, optional
        The share (0 to 1) of each image's largest smoothed deviation inside the circle above which a
        pixel is support.
    radius_fraction : float, optional
        Radius of the circle, as a fraction of the box size.

    Returns
    -------
    numpy.ndarray
        ``(n, size, size)`` bool, True on the particle.
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
    """How much an estimate shows outside a particle's support, relative to inside it.

    The root-mean-square deviation from the image's median outside ``mask`` over that inside: near 0
    for a clean particle on a flat background, about 1 for pure noise, above 1 when an estimate puts
    more density outside the particle than on it.

    Parameters
    ----------
    estimate : array_like
        ``(n, size, size)``, any real dtype and units.
    mask : array_like
        ``(n, size, size)`` bool, each image's support (:func:`~cdae_lite.metrics.support_mask`).

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64, a ratio of deviations (no unit); ``nan`` where the mask is empty or full or the
        image is flat inside it.

    Raises
    ------
    ValueError
        A mask of another shape than the estimate.

    Examples
    --------
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
