"""The field's tools beside ours (issue 28): the recorded comparison the chapters read, and the peers live."""

import re
from pathlib import Path

import numpy as np
import pytest

from cdae_lite.paper import peers, peers_summary
from cdae_lite.paper.general_eval import PRESETS
from cdae_lite.paper.results import load_result

ROOT = Path(__file__).resolve().parents[1]
SETS = [f"{p} / {s}" for s in PRESETS for p in ("proteasome", "cxcr4", "adk", "apoferritin (held out)")]
COLUMNS = ("psnr", "gain", "affine_psnr", "view_accuracy", "collapsed", "frc_resolution_A", "seconds_per_image")


@pytest.fixture(scope="module")
def recorded():
    result = load_result("peers", "cpu")
    assert result is not None, "results/cpu/peers.json is missing: python -m cdae_lite.paper peers --profile cpu"
    return result


def test_record_has_provenance_and_every_row_the_chapters_read(recorded):
    for key in ("created", "device", "commit", "seeds", "command"):
        assert recorded[key], key
    assert recorded["command"].startswith("python -m cdae_lite.paper peers")
    rows = recorded["metrics"]["rows"]
    have = {(f"{r['protein']} / {r['preset']}", r["method"]) for r in rows}
    for s in SETS:
        for m in (*peers.SINGLE_ROWS, *peers.STACK_ROWS):
            if (m in (peers.AWARE_NA, peers.BM3D_AVG_NA) and s.endswith("realistic")
                    or m in (peers.AWARE_CTF, peers.BM3D_AVG_CTF) and s.endswith("paper")):
                continue  # --no-align for particles not rotated in plane, --ctf-aware for those with a CTF
            assert (s, m) in have, (s, m)
    for r in rows:
        if not r.get("nonfinite"):
            assert all(c in r for c in COLUMNS), r
    assert len(peers.peer_verdicts(rows)) == len(peers.COMPARISONS)
    assert set(recorded["metrics"]["topaz_signs"]) == set(PRESETS)


def test_readme_paragraph_is_the_one_computed_from_the_record(recorded):
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- peers -->\n(.+?)\n<!-- /peers -->", readme, re.S)
    assert m, "README.md must hold the peers paragraph between <!-- peers --> markers"
    assert " ".join(m.group(1).split()) == " ".join(peers_summary.readme_paragraph(recorded).split())


def test_recording_command_says_which_peer_is_missing(monkeypatch, capsys):
    from cdae_lite.paper.command import main

    monkeypatch.setattr(peers, "missing_peers", lambda: ["topaz-em"])
    with pytest.raises(SystemExit) as e:
        main(["peers", "--profile", "cpu", "--out", "/nonexistent/peers.json"])
    assert e.value.code == 2 and "topaz-em" in capsys.readouterr().err
    assert "topaz-em" in peers.peers_note()


def test_a_nonfinite_output_is_reported_not_averaged():
    from cdae_lite.paper.general_eval import DenoiserEvaluation, score_denoisers
    from cdae_lite.simulation.config import SimulationConfig
    from cdae_lite.simulation.proteins import test_proteins
    from cdae_lite.simulation.stacks import simulate_protein

    cfg = DenoiserEvaluation(size=32, images_per_view=2, n_images=4)
    s = simulate_protein(test_proteins()[2], SimulationConfig(image_size=32, images_per_view=2, seed=1), snrs=(0.1,))
    rows = score_denoisers({"broken": lambda x, sig: np.full_like(x, np.nan)}, {("p", "paper"): s}, cfg)
    bad = next(r for r in rows if r["method"] == "broken")
    assert bad["nonfinite"] == 4 and "psnr" not in bad
    assert peers.set_margins(rows, "broken", "raw", "psnr") == {}


def test_the_peers_run_on_a_couple_of_images():
    pytest.importorskip("topaz", reason="Topaz-Denoise (topaz-em) is not installed: pip install -e '.[peers]' && pip install --no-deps topaz-em==0.3.20")
    pytest.importorskip("aspire", reason="ASPIRE is not installed: pip install -e '.[peers]' && pip install --no-deps topaz-em==0.3.20")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 32, 32)).astype(np.float32)
    for resample in ((None, None), (2.0, peers.TOPAZ_PIXEL_A)):
        out = peers.topaz_denoise(x, peers.topaz_model("unet-small"), -1.0, *resample)
        assert out.shape == x.shape and out.dtype == np.float32 and np.isfinite(out).all()
    stack = rng.normal(size=(40, 32, 32))
    out = peers.cov2d_denoise(stack, 1.0, [0, 1], pixel_size_A=2.0)
    assert out.shape == (2, 32, 32) and np.isfinite(out).all()
