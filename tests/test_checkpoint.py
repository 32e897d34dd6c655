"""Tests of ``cdae_lite.denoise.checkpoint``: saving and loading models, and what is refused."""

import pickle

import numpy as np
import pytest
import torch

from cdae_lite.denoise.checkpoint import load_model, save_model
from cdae_lite.denoise.inference import predict
from cdae_lite.denoise.models import autoencoder, build, dncnn
from cdae_lite.denoise.networks import AEConfig, DnCNNConfig


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
