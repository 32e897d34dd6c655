"""Tests of ``cdae_lite.metrics.classes``: the FRC resolution of class averages against the true views."""

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from cdae_lite.images import rotate_images
from cdae_lite.metrics import class_average_resolution


def _views(k=3, size=32, seed=0):
    """k smooth, distinct, asymmetric blobs: stand-ins for clean view projections."""
    rng = np.random.default_rng(seed)
    x = gaussian_filter(rng.normal(size=(k, size, size)), (0, 1.5, 1.5))
    yy, xx = np.indices((size, size)) - size // 2
    return (x * (np.hypot(yy, xx) < size // 3)).astype(np.float32)


def test_a_turned_and_shifted_copy_of_each_view_reaches_nyquist_and_noise_lowers_the_resolution():
    tpl = _views()
    turned = rotate_images(torch.from_numpy(tpl), torch.tensor([30.0, 120.0, 250.0])).numpy()
    averages = np.roll(turned, (2, -3), axis=(1, 2))[[2, 0, 1]]  # class c holds view (c + 2) % 3
    truth = np.repeat(np.arange(3), 10)
    pred = (truth + 1) % 3  # the images of view v are in class (v + 1) % 3
    r = class_average_resolution(averages, tpl, truth, pred, pixel_size_A=2.0)
    assert r["matched"] == 3 and r["nyquist_A"] == 4.0
    # bilinear rotation blurs the finest rings a little: within a few rings of Nyquist, never box-sized
    assert np.all(r["resolution_0143_A"] <= 5.0) and np.all(r["resolution_05_A"] <= 6.0), r
    noisy = averages + np.random.default_rng(1).normal(scale=3 * averages.std(), size=averages.shape).astype(np.float32)
    rn = class_average_resolution(noisy, tpl, truth, pred, pixel_size_A=2.0)
    assert np.all(rn["resolution_05_A"] > r["resolution_05_A"] + 1.0), (rn, r)
    # without the alignment the turned copies would not match: the wrong pairing reads far worse
    wrong = class_average_resolution(averages, tpl, truth, truth, pixel_size_A=2.0)
    assert np.nanmean(wrong["resolution_05_A"]) > 2 * np.nanmean(r["resolution_05_A"])


def test_a_view_without_a_class_is_nan_and_bad_input_is_refused():
    tpl = _views()
    truth = np.repeat(np.arange(3), 10)
    pred = np.minimum(truth, 1)  # two classes for three views
    r = class_average_resolution(tpl[:2], tpl, truth, pred, pixel_size_A=1.0)
    assert r["matched"] == 2 and np.isnan(r["resolution_05_A"]).sum() == 1
    with pytest.raises(ValueError, match="labels run from"):
        class_average_resolution(tpl[:2], tpl, truth, truth, pixel_size_A=1.0)
    with pytest.raises(ValueError, match="px"):
        class_average_resolution(tpl[:, :16, :16], tpl, truth, truth, pixel_size_A=1.0)
    with pytest.raises(ValueError, match="positive"):
        class_average_resolution(tpl, tpl, truth, truth, pixel_size_A=0.0)
