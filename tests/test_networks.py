"""Tests of ``cdae_lite.denoise.networks``: the layers of the networks."""

import torch

from cdae_lite.denoise.models import autoencoder, build, cdae, describe, n_parameters
from cdae_lite.denoise.networks import AEConfig, ConvAutoencoder


def test_paper_architecture_and_layer_table():
    net = ConvAutoencoder(AEConfig())
    convs = [m for m in net.encoder if isinstance(m, torch.nn.Conv2d)]
    pools = [m for m in net.encoder if isinstance(m, torch.nn.MaxPool2d)]
    tconvs = [m for m in net.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    last = [m for m in net.decoder if isinstance(m, torch.nn.Conv2d)]
    assert (len(convs), len(pools), len(tconvs), len(last)) == (6, 3, 3, 1)
    assert last[0].in_channels == 32 and last[0].out_channels == 1
    drops = [m for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(drops) == 2 and all(d.p == 0.5 for d in drops)
    table = describe(autoencoder(), 64)
    assert sum(r["parameters"] for r in table) == n_parameters(autoencoder()) == 74593
    assert table[-1]["output_shape"] == (1, 64, 64)
    assert n_parameters(cdae()) == n_parameters(build("chain")) == 3 * 74593


def test_output_dropout_switch_changes_only_the_layer_before_the_output():
    import torch.nn as nn

    paper, variant = ConvAutoencoder(AEConfig()), ConvAutoencoder(AEConfig(output_dropout=False))
    assert isinstance(paper.decoder[-2], nn.Dropout) and isinstance(variant.decoder[-2], nn.Identity)
    assert isinstance(variant.encoder[-1], nn.Dropout)  # the encoder's dropout stays
    assert paper.state_dict().keys() == variant.state_dict().keys()  # checkpoints interchange
    variant.load_state_dict(paper.state_dict())
    x = torch.randn(2, 1, 16, 16)
    variant.eval(), paper.eval()
    assert torch.allclose(variant(x), paper(x))  # in eval mode dropout is off: same function
    variant.train()
    variant.encoder[-1].p = 0.0
    assert torch.equal(variant(x), variant(x))  # no dropout left in training either


def test_the_cpu_dropout_keeps_each_element_with_probability_1_minus_p_and_rescales():
    from cdae_lite.denoise.networks import Dropout

    x = torch.ones(200, 32, 16, 16)
    layer = Dropout(0.5).train()
    torch.manual_seed(0)
    y = layer(x)
    kept = y != 0
    assert set(torch.unique(y).tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - p)
    assert abs(kept.float().mean().item() - 0.5) < 0.005 and abs(y.mean().item() - 1.0) < 0.01
    torch.manual_seed(0)
    assert torch.equal(layer(x), y)  # seeded: the same mask
    assert torch.equal(layer.eval()(x), x)  # evaluation: identity
    assert torch.equal(Dropout(0.0).train()(x), x)
    g = torch.ones(4, 8, requires_grad=True)
    torch.manual_seed(1)
    out = Dropout(0.25).train()(g)
    out.sum().backward()  # the gradient flows through the kept elements only, scaled like them
    assert torch.equal(g.grad, (out.detach() != 0).float() / 0.75)
    assert abs((Dropout(0.25).train()(x) != 0).float().mean().item() - 0.75) < 0.005  # keeps 1 - p, not p
