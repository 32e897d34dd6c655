import pytest
import torch

from cdae_lite.denoise.models import autoencoder


@pytest.mark.parametrize("size", [8, 16, 32, 64])
def test_autoencoder_keeps_shape(size):
    m = autoencoder().eval()
    assert m(torch.randn(3, 1, size, size)).shape == (3, 1, size, size)


@pytest.mark.parametrize("size", [30, 33, 12])
def test_sizes_the_network_cannot_take_are_refused_clearly(size):
    with pytest.raises(ValueError, match="multiple of 8"):
        autoencoder().eval()(torch.randn(1, 1, size, size))


def test_normalisation_makes_models_affine_equivariant():
    torch.manual_seed(0)
    m = autoencoder().eval()
    x = torch.randn(4, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(m(3.5 * x - 7.0), 3.5 * m(x) - 7.0, atol=1e-4)
