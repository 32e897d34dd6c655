"""Histogram equalisation of denoised images, as the paper applies to CDAE's output (section 3.4).

Each image's grey levels are remapped by its own cumulative histogram to spread evenly over [0, 1]
(``skimage.exposure.equalize_hist``). The result is in [0, 1] whatever the input's units, so it is
compared with references scaled to [0, 1] (:func:`minmax`).
"""

from __future__ import annotations

import numpy as np
from skimage import exposure

from .io import check_images


def equalize_hist(images, nbins: int = 256) -> np.ndarray:
    """Histogram-equalise every image of a stack; returns float32 (n, size, size) in [0, 1]."""
    x = check_images(images)
    out = np.empty_like(x)
    for i, img in enumerate(x.astype(np.float64)):  # float64: tiny grey ranges still give 256 bins
        if np.ptp(img) == 0:
            out[i] = 0.0
            continue
        try:
            out[i] = exposure.equalize_hist(img, nbins=nbins)
        except ValueError:  # a range too small even for float64 bins: equalise by rank instead
            ranks = np.argsort(np.argsort(img.ravel(), kind="stable"), kind="stable")
            out[i] = ((ranks + 1) / ranks.size).reshape(img.shape)
    return out


def minmax(images) -> np.ndarray:
    """Scale every image linearly to [0, 1] (a constant image becomes 0)."""
    x = check_images(images)
    lo = x.min(axis=(1, 2), keepdims=True)
    rng = np.ptp(x, axis=(1, 2), keepdims=True)
    return np.where(rng > 0, (x - lo) / np.where(rng > 0, rng, 1), 0).astype(np.float32)
