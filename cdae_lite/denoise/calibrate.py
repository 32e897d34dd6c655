"""Label-free contrast calibration of any denoiser's output (beyond the paper).

A denoiser that keeps structure but shrinks contrast (output ``~ g * truth`` with gain ``g < 1``)
loses PSNR it need not lose: the best rescaling of its output onto the truth is
``c = <f, x> / <f, f>`` (centred images ``f`` = output, ``x`` = truth). The truth is unknown, but the
noisy input ``y = x + n`` is known, and for Gaussian noise of variance ``sigma^2`` Stein's lemma gives
``E <f(y), n> = sigma^2 E[div f(y)]``. So

    <f, x>  ~  <f, y> - sigma^2 div f(y)

where the divergence (the trace of the network's Jacobian) is estimated by Monte Carlo: for a random
probe ``b``, ``div f ~ b . (f(y + eps b) - f(y)) / eps``. Without the correction the regression of
the input on the output overestimates the gain, because the network's output is correlated with the
very noise it was given. The scale is estimated once for a stack (sums over its images), from the
known noise sigma of each image or an estimate of it
(:func:`skimage.restoration.estimate_sigma`), and applied as ``mean(y) + c (f - mean(f))``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cdae_lite.images import check_images


def _centred(a: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1).astype(np.float64)
    return a - a.mean(1, keepdims=True)


def estimate_noise_sigma(images: np.ndarray) -> np.ndarray:
    """Noise standard deviation of each image (wavelet median absolute deviation).

    Parameters
    ----------
    images : array (n, size, size)
        Noisy images, any units.

    Returns
    -------
    ndarray (n,) float64
        Each image's noise standard deviation (:func:`skimage.restoration.estimate_sigma`), in the
        images' units.

    Raises
    ------
    ValueError
        Images that :func:`~cdae_lite.images.check_images` refuses.
    """
    from skimage.restoration import estimate_sigma

    return np.array([float(estimate_sigma(img)) for img in check_images(images)])


def stein_scale(denoise: Callable[[np.ndarray], np.ndarray], images: np.ndarray, sigma=None,
                n_probes: int = 2, eps: float | None = None, seed: int = 0) -> dict:
    """The rescaling ``c`` that best maps ``denoise(images)`` onto the (unknown) clean images.

    Parameters
    ----------
    denoise : callable
        Any denoiser, float32 (n, s, s) to (n, s, s) (deterministic: networks in eval mode).
    images : array (n, size, size)
        Noisy images with Gaussian noise of standard deviation ``sigma``.
    sigma : float or array (n,), optional
        Noise standard deviation of each image, in the images' units; estimated
        (:func:`estimate_noise_sigma`) when None.
    n_probes : int
        Monte-Carlo probes of the divergence.
    eps : float, optional
        Probe step, in the images' units (default 1e-3 of the median sigma).
    seed : int
        Seeds the probes.

    Returns
    -------
    dict
        ``scale`` (c, float), ``naive_scale`` (the regression of the input on the output, without the
        Stein correction), ``divergence`` (mean over images) and ``sigma`` (mean); a constant output
        gets scales of 1.

    Raises
    ------
    ValueError
        Images that :func:`~cdae_lite.images.check_images` refuses.
    """
    y = check_images(images)
    sig = estimate_noise_sigma(y) if sigma is None else np.broadcast_to(np.asarray(sigma, np.float64), (len(y),))
    f = np.asarray(denoise(y), np.float64)
    fc, yc = _centred(f), _centred(y)
    eps = float(1e-3 * np.median(sig)) if eps is None else eps
    rng = np.random.default_rng(seed)
    div = np.zeros(len(y))
    for _ in range(n_probes):
        b = rng.standard_normal(y.shape).astype(np.float32)
        fb = np.asarray(denoise((y + eps * b).astype(np.float32)), np.float64)
        div += (_centred(b) * _centred(fb - f)).sum(1) / eps
    div /= n_probes
    ff = float((fc * fc).sum())
    fy = (fc * yc).sum(1)
    return {"scale": float((fy - sig**2 * div).sum() / ff) if ff > 0 else 1.0,
            "naive_scale": float(fy.sum() / ff) if ff > 0 else 1.0,
            "divergence": float(div.mean()), "sigma": float(np.mean(sig))}


def apply_scale(output: np.ndarray, images: np.ndarray, scale: float) -> np.ndarray:
    """``mean(y) + scale * (f - mean(f))`` per image: the calibrated output.

    Parameters
    ----------
    output : array (n, s, s)
        The denoiser's output ``f``.
    images : array (n, s, s)
        Its input ``y``, whose per-image means the calibrated output takes.
    scale : float
        The contrast scale, e.g. ``stein_scale(...)["scale"]``.

    Returns
    -------
    ndarray (n, s, s) float32
        The calibrated output.

    Raises
    ------
    ValueError
        Arrays that :func:`~cdae_lite.images.check_images` refuses.
    """
    f = check_images(output).astype(np.float64)
    y = check_images(images)
    mf = f.mean(axis=(1, 2), keepdims=True)
    my = y.mean(axis=(1, 2), keepdims=True, dtype=np.float64)
    return (my + scale * (f - mf)).astype(np.float32)
