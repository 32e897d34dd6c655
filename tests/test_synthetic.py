"""Fresh-noise training (cdae_lite.denoise.synthetic): the noise it draws, and what it learns."""

import numpy as np
import pytest
import torch

from cdae_lite.denoise.inference import predict
from cdae_lite.denoise.models import GeneralUNetConfig, general_unet
from cdae_lite.denoise.synthetic import FreshNoiseConfig, add_fresh_noise, fit_fresh_noise
from cdae_lite.metrics import psnr

TINY = GeneralUNetConfig((8, 8, 16, 16))


def test_fresh_noise_has_the_requested_snrs_and_colour():
    gen = torch.Generator().manual_seed(0)
    clean = torch.randn(400, 32, 32)
    noisy, snr = add_fresh_noise(clean, 0.05, 0.2, 0.0, gen)
    assert snr.min() >= 0.05 and snr.max() <= 0.2 and snr.std() > 0.02
    measured = clean.flatten(1).var(1) / (noisy - clean).flatten(1).var(1)
    assert torch.allclose(measured.log().mean(), snr.log().mean(), atol=0.05)
    _, _ = add_fresh_noise(clean, 0.1, 0.1, 1.0, gen)
    col = add_fresh_noise(clean, 0.1, 0.1, 1.0, gen)[0] - clean
    white = add_fresh_noise(clean, 0.1, 0.1, 0.0, gen)[0] - clean
    low = lambda n: torch.fft.rfft2(n).abs()[:, :3, :3].pow(2).mean()  # noqa: E731
    assert low(col) > 1.5 * low(white)  # coloured noise carries more power at low frequencies


def test_a_high_snr_share_draws_that_share_above_snr_max_and_none_beyond_its_top():
    clean = torch.randn(2000, 16, 16)
    plain = add_fresh_noise(clean, 0.02, 0.3, 0.0, torch.Generator().manual_seed(1))[1]
    _, snr = add_fresh_noise(clean, 0.02, 0.3, 0.0, torch.Generator().manual_seed(1), 0.25, 3.0)
    high = snr > 0.3
    assert 0.2 < high.float().mean() < 0.3 and snr.max() <= 3.0 and snr[high].max() > 2.0
    assert torch.equal(snr[~high], plain[~high])  # the low-SNR draws are the plain run's
    with pytest.raises(ValueError, match="high_snr"):
        FreshNoiseConfig(high_snr_fraction=0.2, high_snr_max=0.1)


def _disks(n=256, size=32, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    c = rng.uniform(10, 22, (n, 2))
    r = rng.uniform(4, 9, n)
    return ((yy - c[:, 0, None, None]) ** 2 + (xx - c[:, 1, None, None]) ** 2 < r[:, None, None] ** 2).astype(np.float32)


def test_fresh_noise_training_learns_to_denoise_and_is_deterministic():
    clean = _disks()
    cfg = FreshNoiseConfig(snr_min=0.3, snr_max=0.3, coloured_fraction=0.0, max_images=3000, minutes=5, lr=3e-3)
    torch.manual_seed(0)
    m = general_unet(TINY)
    saved = []
    hist = fit_fresh_noise(m, clean, cfg, "cpu", on_checkpoint=saved.append)
    assert hist.images_seen >= 3000 and saved and saved[-1].images_seen == hist.images_seen
    test = _disks(64, seed=9)
    noisy = add_fresh_noise(torch.from_numpy(test), 0.3, 0.3, 0.0, torch.Generator().manual_seed(5))[0].numpy()
    assert psnr(predict(m, noisy, device="cpu"), test).mean() > psnr(noisy, test).mean() + 5
    torch.manual_seed(0)
    m2 = general_unet(TINY)
    fit_fresh_noise(m2, clean, cfg, "cpu")
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), m2.state_dict().values()))


def test_training_that_stops_by_images_gives_the_same_weights_twice():
    # chapter 7's quick profile trains this way, so its numbers are the same on any machine
    clean = np.random.default_rng(0).normal(size=(12, 16, 16)).astype(np.float32)
    cfg = FreshNoiseConfig(batch_size=4, minutes=5, max_images=40, seed=1)
    weights = []
    for _ in range(2):
        torch.manual_seed(0)
        m = general_unet(TINY)
        hist = fit_fresh_noise(m, clean, cfg, "cpu")
        weights.append(m.state_dict())
    assert hist.images_seen == 40
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
