"""Tests of ``cdae_lite.paper.cluster_eval``."""

import torch


def test_a_tiny_cluster_evaluation_runs_and_its_verdict_helpers_work():
    from cdae_lite.denoise.models import GeneralUNetConfig, general_unet
    from cdae_lite.paper.cluster_eval import SETTINGS, ClusterEvaluation, denoising_lowers, run_cluster_eval, worst_f1

    torch.manual_seed(0)
    cfg = ClusterEvaluation(size=32, images_per_view=12, snrs=(0.5,))
    rows = run_cluster_eval(cfg, general_unet(GeneralUNetConfig(channels=(8, 8, 8, 8))), device="cpu")["rows"]
    assert len(rows) == 3 * len(SETTINGS)
    assert all(sum(r["sizes"]) == 48 and 0 <= r["f1"] <= 1 for r in rows)
    assert all((r["rounds"] > 0) == r["setting"].endswith("refined") for r in rows)
    assert set(worst_f1(rows)) == {(s[0], 0.5) for s in SETTINGS}
    fake = [{"protein": "a", "snr": 0.1, "setting": "PCA + k-means", "f1": 0.9},
            {"protein": "a", "snr": 0.1, "setting": "denoised, PCA + k-means", "f1": 0.8}]
    assert denoising_lowers(fake) == [("a", 0.1, False, 0.9, 0.8)] and denoising_lowers(fake, 0.2) == []
