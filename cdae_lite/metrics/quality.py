"""How close is a denoised image to its clean reference: PSNR, SSIM, FRC, and what PSNR hides.

Each metric compares an estimate with the clean reference image by image and returns one number per
image (``(n,)`` float64 arrays; :func:`~cdae_lite.metrics.frc` one curve per image);
:func:`~cdae_lite.metrics.summarize` gives their mean and standard deviation. The definitions are in
:mod:`cdae_lite.metrics`.
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
    """Peak signal-to-noise ratio of each image, dB: ``10 log10(R^2 / MSE)``.

    Parameters
    ----------
    estimate, reference : array_like
        ``(n, size, size)`` (or one image ``(size, size)``), the same shape, any real dtype, in the same
        units (those of the noisy input).
    data_range : float or array_like, optional
        ``R``, in the images' units: one value, or one per image ``(n,)``. Default: each reference
        image's ``max - min``. Ignored with ``he``.
    he : bool, optional
        Histogram-equalise the estimate to [0, 1] and min-max scale the reference to [0, 1] first
        (``R = 1``), as the paper's "with HEE" columns.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64, dB; ``inf`` where an estimate equals its reference.

    Raises
    ------
    ValueError
        Images that :func:`~cdae_lite.images.check_images` refuses, or stacks of different shapes.
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
    """Contrast gain of each image: the least-squares slope of the estimate on the reference.

    ``sum((e - mean e)(r - mean r)) / sum((r - mean r)^2)`` over each image's pixels. An estimate
    ``a * reference + b + independent noise`` has gain ``a`` (up to the noise's chance correlation).

    Parameters
    ----------
    estimate, reference : array_like
        ``(n, size, size)``, the same shape, any real dtype and units.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64, estimate units per reference unit (1: contrast kept); ``nan`` where the
        reference image is constant.

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
    """Pearson correlation of each estimate with its reference, over the image's pixels.

    Parameters
    ----------
    estimate, reference : array_like
        As in :func:`gain`.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64 in [-1, 1]; ``nan`` where either image is constant.

    Examples
    --------
    >>> r = np.random.default_rng(0).normal(size=(1, 8, 8))
    >>> correlation(-2 * r, r).round(6).tolist()
    [-1.0]
    """
    e, r = _centred(estimate, reference)
    den = np.sqrt((e * e).sum(1) * (r * r).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (e * r).sum(1) / np.where(den > 0, den, 1), np.nan)


def affine_psnr(estimate, reference, data_range: float | np.ndarray | None = None) -> np.ndarray:
    """PSNR (dB) after the best affine map ``a * estimate + b`` of each image onto its reference.

    An **oracle**: ``a`` and ``b`` are fitted to the truth, so no method can use it in practice. It
    measures the structure an estimate carries, forgiving contrast and offset; never below
    :func:`~cdae_lite.metrics.psnr` (the identity map is one of the affine maps). A constant estimate
    is fitted by its best constant (the reference's mean).

    Parameters
    ----------
    estimate, reference : array_like
        ``(n, size, size)``, the same shape, any real dtype, the reference in the noisy input's units.
    data_range : float or array_like, optional
        ``R`` in the reference's units, one value or one per image ``(n,)``; default: each reference
        image's ``max - min``.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64, dB; ``inf`` where the affine map fits the reference exactly.

    Examples
    --------
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

    The numbers every PSNR table of the book reports side by side.

    Parameters
    ----------
    estimate, reference : array_like
        ``(n, size, size)``, the same shape, any real dtype, in the noisy input's units.

    Returns
    -------
    dict
        ``psnr`` (float, dB), ``gain`` (float), ``correlation`` (float), ``affine_psnr`` (float, dB): the
        means over the images of :func:`~cdae_lite.metrics.psnr`, :func:`~cdae_lite.metrics.gain`,
        :func:`~cdae_lite.metrics.correlation` and :func:`~cdae_lite.metrics.affine_psnr` (``nan``
        images left out of gain and correlation), and ``n`` (int, the number of images).
    """
    return {"psnr": float(np.mean(psnr(estimate, reference))), "gain": float(np.nanmean(gain(estimate, reference))),
            "correlation": float(np.nanmean(correlation(estimate, reference))),
            "affine_psnr": float(np.mean(affine_psnr(estimate, reference))), "n": int(len(check_images(estimate)))}


def ssim(estimate, reference, he: bool = False) -> np.ndarray:
    """Structural similarity of each image (``skimage.metrics.structural_similarity``).

    Uniform (not Gaussian) 7x7 windows (the largest odd size up to the box in smaller images); the data
    range is each reference image's ``max - min`` (1 for a constant one).

    Parameters
    ----------
    estimate, reference : array_like
        ``(n, size, size)``, the same shape, any real dtype, in the same units.
    he : bool, optional
        Histogram-equalise the estimate to [0, 1] and min-max scale the reference to [0, 1] first.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64, at most 1 (identical images).
    """
    e, r = _pair(estimate, reference)
    if he:
        e, r = equalize_hist(e), minmax(r)
    win = min(7, e.shape[-1] - (1 - e.shape[-1] % 2))
    return np.array([structural_similarity(ri, ei, data_range=float(np.ptp(ri)) or 1.0, win_size=win)
                     for ei, ri in zip(e, r)])


def frc(estimate, reference) -> np.ndarray:
    """Fourier ring correlation of each estimate with its reference, ring by ring of spatial frequency.

    Parameters
    ----------
    estimate, reference : array_like
        ``(n, size, size)`` images, as in :func:`gain`.

    Returns
    -------
    numpy.ndarray
        ``(n, size // 2)`` float64 in [-1, 1]; ring ``k`` holds the frequencies of radius ``k``
        (rounded) from the zero frequency, ``k / size`` cycles per pixel (``k`` cycles per box).
    """
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
    """The first ring where each FRC curve falls below ``threshold``.

    Parameters
    ----------
    curves : array_like
        ``(n, n_rings)`` FRC curves, as :func:`~cdae_lite.metrics.frc` gives them.
    threshold : float, optional
        The correlation the curve must fall below (ring 0, the mean, never counts).

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64, the ring index ``k`` in cycles per box (a resolution of ``size * pixel_size_A / k``
        Angstrom); ``n_rings`` where a curve never falls below ``threshold``.
    """
    c = np.asarray(curves)
    below = c < threshold  # the first ring (the mean) never counts
    below[:, 0] = False
    first = np.where(below.any(axis=1), below.argmax(axis=1), c.shape[1])
    return first.astype(float)


def summarize(values: np.ndarray) -> dict:
    """Mean, standard deviation and count of per-image values, the non-finite ones counted apart.

    Parameters
    ----------
    values : array_like
        Per-image values, any shape (e.g. PSNR in dB, ``(n,)``).

    Returns
    -------
    dict
        ``mean`` and ``std`` (float, the values' units; over the finite values, population standard
        deviation; ``nan`` when none is finite), ``n`` (int, all values) and ``n_infinite`` (int, the
        values that are ``inf`` or ``nan``).
    """
    v = np.asarray(values, np.float64)
    f = v[np.isfinite(v)]
    return {"mean": float(f.mean()) if f.size else np.nan, "std": float(f.std()) if f.size else np.nan,
            "n": int(v.size), "n_infinite": int((~np.isfinite(v)).sum())}
