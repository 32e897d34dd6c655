"""Tests of cdae_lite.denoise.tuning: a classical filter's parameter chosen on training pairs."""

import numpy as np
import pytest

from cdae_lite.denoise import baselines, tuning
from cdae_lite.metrics import psnr
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.stacks import simulate_protein


@pytest.fixture(scope="module")
def stack():
    return simulate_protein("proteasome", SimulationConfig(image_size=24, images_per_view=2))


def test_tuning_picks_the_best_value_and_reports_every_value(stack):
    x, c = stack.noisy[0.1][:6], stack.clean[:6]
    best, table = tuning.tune("Gaussian", x, c, grid={"sigma_px": [0.3, 1.0, 2.0]})
    assert list(table["value"]) == [0.3, 1.0, 2.0] and set(table["parameter"]) == {"sigma_px"}
    manual = [psnr(baselines.Gaussian(v).denoise(x), c).mean() for v in (0.3, 1.0, 2.0)]
    assert np.allclose(table["psnr_mean"], manual)
    assert best.sigma_px == [0.3, 1.0, 2.0][int(np.argmax(manual))]


def test_at_grid_edge_flags_an_optimum_at_either_end_and_nothing_inside():
    def rows(method, scores, preset=None):
        return [{"method": method, "parameter": "p", "value": v, "psnr_mean": p,
                 **({} if preset is None else {"preset": preset})} for v, p in scores]

    inside = rows("TV", [(1.0, 5.0), (2.0, 6.0), (4.0, 5.5)])
    assert tuning.at_grid_edge(inside) == {}
    assert tuning.at_grid_edge(inside + rows("NL-means", [(0.4, 3.0), (1.2, 4.0)])) == {("NL-means", "p"): 1.2}
    assert tuning.at_grid_edge(rows("G", [(3.0, 2.0), (1.0, 1.0), (2.0, 1.5)])) == {("G", "p"): 3.0}  # unsorted
    assert tuning.at_grid_edge(rows("G", [(0.5, 9.0), (1.0, 1.0), (2.0, 1.5)])) == {("G", "p"): 0.5}
    assert tuning.at_grid_edge(rows("Wavelet", [("db1", 9.0), ("db2", 1.0)])) == {}  # categorical: no edge
    both = (rows("BM3D", [(1.0, 1.0), (2.0, 3.0), (3.0, 2.0)], "paper")
            + rows("BM3D", [(1.0, 1.0), (2.0, 3.0)], "realistic"))
    assert tuning.at_grid_edge(both) == {("BM3D", "p", "realistic"): 2.0}


def test_tuning_warns_when_the_best_value_is_at_the_edge_of_its_grid(stack, caplog):
    x, c = stack.noisy[0.1][:4], stack.clean[:4]
    with caplog.at_level("WARNING", logger="cdae_lite.denoise.tuning"):
        tuning.tune("Gaussian", x, c, grid={"sigma_px": [0.1, 0.2]})  # far too little smoothing at SNR 0.1
    assert "edge of the grid" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="cdae_lite.denoise.tuning"):
        best, _ = tuning.tune("Gaussian", x, c, grid={"sigma_px": [0.1, 1.5, 30.0]})
    assert best.sigma_px == 1.5 and caplog.text == ""


def test_numeric_tuning_grids_are_sorted_and_have_room_on_both_sides():
    for name, grid in tuning.TUNING_GRIDS.items():
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
    tables = pd.concat([tuning.tune(m, x, c, sig, n_jobs=1)[1] for m in ("Gaussian", "TV", "NL-means")])
    assert tuning.at_grid_edge(tables) == {}
