"""Tests of ``cdae_lite.io.relion``: real RELION 3.0 and 3.1 STAR files, and STAR files that are refused."""

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest
import starfile
import torch
from test_denoise_relion import _denoise

from cdae_lite.cli import main
from cdae_lite.denoise.checkpoint import save_model
from cdae_lite.denoise.models import AEConfig, autoencoder
from cdae_lite.io.paths import data_path
from cdae_lite.io.relion import plan_star

DATA = Path(__file__).parent / "data"


def _real(tmp, star, stack, name):
    shutil.copy(data_path(f"particles/{star}"), tmp / "in.star")
    with gzip.open(data_path(f"particles/{stack}"), "rb") as f, open(tmp / name, "wb") as g:
        shutil.copyfileobj(f, g)


def test_real_relion_30_and_31_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CDAE_PROGRESS", "0")
    torch.manual_seed(0)
    save_model(tmp_path / "m.pt", autoencoder(AEConfig(channels=4)), "autoencoder", {"channels": 4})
    _real(tmp_path, "cryodrgn_empiar_10076_7.star", "cryodrgn_empiar_10076_7.mrc.gz", "empiar_10076_7.mrc")
    plan = plan_star("in.star")  # RELION 3.0: no optics block, optics per particle
    assert plan.version == "3.0" and list(plan.groups) == [1]
    g = plan.groups[1]
    assert (g.voltage_kV, g.cs_mm, g.amplitude_contrast, g.image_size) == (300, 2.7, 0.07, 320)
    assert g.pixel_size_A == pytest.approx(5e4 / 38168)
    assert _denoise("in.star", "out.star", "--resample", "64") == 0
    out = starfile.read(tmp_path / "out.star", always_dict=True)
    assert list(out) == ["particles"]  # still a RELION 3.0 file
    parts = out["particles"]
    assert len(parts) == 7 and (parts["rlnDetectorPixelSize"] * 1e4 / parts["rlnMagnification"]).to_numpy() == \
        pytest.approx(5e4 / 38168 * 5)
    assert parts["rlnImageName"][6] == "000007@out/empiar_10076_7.mrcs"

    shutil.rmtree(tmp_path / "out")
    _real(tmp_path, "cryojax_trpv1_small_stack.star", "cryojax_trpv1_small_stack.mrcs.gz", "batch_0_restacked.mrc")
    (tmp_path / "out.star").unlink()
    assert _denoise("in.star", "out.star") == 0  # RELION 3.1, optics group 7, names starting "./"
    a, b = starfile.read(tmp_path / "in.star"), starfile.read(tmp_path / "out.star")
    pd.testing.assert_frame_equal(a["optics"], b["optics"])
    assert b["particles"]["rlnImageName"][0] == "000001@out/batch_0_restacked.mrcs"


def test_a_relion_written_star_without_stack_names_is_refused(tmp_path, capsys):
    # tests/data/starfile_one_loop.star: RELION 3.0 subtomogram STAR (names are files, not index@stack)
    assert main(["denoise", str(DATA / "starfile_one_loop.star"), "-o", str(tmp_path / "o.star")]) == 2
    assert "index@stack" in capsys.readouterr().err and list(tmp_path.iterdir()) == []
