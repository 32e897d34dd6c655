"""Tests of ``cdae_lite.metrics.quality``: PSNR, SSIM, FRC, gain, correlation and affine-fitted PSNR."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from cdae_lite.images import equalize_hist, minmax
from cdae_lite.metrics import affine_psnr, correlation, frc, frc_resolution, gain, image_scores, psnr, ssim, summarize


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


def test_psnr_agrees_with_scikit_image(rng):
    ref = rng.normal(size=(5, 32, 32)).astype(np.float32)
    est = ref + rng.normal(scale=0.3, size=ref.shape).astype(np.float32)
    ours = psnr(est, ref)
    theirs = [peak_signal_noise_ratio(r, e, data_range=float(r.max() - r.min())) for r, e in zip(ref, est)]
    assert np.allclose(ours, theirs, atol=1e-4)
    assert np.allclose(psnr(est, ref, data_range=2.0), [peak_signal_noise_ratio(r, e, data_range=2.0) for r, e in zip(ref, est)],
                       atol=1e-4)


def test_identical_images_give_infinite_psnr_and_summaries_handle_it(rng):
    ref = rng.normal(size=(3, 8, 8)).astype(np.float32)
    est = ref.copy()
    est[1] += 0.1
    p = psnr(est, ref)
    assert np.isinf(p[0]) and np.isinf(p[2]) and np.isfinite(p[1])
    s = summarize(p)
    assert s["n"] == 3 and s["n_infinite"] == 2 and np.isclose(s["mean"], p[1])


def test_psnr_with_histogram_equalisation(rng):
    ref = rng.normal(size=(2, 16, 16)).astype(np.float32)
    p = psnr(ref, ref, he=True)
    assert np.all(np.isfinite(p))  # equalised vs min-max scaled: not the same image
    he = equalize_hist(ref)
    assert he.min() >= 0 and he.max() <= 1
    assert np.allclose(psnr(ref, ref, he=True), psnr(he, minmax(ref), data_range=1.0))


def test_ssim_agrees_with_scikit_image(rng):
    ref = rng.normal(size=(2, 32, 32)).astype(np.float32)
    est = ref + rng.normal(scale=0.5, size=ref.shape).astype(np.float32)
    theirs = [structural_similarity(r, e, data_range=float(np.ptp(r))) for r, e in zip(ref, est)]
    assert np.allclose(ssim(est, ref), theirs)


def test_frc_is_one_for_identical_images_and_drops_for_noise(rng):
    ref = rng.normal(size=(1, 32, 32)).astype(np.float32)
    assert np.allclose(frc(ref, ref), 1.0)
    smooth = np.zeros((1, 32, 32), np.float32)
    yy, xx = np.indices((32, 32)) - 16
    smooth[0] = np.exp(-(xx**2 + yy**2) / 20)
    noisy = smooth + rng.normal(scale=0.05, size=smooth.shape).astype(np.float32)
    c = frc(noisy, smooth)[0]
    assert c[1] > 0.9 and c[-1] < 0.5
    assert 1 < frc_resolution(frc(noisy, smooth))[0] < 16


def test_shape_mismatch_and_nan_are_refused():
    with pytest.raises(ValueError, match="differ"):
        psnr(np.zeros((2, 8, 8)), np.zeros((3, 8, 8)))
    bad = np.zeros((1, 8, 8))
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        psnr(bad, np.zeros((1, 8, 8)))
