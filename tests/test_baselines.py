import numpy as np
import pytest

from cdae_lite.denoise import baselines
from cdae_lite.denoise.models import DnCNNConfig, dncnn
from cdae_lite.metrics import psnr
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.stacks import simulate_protein


@pytest.fixture(scope="module")
def stack():
    return simulate_protein("proteasome", SimulationConfig(image_size=24, images_per_view=2))


ALL = [baselines.Identity(), baselines.Gaussian(1.0), baselines.Wiener(), baselines.TV(0.5),
       baselines.Wavelet(), baselines.NLMeans(n_jobs=1), baselines.BM3D(n_jobs=1),
       baselines.Learned(dncnn(DnCNNConfig(depth=3, channels=4)), "dncnn", device="cpu")]


@pytest.mark.parametrize("d", ALL, ids=lambda d: d.name)
def test_shape_dtype_determinism_and_nan(stack, d):
    x = stack.noisy[0.1][:4]
    sig = stack.meta["cdaeNoiseSigma_0.1"].to_numpy()[:4]
    a, b = d.denoise(x, sigma=sig), d.denoise(x, sigma=sig)
    assert a.shape == x.shape and a.dtype == np.float32
    assert np.array_equal(a, b)  # BM3D too: one thread per call, so no reduction order to vary
    bad = x.copy()
    bad[1, 3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        d.denoise(bad, sigma=sig)


def test_bm3d_improves_psnr_on_a_tiny_noisy_image(stack):
    x, c = stack.noisy[0.1][:2], stack.clean[:2]
    sig = stack.meta["cdaeNoiseSigma_0.1"].to_numpy()[:2]
    out = baselines.BM3D(n_jobs=1).denoise(x, sigma=sig)
    assert np.all(psnr(out, c) > psnr(x, c) + 5)
    # estimated sigma works too, and is close to the truth
    est = baselines._sigmas(x, None)
    assert np.allclose(est, sig, rtol=0.25)


def test_bm3d_with_one_thread_per_image_equals_the_packages_default_in_parallel_or_not(stack):
    import bm3d

    x = stack.noisy[0.1][:5]
    sig = stack.meta["cdaeNoiseSigma_0.1"].to_numpy()[:5]
    default = np.stack([bm3d.bm3d(i.astype(np.float64), s) for i, s in zip(x, sig)]).astype(np.float32)
    serial, parallel = baselines.BM3D(n_jobs=1).denoise(x, sigma=sig), baselines.BM3D(n_jobs=2).denoise(x, sigma=sig)
    assert np.array_equal(serial, parallel)
    # the package's default sums in threads: equal to float precision, not bitwise
    assert np.allclose(serial, default, rtol=1e-5, atol=1e-5 * np.abs(default).max())


def test_ctf_aware_wiener_beats_the_plain_one_on_ctf_data():
    s = simulate_protein("adk", SimulationConfig(image_size=32, images_per_view=40).realistic())
    x, c = s.noisy[0.1], s.clean
    sig = s.meta["cdaeNoiseSigma_0.1"].to_numpy()
    plain = baselines.Wiener().denoise(x, sigma=sig)
    aware = baselines.Wiener(pixel_size_A=s.pixel_size_A, ctf={
        "defocus_u_A": s.meta["rlnDefocusU"].to_numpy(), "defocus_v_A": s.meta["rlnDefocusV"].to_numpy(),
        "defocus_angle_deg": s.meta["rlnDefocusAngle"].to_numpy()}).denoise(x, sigma=sig)
    assert psnr(aware, c).mean() > psnr(plain, c).mean() > psnr(x, c).mean()


def test_tuning_picks_the_best_value_and_reports_every_value(stack):
    x, c = stack.noisy[0.1][:6], stack.clean[:6]
    best, table = baselines.tune("Gaussian", x, c, grid={"sigma_px": [0.3, 1.0, 2.0]})
    assert list(table["value"]) == [0.3, 1.0, 2.0] and set(table["parameter"]) == {"sigma_px"}
    manual = [psnr(baselines.Gaussian(v).denoise(x), c).mean() for v in (0.3, 1.0, 2.0)]
    assert np.allclose(table["psnr_mean"], manual)
    assert best.sigma_px == [0.3, 1.0, 2.0][int(np.argmax(manual))]


def test_bad_sigma(stack):
    with pytest.raises(ValueError, match="sigma"):
        baselines.TV().denoise(stack.noisy[0.1][:2], sigma=-1.0)


def test_at_grid_edge_flags_an_optimum_at_either_end_and_nothing_inside():
    def rows(method, scores, preset=None):
        return [{"method": method, "parameter": "p", "value": v, "psnr_mean": p,
                 **({} if preset is None else {"preset": preset})} for v, p in scores]

    inside = rows("TV", [(1.0, 5.0), (2.0, 6.0), (4.0, 5.5)])
    assert baselines.at_grid_edge(inside) == {}
    assert baselines.at_grid_edge(inside + rows("NL-means", [(0.4, 3.0), (1.2, 4.0)])) == {("NL-means", "p"): 1.2}
    assert baselines.at_grid_edge(rows("G", [(3.0, 2.0), (1.0, 1.0), (2.0, 1.5)])) == {("G", "p"): 3.0}  # unsorted
    assert baselines.at_grid_edge(rows("G", [(0.5, 9.0), (1.0, 1.0), (2.0, 1.5)])) == {("G", "p"): 0.5}
    assert baselines.at_grid_edge(rows("Wavelet", [("db1", 9.0), ("db2", 1.0)])) == {}  # categorical: no edge
    both = (rows("BM3D", [(1.0, 1.0), (2.0, 3.0), (3.0, 2.0)], "paper")
            + rows("BM3D", [(1.0, 1.0), (2.0, 3.0)], "realistic"))
    assert baselines.at_grid_edge(both) == {("BM3D", "p", "realistic"): 2.0}


def test_tuning_warns_when_the_best_value_is_at_the_edge_of_its_grid(stack, caplog):
    x, c = stack.noisy[0.1][:4], stack.clean[:4]
    with caplog.at_level("WARNING", logger="cdae_lite.denoise.baselines"):
        baselines.tune("Gaussian", x, c, grid={"sigma_px": [0.1, 0.2]})  # far too little smoothing at SNR 0.1
    assert "edge of the grid" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="cdae_lite.denoise.baselines"):
        best, _ = baselines.tune("Gaussian", x, c, grid={"sigma_px": [0.1, 1.5, 30.0]})
    assert best.sigma_px == 1.5 and caplog.text == ""


def test_numeric_tuning_grids_are_sorted_and_have_room_on_both_sides():
    for name, grid in baselines.TUNING_GRIDS.items():
        (values,) = grid.values()
        if isinstance(values[0], str):
            continue
        assert values == sorted(values) and len(values) >= 5, name


def test_quick_profile_tuning_optima_are_inside_the_grids():
    # the book's chapter 4 tunes on the quick profile's training subset (32 px, 16 images at SNR 0.1);
    # BM3D is left to the recorded-file test (tests/test_recorded_grids.py): it is slow
    import pandas as pd

    from cdae_lite.images import evenly_spaced
    from cdae_lite.paper.configs import BaselineExperiment
    from cdae_lite.simulation.proteins import training_protein

    bx = BaselineExperiment.quick()
    train = simulate_protein(training_protein(), bx.cdae.sim)  # as paper.paper_data makes it
    idx = evenly_spaced(len(train), bx.n_tune)
    lo = min(train.noisy)
    x, c, sig = train.noisy[lo][idx], train.clean[idx], train.noise_sigma(lo)[idx]
    tables = pd.concat([baselines.tune(m, x, c, sig, n_jobs=1)[1] for m in ("Gaussian", "TV", "NL-means")])
    assert baselines.at_grid_edge(tables) == {}
