"""Tests of ``cdae_lite.denoise.calibrate``: the label-free contrast calibration."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from test_quality import _truth

from cdae_lite.denoise.calibrate import apply_scale, stein_scale
from cdae_lite.metrics import psnr


@pytest.mark.parametrize("shrink", [0.3, 0.6, 1.0])
def test_stein_calibration_recovers_a_known_shrink_within_five_percent(shrink):
    x, rng = _truth(n=64, size=48, seed=1)
    sigma = np.sqrt(x.var() / 0.1)  # SNR 0.1, the paper's
    y = (x + sigma * rng.normal(size=x.shape)).astype(np.float32)

    def smooth(a):
        return gaussian_filter(a, (0, 2.5, 2.5)).astype(np.float32)

    base = stein_scale(smooth, y, sigma)["scale"]
    fc = (smooth(y) - smooth(y).mean((1, 2), keepdims=True)).ravel()
    oracle = float(fc @ (x - x.mean((1, 2), keepdims=True)).ravel() / (fc @ fc))
    assert base == pytest.approx(oracle, rel=0.05)
    res = stein_scale(lambda a: shrink * smooth(a), y, sigma)
    assert res["scale"] * shrink == pytest.approx(base, rel=1e-3)  # 1 / shrink recovered
    assert abs(res["naive_scale"] * shrink / oracle - 1) > 0.1  # without Stein's correction: biased
    out = apply_scale(shrink * smooth(y), y, res["scale"])
    assert psnr(out, x).mean() >= psnr(shrink * smooth(y), x).mean() - 0.1


def test_recorded_calibration_never_costs_a_shipped_model_more_than_a_tenth_of_a_db():
    # issue 10's target, on the recorded evaluation (results/cpu/general.json): the Stein calibration
    # of each shipped model on every test protein and the held-out one, both presets
    import json
    from pathlib import Path

    rows = json.loads((Path(__file__).resolve().parents[1] / "results" / "cpu" / "general.json").read_text())
    psnr_of = {(r["method"], r["protein"], r["preset"]): r["psnr"] for r in rows["metrics"]["rows"]}
    pairs = [(k, (k[0] + " + calibration",) + k[1:]) for k in psnr_of if k[0] in ("general", "cdae")]
    assert len(pairs) == 16  # two models x four structures x two presets
    for plain, calibrated in pairs:
        assert psnr_of[calibrated] >= psnr_of[plain] - 0.1, (plain, psnr_of[plain], psnr_of[calibrated])
