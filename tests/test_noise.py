import numpy as np
import pytest

from cdae_lite.simulation.noise import add_noise, add_shot_noise, measure_snr, noise_sigma, snr_energy_disk


def _clean(rng, n=200, size=32):
    yy, xx = np.indices((size, size)) - size // 2
    amp = rng.uniform(0.5, 2, n)[:, None, None]
    return (amp * np.exp(-(xx**2 + yy**2) / 40.0)).astype(np.float32)


@pytest.mark.parametrize("snr", [0.05, 0.1, 0.4, 1.0])
@pytest.mark.parametrize("per", ["image", "stack"])
def test_measured_snr_of_a_stack_is_within_5_percent(rng, snr, per):
    clean = _clean(rng)
    noisy, sigma = add_noise(clean, snr, rng, per=per)
    var_c = clean.reshape(len(clean), -1).var(1)
    var_n = (noisy - clean).reshape(len(clean), -1).var(1)
    measured = var_c.mean() / var_n.mean() if per == "stack" else measure_snr(clean, noisy).mean()
    assert abs(measured / snr - 1) < 0.05
    assert noisy.dtype == np.float32 and sigma.shape == (len(clean),)


def test_same_seed_same_noise():
    clean = _clean(np.random.default_rng(0), n=5)
    a, _ = add_noise(clean, 0.1, np.random.default_rng(7))
    b, _ = add_noise(clean, 0.1, np.random.default_rng(7))
    c, _ = add_noise(clean, 0.1, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("snr", [0, -1, np.nan, np.inf])
def test_bad_snr_is_refused(rng, snr):
    with pytest.raises(ValueError, match="snr"):
        add_noise(_clean(rng, 3), snr, rng)


def test_bad_stacks_are_refused(rng):
    with pytest.raises(ValueError, match="empty"):
        noise_sigma(np.zeros((0, 8, 8)), 0.1)
    bad = _clean(rng, 3)
    bad[1, 2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        add_noise(bad, 0.1, rng)
    with pytest.raises(ValueError, match="constant"):
        noise_sigma(np.ones((2, 8, 8)), 0.1)


def test_aspire_style_snr_is_larger_than_ours_for_a_centred_particle(rng):
    clean = _clean(rng, 20) + 0.5  # a positive mean, as projections of density have
    sigma = noise_sigma(clean, 0.1)
    ours = clean.reshape(20, -1).var(1) / sigma**2
    theirs = snr_energy_disk(clean, sigma**2)
    assert np.allclose(ours, 0.1) and np.all(theirs > ours)


def test_shot_noise_has_the_stated_mean_and_snr(rng):
    clean = rng.normal(size=(200, 16, 16)).astype(np.float32)
    noisy = add_shot_noise(clean, dose=50.0, contrast=0.1, rng=rng)
    assert abs(noisy.mean() - 50.0) < 0.5
    z = (clean - clean.mean()) / clean.std()
    signal = 50.0 * 0.1 * z
    snr = signal.var() / (noisy - 50.0 - signal).var()
    assert abs(snr / (50 * 0.1**2) - 1) < 0.1
