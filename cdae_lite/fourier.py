"""Fourier-space helpers shared by maps (3D) and images (2D)."""

from __future__ import annotations

import numpy as np


def resample(a: np.ndarray, size: int, ndim: int) -> np.ndarray:
    """Fourier-crop or zero-pad the last ``ndim`` axes of ``a`` (all of length n) to ``size``.

    Keeps the physical extent (the sampling interval becomes ``old * n / size``); cropping is an
    ideal low-pass at the new Nyquist frequency. Values keep their scale (densities, not sums).
    Returns float32.
    """
    x = np.asarray(a, dtype=np.float64)
    axes = tuple(range(x.ndim - ndim, x.ndim))
    n = x.shape[-1]
    if size == n:
        return x.astype(np.float32)
    ft = np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(x, axes=axes), axes=axes), axes=axes)
    m = min(n, size)
    src = tuple(slice(n // 2 - m // 2, n // 2 - m // 2 + m) for _ in axes)
    dst = tuple(slice(size // 2 - m // 2, size // 2 - m // 2 + m) for _ in axes)
    out = np.zeros(x.shape[:-ndim] + (size,) * ndim, np.complex128)
    out[(Ellipsis,) + dst] = ft[(Ellipsis,) + src]
    res = np.fft.fftshift(np.fft.ifftn(np.fft.ifftshift(out, axes=axes), axes=axes), axes=axes).real
    return (res * (size / n) ** ndim).astype(np.float32)
