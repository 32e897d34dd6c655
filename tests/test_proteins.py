"""Tests of ``cdae_lite.simulation.proteins``: the shipped maps and their download."""

import urllib.error

import numpy as np
import pytest

from cdae_lite.io.paths import data_path
from cdae_lite.simulation import proteins
from cdae_lite.simulation.proteins import PAPER_STANDINS, load_protein, protein_names


def test_shipped_proteins_are_complete_and_fill_two_thirds_of_the_box():
    assert sorted(protein_names()) == ["adk", "cxcr4", "proteasome", "rubisco"]
    assert protein_names("train") == ["rubisco"]
    for name in protein_names():
        p = load_protein(name)
        vol, px = p.volume()
        assert vol.shape == (64, 64, 64) and px == p.pixel_size_A and len(p.views_deg) == 4
        # the particle's extent: the radius holding 99 % of the density, about 2/3 of the half-box
        c = 32
        z, y, x = np.indices(vol.shape) - c
        r = np.sqrt(x**2 + y**2 + z**2).ravel()
        w = np.clip(vol.ravel(), 0, None)
        order = np.argsort(r)
        r99 = r[order][np.searchsorted(np.cumsum(w[order]) / w.sum(), 0.99)]
        assert 0.55 * 32 < r99 < 0.75 * 32, name
    assert load_protein("5wth").name == "adk"


def test_fetch_offline_falls_back_to_the_stand_in(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("CDAE_CACHE", str(tmp_path))

    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(proteins, "download", offline)
    with caplog.at_level("WARNING", logger="cdae_lite.simulation.proteins"):
        path = proteins.fetch_entry("5flc")
    assert "offline: could not download 5flc; using the shipped stand-in" in caplog.text
    assert path == data_path(PAPER_STANDINS["5flc"]["model"])
    with pytest.raises(ConnectionError, match="could not download"):
        proteins.fetch_entry("1abc")
    with pytest.raises(ValueError, match="neither"):
        proteins.fetch_entry("not-an-id")


def test_fetch_uses_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("CDAE_CACHE", str(tmp_path))
    calls = []

    def fake(url, dest, timeout=30):
        calls.append(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(b"model")
        return dest

    monkeypatch.setattr(proteins, "download", fake)
    p1 = proteins.fetch_entry("5K0Y")
    p2 = proteins.fetch_entry("5k0y")
    assert p1 == p2 and len(calls) == 1 and "5K0Y.cif.gz" in calls[0]
    proteins.fetch_entry("EMD-8117")
    assert calls[-1].endswith("EMD-8117/map/emd_8117.map.gz")
