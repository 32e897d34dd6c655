"""Tests of ``cdae_lite.images``."""

import numpy as np

from cdae_lite.images import equalize_hist


def test_image_resampling_keeps_a_smooth_image_and_the_mean():
    from cdae_lite.images import resample_images

    yy, xx = np.indices((64, 64)) - 32
    img = np.exp(-(xx**2 + yy**2) / (2 * 6.0**2)).astype(np.float32)[None]
    small = resample_images(img, 32)
    yy2, xx2 = np.indices((32, 32)) - 16
    expected = np.exp(-(xx2**2 + yy2**2) / (2 * 3.0**2))  # same physical width, half the pixels
    assert np.allclose(small[0], expected, atol=2e-3)
    assert np.isclose(small.mean(), img.mean(), rtol=1e-3)  # a density: the mean value is kept
    assert np.allclose(resample_images(small, 64)[0], resample_images(resample_images(img, 32), 64)[0])


def test_equalize_handles_constant_images():
    out = equalize_hist(np.ones((2, 8, 8), np.float32))
    assert np.all(out == 0)


def test_equalize_handles_images_of_tiny_range():
    img = (1000.0 + np.random.default_rng(0).normal(scale=1e-5, size=(1, 16, 16))).astype(np.float32)
    out = equalize_hist(img)
    assert np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 1 and np.ptp(out) > 0.5
