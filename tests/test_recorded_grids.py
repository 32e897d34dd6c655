"""Every tuned parameter's recorded optimum lies strictly inside the grid it was chosen from (issue 33).

An optimum at the edge of its grid (the largest or smallest value tried) says the grid stopped too soon:
the baseline was not tuned, only pushed to a limit. These tests read the recorded files in
``results/cpu/``; re-record a file after widening a grid (:data:`cdae_lite.denoise.tuning.TUNING_GRIDS`,
:data:`cdae_lite.paper.general_eval.AVERAGE_FACTORS`).
"""

import json
from pathlib import Path

import pandas as pd
import pytest

from cdae_lite.denoise.tuning import at_grid_edge
from cdae_lite.paper.general_eval import recorded_bm3d

RESULTS = Path(__file__).resolve().parents[1] / "results" / "cpu"


def _metrics(name: str, required: bool = True) -> dict:
    path = RESULTS / f"{name}.json"
    if not path.exists() and not required:
        pytest.skip(f"{path} is not recorded")
    return json.loads(path.read_text())["metrics"]


def test_recorded_classical_optima_are_inside_their_grids():
    edges = at_grid_edge(_metrics("baselines")["tuning"])
    assert edges == {}, f"results/cpu/baselines.json: optimum at the edge of its grid: {edges}"


@pytest.mark.parametrize("name, required", [("general", True), ("general_ablation", False)])
def test_recorded_bm3d_factor_optima_are_inside_their_grids(name, required):
    m = _metrics(name, required)
    factors, tuning = recorded_bm3d(m)
    edges = at_grid_edge(tuning)
    assert edges == {}, f"results/cpu/{name}.json: BM3D's factor at the edge of its grid: {edges}"
    for preset, t in tuning.groupby("preset"):  # the factor scored is the one the table chose
        assert factors[preset] == t.loc[t["psnr_mean"].idxmax(), "value"]
    averages = [pd.DataFrame(rows).assign(preset=f"{preset} | {variant}")
                for preset, per in m.get("bm3d_average_tunings", {}).items() for variant, rows in per.items()]
    if averages:
        edges = at_grid_edge(pd.concat(averages, ignore_index=True))
        assert edges == {}, f"results/cpu/{name}.json: BM3D's factor on the averages at the edge: {edges}"
