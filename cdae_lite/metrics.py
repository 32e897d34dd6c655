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
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

from .equalize import equalize_hist, minmax
from .io import check_images


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
    below = c < threshold
    below[:, 0] = False
    first = np.where(below.any(axis=1), below.argmax(axis=1), c.shape[1])
    return first.astype(float)


def summarize(values: np.ndarray) -> dict:
    """Mean, standard deviation and count of per-image values (infinite values counted apart)."""
    v = np.asarray(values, np.float64)
    finite = v[np.isfinite(v)]
    return {"mean": float(finite.mean()) if finite.size else float("nan"),
            "std": float(finite.std()) if finite.size else float("nan"),
            "n": int(v.size), "n_infinite": int((~np.isfinite(v)).sum())}
