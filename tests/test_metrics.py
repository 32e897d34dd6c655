import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from cdae_lite.images import equalize_hist, minmax
from cdae_lite.metrics import frc, frc_resolution, psnr, ssim, summarize


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


def test_equalize_handles_constant_images():
    out = equalize_hist(np.ones((2, 8, 8), np.float32))
    assert np.all(out == 0)


def test_equalize_handles_images_of_tiny_range():
    img = (1000.0 + np.random.default_rng(0).normal(scale=1e-5, size=(1, 16, 16))).astype(np.float32)
    out = equalize_hist(img)
    assert np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 1 and np.ptp(out) > 0.5


def test_matched_f1_against_hand_computed_cases():
    from cdae_lite.metrics import matched_scores

    assert matched_scores([0, 0, 0, 1, 1, 1], [1, 1, 1, 0, 0, 0])["f1"] == 1.0  # names of clusters do not matter
    # view 0: precision 2/2, recall 2/3 -> F1 0.8; view 1: precision 3/4, recall 3/3 -> F1 6/7
    assert abs(matched_scores([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1])["f1"] - (0.8 + 6 / 7) / 2) < 1e-12
    # everything in one cluster: view 0 matched (P 1/2, R 1 -> 2/3), view 1 unmatched (0)
    assert abs(matched_scores([0, 0, 1, 1], [5, 5, 5, 5])["f1"] - (2 / 3) / 2) < 1e-12


def _disk_stack(n=4, size=32, radius=8, offset=0.0):
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    disk = (np.hypot(yy, xx - offset) <= radius).astype(np.float64)
    return np.repeat(disk[None], n, 0)


def test_support_mask_finds_a_noisy_disk_and_ignores_the_box_edge():
    from cdae_lite.metrics import support_mask

    clean = _disk_stack(size=64, radius=12)
    clean[:, :4, :] = -3.0  # a dark edge (carbon) that is not the particle
    noisy = clean + np.random.default_rng(0).normal(scale=0.3, size=clean.shape)
    mask = support_mask(noisy)
    truth = _disk_stack(size=64, radius=12) > 0
    recall = (mask & truth).sum((1, 2)) / truth.sum((1, 2))
    precision = (mask & truth).sum((1, 2)) / mask.sum((1, 2))
    assert recall.min() > 0.9 and precision.min() > 0.45, (recall, precision)  # the support has a margin
    assert not mask[:, :6, :].any()  # outside the central circle (radius 0.4 of the box)


def test_outside_ratio_tells_a_clean_particle_from_noise_and_from_blobs():
    from cdae_lite.metrics import outside_ratio

    clean = _disk_stack()
    mask = clean > 0
    rng = np.random.default_rng(1)
    noise = rng.normal(size=clean.shape)
    blob = clean + 1.5 * _disk_stack(radius=3, offset=12.0)  # the same particle plus a bright blob beside it
    assert np.allclose(outside_ratio(clean, mask), 0.0)
    assert np.all(np.abs(outside_ratio(noise, mask) - 1) < 0.2)
    assert np.all(outside_ratio(blob, mask) > 0.2)  # 28 blob pixels at 1.5 among 824 outside
    with pytest.raises(ValueError, match="shape"):
        outside_ratio(clean, mask[:, :-1])
