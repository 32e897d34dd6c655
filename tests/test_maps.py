import numpy as np
import pytest

from cdae_lite.io.paths import data_path
from cdae_lite.simulation import maps
from cdae_lite.simulation.maps import diameter_voxels, fit_box
from cdae_lite.simulation.proteins import load_protein


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


def test_box_fitting_and_diameter():
    vol = np.zeros((20, 20, 20), np.float32)
    vol[6:14, 6:14, 6:14] = 1
    assert fit_box(vol, 32).shape == (32,) * 3 and fit_box(vol, 32).sum() == vol.sum()
    assert fit_box(vol, 10).shape == (10,) * 3 and fit_box(vol, 10).sum() == 8**3
    assert 12 < diameter_voxels(vol) < 16  # the cube's diagonal, about 8 * sqrt(3)


def test_phantoms_are_deterministic_centred_and_inside_the_box():
    a, b, c = maps.phantom(32, 3), maps.phantom(32, 3), maps.phantom(32, 4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    z, y, x = np.indices(a.shape) - 16
    com = [(w * a).sum() / a.sum() for w in (x, y, z)]
    assert np.allclose(com, 0, atol=1.0)
    r = np.sqrt(x**2 + y**2 + z**2)
    assert a[r > 15].sum() < 0.01 * a.sum()
