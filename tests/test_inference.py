"""Tests of ``cdae_lite.denoise.inference``: prediction, polarity and symmetrisation."""

import numpy as np
import pytest
import torch

from cdae_lite.denoise.inference import predict
from cdae_lite.denoise.models import autoencoder, dncnn, noise2void_unet
from cdae_lite.denoise.networks import DnCNNConfig


@pytest.mark.parametrize("size", [30, 33, 41])
def test_predict_pads_odd_sizes_and_crops_back(size):
    x = np.random.default_rng(0).normal(size=(2, size, size)).astype(np.float32)
    for m in (autoencoder(), noise2void_unet(), dncnn(DnCNNConfig(depth=3, channels=8))):
        assert predict(m, x, device="cpu").shape == x.shape


def test_for_polarity_negates_the_model_for_dark_particles_only():
    from cdae_lite.denoise import Negated, for_polarity

    yy, xx = np.mgrid[:32, :32] - 15.5
    bright = np.repeat((np.hypot(yy, xx) < 6).astype(np.float32)[None], 3, 0)
    model = torch.nn.Identity()
    m, pol = for_polarity(model, bright)
    assert pol == "bright" and m is model
    m, pol = for_polarity(model, -bright)
    assert pol == "dark" and isinstance(m, Negated)
    assert isinstance(for_polarity(model, bright, invert=True)[0], Negated)
    assert for_polarity(model, -bright, invert=False)[0] is model


class _Lopsided(torch.nn.Module):
    """A denoiser that is neither flip- nor transpose-equivariant: a shift plus a ramp."""

    def forward(self, x):
        ramp = torch.linspace(0, 1, x.shape[-1])
        return x.roll(1, -1) + 0.5 * x.roll(2, -2) + ramp * x.mean()


@pytest.mark.parametrize("transforms", [8, 4, 2])
def test_symmetrized_is_equivariant_to_its_transforms_even_when_the_model_is_not(transforms):
    from cdae_lite.denoise import Symmetrized

    torch.manual_seed(0)
    x = torch.randn(3, 1, 8, 8)
    inner, sym = _Lopsided(), Symmetrized(_Lopsided(), transforms)
    same = {8: [lambda t: t.flip(-1), lambda t: t.flip(-2), lambda t: t.transpose(-2, -1)],
            4: [lambda t: t.flip(-1), lambda t: t.flip(-2)], 2: [lambda t: t.transpose(-2, -1)]}[transforms]
    for g in same:
        assert not torch.allclose(inner(g(x)), g(inner(x)))
        assert torch.allclose(sym(g(x)), g(sym(x)), atol=1e-6)
    assert torch.allclose(Symmetrized(torch.nn.Identity(), transforms)(x), x)


def test_symmetrized_uses_flips_only_for_non_square_images_and_rejects_other_counts():
    from cdae_lite.denoise import Symmetrized

    x = torch.randn(2, 1, 8, 16)
    y = Symmetrized(_Lopsided())(x)
    assert y.shape == x.shape
    assert torch.allclose(y, Symmetrized(_Lopsided(), 4)(x))
    with pytest.raises(ValueError, match="transforms must be 2, 4 or 8"):
        Symmetrized(_Lopsided(), 3)
