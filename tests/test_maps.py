import urllib.error

import numpy as np
import pytest

from cdae_lite.io.paths import data_path
from cdae_lite.simulation import maps, proteins
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


def test_map_round_trip(tmp_path, rng):
    vol = rng.normal(size=(16, 16, 16)).astype(np.float32)
    for name in ("m.mrc", "m.mrc.gz"):
        maps.save_map(tmp_path / name, vol, 2.5)
        back, px = maps.load_map(tmp_path / name)
        assert np.array_equal(back, vol) and px == pytest.approx(2.5)
    with pytest.raises(FileExistsError):
        maps.save_map(tmp_path / "m.mrc", vol, 2.5)


def test_bad_map_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        maps.load_map(tmp_path / "nope.mrc")
    (tmp_path / "junk.mrc").write_bytes(b"x" * 2000)
    with pytest.raises(ValueError, match="not a readable MRC"):
        maps.load_map(tmp_path / "junk.mrc")


def test_resample_keeps_density_and_low_frequencies():
    vol, _ = load_protein("adk").volume()
    small = maps.resample(vol, 32)
    # a voxel is 8 times larger: the sum scales by 1/8, the mean density stays
    assert np.isclose(small.sum() * 8, vol.sum(), rtol=1e-4)
    back = maps.resample(small, 64)
    lp = maps.resample(maps.resample(vol, 32), 64)
    assert np.allclose(back, lp, atol=1e-6)


def test_model_to_map_is_centred_and_positive():
    vol = maps.model_to_map(data_path("models/1ake_adk_closed.pdb.gz"), 32, 2.54, 8.0)
    z, y, x = np.indices(vol.shape)
    m = vol.sum()
    assert np.allclose([(x * vol).sum() / m, (y * vol).sum() / m, (z * vol).sum() / m], 16, atol=0.2)
    assert vol.max() > 0 and vol.min() > -0.05 * vol.max()


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


def test_image_resampling_keeps_a_smooth_image_and_the_mean():
    from cdae_lite.images import resample_images

    yy, xx = np.indices((64, 64)) - 32
    img = np.exp(-(xx**2 + yy**2) / (2 * 6.0**2)).astype(np.float32)[None]
    small = resample_images(img, 32)
    yy2, xx2 = np.indices((32, 32)) - 16
    expected = np.exp(-(xx2**2 + yy2**2) / (2 * 3.0**2))  # same physical width, half the pixels
    assert np.allclose(small[0], expected, atol=2e-3)
    assert np.isclose(small.mean(), img.mean(), rtol=1e-3)  # a density: the mean value is kept
    assert np.allclose(resample_images(small, 64)[0], resample_images(resample_images(img, 32), 64)[0])
