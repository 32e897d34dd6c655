import pickle

import numpy as np
import pytest
import torch

from cdae_lite.denoise.checkpoint import load_model, save_model
from cdae_lite.denoise.inference import predict
from cdae_lite.denoise.models import autoencoder, build, cdae, describe, dncnn, n_parameters, noise2void_unet
from cdae_lite.denoise.networks import AEConfig, ConvAutoencoder, DnCNNConfig
from cdae_lite.denoise.train import TrainConfig, fit, normalized_mse


@pytest.mark.parametrize("size", [8, 16, 32, 64])
def test_autoencoder_keeps_shape(size):
    m = autoencoder().eval()
    assert m(torch.randn(3, 1, size, size)).shape == (3, 1, size, size)


@pytest.mark.parametrize("size", [30, 33, 12])
def test_sizes_the_network_cannot_take_are_refused_clearly(size):
    with pytest.raises(ValueError, match="multiple of 8"):
        autoencoder().eval()(torch.randn(1, 1, size, size))


@pytest.mark.parametrize("size", [30, 33, 41])
def test_predict_pads_odd_sizes_and_crops_back(size):
    x = np.random.default_rng(0).normal(size=(2, size, size)).astype(np.float32)
    for m in (autoencoder(), noise2void_unet(), dncnn(DnCNNConfig(depth=3, channels=8))):
        assert predict(m, x, device="cpu").shape == x.shape


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


def test_normalisation_makes_models_affine_equivariant():
    torch.manual_seed(0)
    m = autoencoder().eval()
    x = torch.randn(4, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(m(3.5 * x - 7.0), 3.5 * m(x) - 7.0, atol=1e-4)


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


@pytest.mark.parametrize("arch, kwargs", [("autoencoder", {}), ("cdae", {}), ("chain", {}),
                                          ("dncnn", {"depth": 4, "channels": 8}),
                                          ("noise2void_unet", {"channels": 8})])
def test_save_and_load_give_identical_outputs(tmp_path, arch, kwargs):
    torch.manual_seed(0)
    m = build(arch, kwargs).eval()
    x = np.random.default_rng(0).normal(size=(3, 16, 16)).astype(np.float32)
    path = save_model(tmp_path / "m.pt", m, arch, kwargs, record={"note": "test"})
    m2, meta = load_model(path)
    assert np.array_equal(predict(m, x, device="cpu"), predict(m2, x, device="cpu"))
    assert meta["architecture"] == arch and meta["record"]["note"] == "test"


def test_records_with_str_subclasses_and_numpy_values_still_load_weights_only(tmp_path):
    # torch.__version__ is a str subclass that weights_only loading refuses: the record must be plain
    rec = {"torch": torch.__version__, "loss": np.float32(0.5), "curve": np.arange(3), "nested": {"n": np.int64(2)}}
    path = save_model(tmp_path / "r.pt", autoencoder(AEConfig(channels=4)), "autoencoder", {"channels": 4}, record=rec)
    _, meta = load_model(path)
    assert meta["record"] == {"torch": str(torch.__version__), "loss": 0.5, "curve": [0, 1, 2], "nested": {"n": 2}}
    assert type(meta["record"]["torch"]) is str
    with pytest.raises(TypeError, match="cannot store"):
        save_model(tmp_path / "bad.pt", autoencoder(AEConfig(channels=4)), "autoencoder", {}, record={"x": object()})
    assert not (tmp_path / "bad.pt").exists()


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    save_model(tmp_path / "d.pt", dncnn(DnCNNConfig(depth=3, channels=4)), "dncnn", {"depth": 3, "channels": 4})
    with pytest.raises(ValueError, match="holds a 'dncnn' model, but a 'cdae' model is needed"):
        load_model(tmp_path / "d.pt", expect="cdae")


@pytest.mark.parametrize("old, new", [("unet", "noise2void_unet"), ("denoiser", "general_unet")])
def test_checkpoints_with_names_from_before_issue_29_still_load(tmp_path, old, new):
    """Files that store an architecture's old name load as today's architecture, with today's name."""
    cfg = {"channels": 4} if new == "noise2void_unet" else {"channels": [4, 4, 4, 4]}
    path = save_model(tmp_path / "old.pt", build(new, cfg), new, cfg)
    payload = torch.load(path, weights_only=True)
    payload["architecture"] = old
    torch.save(payload, path)
    model, meta = load_model(path, expect=new)
    assert meta["architecture"] == new
    ref = build(new, cfg).eval()
    ref.load_state_dict(payload["state_dict"])
    x = torch.randn(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x), ref(x))


def test_mismatched_weights_are_refused(tmp_path):
    path = save_model(tmp_path / "a.pt", autoencoder(AEConfig(channels=8)), "autoencoder", {"channels": 8})
    payload = torch.load(path, weights_only=True)
    payload["config"] = {"channels": 16}
    torch.save(payload, path)
    with pytest.raises(ValueError, match="do not fit"):
        load_model(path)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_file_that_is_not_a_checkpoint_is_refused_without_running_its_code(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.pt"
    with open(bad, "wb") as f:
        pickle.dump({"format": "cdae-lite-checkpoint-1", "x": _Exploit(str(marker))}, f)
    with pytest.raises(ValueError, match="not a cdae-lite checkpoint"):
        load_model(bad)
    assert not marker.exists()
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ValueError, match="not a cdae-lite checkpoint"):
        load_model(tmp_path / "text.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="marker"):
        load_model(tmp_path / "plain.pt")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")


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
