"""Tests of ``cdae_lite.denoise.train``: the paper's training, its loss and Noise2Void's blind spot."""

import numpy as np
import torch

from cdae_lite.denoise.inference import predict
from cdae_lite.denoise.models import autoencoder
from cdae_lite.denoise.networks import AEConfig
from cdae_lite.denoise.train import TrainConfig, fit, normalized_mse


def test_a_few_training_steps_lower_the_loss():
    rng = np.random.default_rng(0)
    clean = np.zeros((64, 16, 16), np.float32)
    clean[:, 4:12, 4:12] = rng.uniform(1, 2, (64, 1, 1))
    noisy = clean + rng.normal(scale=0.5, size=clean.shape).astype(np.float32)
    torch.manual_seed(0)
    m = autoencoder(AEConfig(channels=8, dropout=0.0))
    h = fit(m, noisy, clean, TrainConfig(epochs=8, batch_size=16, lr=3e-3, val_fraction=0.25), device="cpu")
    assert h.train_loss[-1] < 0.7 * h.train_loss[0]
    assert h.val_loss[-1] < h.val_loss[0]
    assert len(h.train_loss) == 8 and h.n_train == 48 and h.n_val == 16


def test_training_is_reproducible_with_a_seed():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 8, 8)).astype(np.float32)
    y = 0.5 * x
    outs = []
    for _ in range(2):
        torch.manual_seed(0)
        m = autoencoder(AEConfig(channels=4))
        fit(m, x, y, TrainConfig(epochs=2, batch_size=8, seed=3), device="cpu")
        outs.append(predict(m, x, device="cpu"))
    assert np.array_equal(outs[0], outs[1])


def test_normalized_mse_matches_definition():
    x = torch.randn(2, 1, 8, 8) * torch.tensor([1.0, 4.0]).view(2, 1, 1, 1)
    out, tgt = torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8)
    s = x.std(dim=(-2, -1), keepdim=True)
    assert torch.isclose(normalized_mse(out, tgt, x), (((out - tgt) / s) ** 2).mean())


def test_blind_spot_masking_moves_only_masked_pixels_to_neighbour_values():
    from cdae_lite.denoise.train import blind_spot

    x = torch.arange(2 * 16 * 16, dtype=torch.float32).reshape(2, 1, 16, 16)
    g = torch.Generator().manual_seed(0)
    xm, mask = blind_spot(x, 0.1, g, radius=2)
    assert 0.05 < mask.float().mean() < 0.15
    assert torch.equal(xm[~mask], x[~mask])
    changed = xm[mask] != x[mask]
    assert changed.all()  # a neighbour, never the pixel itself (values are all distinct)
    # every replacement comes from within 2 rows and 2 columns (cyclically), in the same image
    src = xm[mask].long()
    img, pos = src // 256, src % 256
    b, _, r, c = torch.nonzero(mask, as_tuple=True)
    assert torch.equal(img, b)

    def cyc(d):
        return torch.minimum(d.abs(), 16 - d.abs())

    assert (cyc(pos // 16 - r) <= 2).all() and (cyc(pos % 16 - c) <= 2).all()


def test_noise2void_learns_to_denoise_without_clean_targets():
    rng = np.random.default_rng(0)
    clean = np.zeros((64, 16, 16), np.float32)
    yy, xx = np.indices((16, 16)) - 8
    clean[:] = np.exp(-(xx**2 + yy**2) / 10.0) * rng.uniform(2, 4, (64, 1, 1))
    noisy = clean + rng.normal(scale=0.5, size=clean.shape).astype(np.float32)
    from cdae_lite.denoise.models import noise2void_unet
    from cdae_lite.denoise.networks import Noise2VoidConfig
    from cdae_lite.metrics import psnr

    torch.manual_seed(0)
    m = noise2void_unet(Noise2VoidConfig(channels=8))
    fit(m, noisy, noisy, TrainConfig(epochs=12, batch_size=16, lr=3e-3, optimizer="adam", val_fraction=0),
        device="cpu", blind_spot_fraction=0.05)
    assert psnr(predict(m, noisy, device="cpu"), clean).mean() > psnr(noisy, clean).mean() + 3
