"""Tests of ``cdae_lite.simulation.views``: distinct views avoid symmetry mates, and ``cdae-lite simulate``'s
views: the number of views comes from --views-deg when given (issue 32, item 5)."""

import numpy as np
import pytest

from cdae_lite.cli import main
from cdae_lite.simulation import hemisphere_views, load_protein, resolve_views
from cdae_lite.simulation.stacks import load_particles
from cdae_lite.simulation.views import distinct_views

TWELVE = ";".join(f"{r:.1f},{t:.1f},0" for r, t, _ in hemisphere_views(12))
SMALL = ["--protein", "adk", "--profile", "quick", "--per-view", "3", "--size", "16", "--snr", "0.1"]


def _views_written(out) -> np.ndarray:
    return np.unique(load_particles(out / "adk_snr0.1.star")[1]["cdaeView"].to_numpy())


def test_views_deg_alone_writes_every_view(tmp_path):
    assert main(["simulate", *SMALL, f"--views-deg={TWELVE}", "-o", str(tmp_path)]) == 0
    views = _views_written(tmp_path)
    assert views.tolist() == list(range(12))  # not only the first 4
    two = ";".join(TWELVE.split(";")[:2])
    assert main(["simulate", *SMALL, f"--views-deg={two}", "-o", str(tmp_path / "two")]) == 0
    assert _views_written(tmp_path / "two").tolist() == [0, 1]


def test_views_mismatch_is_one_line_exit_2_nothing_written(tmp_path, capsys):
    assert main(["simulate", *SMALL, "--views", "4", f"--views-deg={TWELVE}", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "4 views asked for but 12 view directions given" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_views_n_for_a_shipped_protein(tmp_path):
    assert main(["simulate", *SMALL, "--views", "12", "-o", str(tmp_path)]) == 0
    star = load_particles(tmp_path / "adk_snr0.1.star")[1]
    assert sorted(star["cdaeView"].unique()) == list(range(12)) and len(star) == 36
    tilts = star.groupby("cdaeView")["rlnAngleTilt"].first().to_numpy()
    assert len(np.unique(np.round(tilts))) == 12 and tilts.max() <= 90  # distinct, over a hemisphere


def test_resolve_views_rules():
    shipped = np.array(load_protein("adk").views_deg)
    assert np.array_equal(resolve_views(None, None, shipped), shipped)
    assert np.array_equal(resolve_views(None, 2, shipped), shipped[:2])
    assert np.array_equal(resolve_views(None, 7, shipped), hemisphere_views(7))
    assert resolve_views(hemisphere_views(5), None, shipped).shape == (5, 3)
    assert resolve_views(None, 3, lambda n: hemisphere_views(n)).shape == (3, 3)
    with pytest.raises(ValueError, match="2 views asked for but 5"):
        resolve_views(hemisphere_views(5), 2, shipped)
    with pytest.raises(ValueError, match=">= 1"):
        resolve_views(None, 0, shipped)
    d = np.degrees(np.arccos(np.clip(np.cos(np.radians(hemisphere_views(12)[:, 1])), -1, 1)))
    assert d.min() >= 0 and d.max() <= 90


def test_distinct_views_avoid_symmetry_mates():
    # a D2-like map made of four blobs: views related by its 2-fold axes look the same
    n = 32
    z, y, x = np.mgrid[:n, :n, :n] - n // 2
    vol = sum(np.exp(-((x - a) ** 2 + (y - b) ** 2 + (z - c) ** 2) / 8.0)
              for a, b, c in [(6, 3, 0), (-6, -3, 0), (3, -6, 4), (-3, 6, -4)]).astype(np.float32)
    views = distinct_views(vol, k=3, n_candidates=60)
    dirs = np.stack([np.sin(np.radians(views[:, 1])) * np.cos(np.radians(views[:, 0])),
                     np.sin(np.radians(views[:, 1])) * np.sin(np.radians(views[:, 0])),
                     np.cos(np.radians(views[:, 1]))], 1)
    # no two chosen directions are (nearly) the same or mirror images of each other
    cos = np.abs(dirs @ dirs.T)[np.triu_indices(3, 1)]
    assert cos.max() < 0.95
