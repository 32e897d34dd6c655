"""White Gaussian noise at a stated signal-to-noise ratio, and how to measure the SNR.

Definition used throughout cdae-lite (the variance definition)::

    SNR = var(clean image over the whole box) / var(noise)

where the clean image is the projection after the CTF, i.e. the signal that reaches the detector.
Noise is added per image, so every image has the requested SNR in expectation: ``sigma_i =
sqrt(var(clean_i) / SNR)``. With ``per="stack"`` one sigma is shared by the stack, set from the mean
clean variance (a detector's noise does not depend on the particle's view).

ASPIRE-Python defines the SNR differently: signal power is the mean *energy* (mean of squares, mean
not removed) of the clean images inside a centred disk, over the noise variance. Inside the disk the
particle fills more of the area and the mean is not subtracted, so for the same images ASPIRE's SNR
is larger than ours, and at the same nominal SNR ASPIRE's images are noisier. :func:`snr_energy_disk`
computes ASPIRE's number for comparison.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def _check_stack(x: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"{name} must be an image (size, size) or a stack (n, size, size), got {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name} is an empty stack (0 images)")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return a


def noise_sigma(clean: np.ndarray, snr: float, per: Literal["image", "stack"] = "image") -> np.ndarray:
    """Standard deviation of the noise that gives ``snr`` (variance definition).

    Parameters
    ----------
    clean : numpy.ndarray
        ``(n, size, size)`` noise-free images, or one ``(size, size)`` image.
    snr : float
        Requested signal-to-noise ratio, > 0.
    per : {"image", "stack"}, optional
        One noise level per image, or one for the stack (from the mean clean variance).

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64, ``sqrt(var(clean_i) / snr)`` in the images' units.

    Raises
    ------
    ValueError
        If ``snr`` is not a positive finite number, the clean images are constant, or ``per`` is unknown.
    """
    if not np.isfinite(snr) or snr <= 0:
        raise ValueError(f"snr must be a positive number (signal variance / noise variance), got {snr}")
    c = _check_stack(clean, "clean")
    var = c.reshape(c.shape[0], -1).astype(np.float64).var(axis=1)
    if np.any(var <= 0):
        raise ValueError("a clean image is constant (zero variance): its SNR is undefined")
    if per == "stack":
        var = np.full_like(var, var.mean())
    elif per != "image":
        raise ValueError("per must be 'image' or 'stack'")
    return np.sqrt(var / snr)


def add_noise(clean: np.ndarray, snr: float, rng: np.random.Generator,
              per: Literal["image", "stack"] = "image") -> tuple[np.ndarray, np.ndarray]:
    """Add white Gaussian noise to reach ``snr`` (variance definition).

    Parameters
    ----------
    clean : array (n, size, size)
        Noise-free images (after the CTF, when there is one).
    snr : float
        Requested signal-to-noise ratio, > 0.
    rng : numpy.random.Generator
        Source of the noise (seeded by the caller).
    per : {"image", "stack"}
        One noise level per image (default) or one for the whole stack.

    Returns
    -------
    noisy : array (n, size, size), float32
    sigma : array (n,), float64 -- the noise standard deviation of each image.
    """
    c = _check_stack(clean, "clean")
    sigma = noise_sigma(c, snr, per)
    noise = rng.standard_normal(c.shape, dtype=np.float32) * sigma[:, None, None].astype(np.float32)
    return (c + noise).astype(np.float32), sigma


def measure_snr(clean: np.ndarray, noisy: np.ndarray) -> np.ndarray:
    """Measured SNR of each image, ``var(clean) / var(noisy - clean)``.

    Parameters
    ----------
    clean : numpy.ndarray
        ``(n, size, size)`` noise-free images, or one image.
    noisy : numpy.ndarray
        The same images with noise, same shape.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64.

    Raises
    ------
    ValueError
        Stacks of different shapes, empty stacks, or NaN/infinite values.
    """
    c, y = _check_stack(clean, "clean"), _check_stack(noisy, "noisy")
    if c.shape != y.shape:
        raise ValueError(f"clean {c.shape} and noisy {y.shape} stacks differ in shape")
    c64 = c.reshape(c.shape[0], -1).astype(np.float64)
    n64 = y.reshape(y.shape[0], -1).astype(np.float64) - c64
    return c64.var(axis=1) / n64.var(axis=1)


def snr_energy_disk(clean: np.ndarray, noise_variance: float | np.ndarray,
                    radius_px: float | None = None) -> np.ndarray:
    """ASPIRE-style SNR: mean of ``clean**2`` inside a centred disk over the noise variance.

    Parameters
    ----------
    clean : numpy.ndarray
        ``(n, size, size)`` noise-free images, or one image.
    noise_variance : float or numpy.ndarray
        The noise variance, one for all images or ``(n,)``.
    radius_px : float, optional
        Radius of the disk, pixels, about pixel ``size // 2``; default half the box.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64.
    """
    c = _check_stack(clean, "clean").astype(np.float64)
    n = c.shape[-1]
    r = n / 2 if radius_px is None else radius_px
    y, x = np.indices((n, n)) - n // 2
    disk = np.hypot(x, y) <= r
    return (c[:, disk] ** 2).mean(axis=1) / np.asarray(noise_variance, np.float64)


def add_shot_noise(clean: np.ndarray, dose: float, contrast: float, rng: np.random.Generator,
                   background: float = 0.0) -> np.ndarray:
    """Detector-like images: Poisson counts around a mean dose, modulated by the particle.

    Each pixel counts ``Poisson(dose * (1 + contrast * z))`` electrons plus ``background``, where
    ``z`` is the clean image standardised over the stack (zero mean, unit variance). A second noise
    convention, unlike :func:`add_noise`: non-Gaussian noise, a large positive offset (the dose),
    arbitrary units. For large doses the SNR is about ``dose * contrast**2``.

    Parameters
    ----------
    clean : numpy.ndarray
        ``(n, size, size)`` noise-free images, or one image.
    dose : float
        Mean electrons per pixel, > 0.
    contrast : float
        How strongly the particle modulates the dose, > 0 (a negative rate is clipped to 0).
    rng : numpy.random.Generator
        Source of the counts (seeded by the caller).
    background : float, optional
        Constant added to every count.

    Returns
    -------
    numpy.ndarray
        ``(n, size, size)`` float32 counts.
    """
    c = _check_stack(clean, "clean").astype(np.float64)
    if dose <= 0 or contrast <= 0:
        raise ValueError("dose and contrast must be positive")
    z = (c - c.mean()) / c.std()
    lam = np.clip(dose * (1 + contrast * z), 0, None)
    return (rng.poisson(lam) + background).astype(np.float32)
