"""Tests of ``cdae_lite.metrics.quality``: gain, correlation and affine-fitted PSNR."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from cdae_lite.metrics import affine_psnr, correlation, gain, image_scores, psnr


def _truth(n=48, size=32, seed=0):
    rng = np.random.default_rng(seed)
    x = gaussian_filter(rng.normal(size=(n, size, size)), (0, 2.5, 2.5)).astype(np.float32)
    return x / x.std(), rng


def test_gain_correlation_and_affine_psnr_by_hand():
    r = np.array([[[0.0, 1.0], [2.0, 3.0]]], np.float32)
    e = np.array([[[1.0, 1.5], [2.0, 2.5]]], np.float32)  # 0.5 r + 1: half the contrast, shifted
    assert gain(e, r)[0] == pytest.approx(0.5)
    assert correlation(e, r)[0] == pytest.approx(1.0)
    assert np.isinf(psnr(r, r)[0]) and affine_psnr(e, r)[0] > 100  # the affine fit undoes it exactly
    # plain PSNR by hand: range 3, errors (1, .5, 0, -.5) -> MSE 0.375
    assert psnr(e, r)[0] == pytest.approx(10 * np.log10(9 / 0.375))
    noisy = r + np.array([[[0.3, -0.3], [-0.3, 0.3]]], np.float32)  # orthogonal to r's ramp: gain 1
    assert gain(noisy, r)[0] == pytest.approx(1.0)
    assert 0 < correlation(noisy, r)[0] < 1
    assert np.isnan(gain(r, np.ones_like(r))[0])  # a constant reference has no contrast to compare


def test_affine_psnr_is_an_upper_bound_of_psnr_and_sees_through_shrinkage():
    x, rng = _truth()
    est = x + 0.1 * rng.normal(size=x.shape).astype(np.float32)
    assert np.all(affine_psnr(est, x) >= psnr(est, x) - 1e-9)
    shrunk = 0.4 * est
    assert psnr(shrunk, x).mean() < psnr(est, x).mean() - 3  # contrast loss costs plain PSNR
    assert affine_psnr(shrunk, x) == pytest.approx(affine_psnr(est, x))  # but not structure
    s = image_scores(shrunk, x)
    assert s["gain"] == pytest.approx(0.4 * gain(est, x).mean(), rel=1e-5) and s["n"] == len(x)
