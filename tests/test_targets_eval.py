"""Tests of ``cdae_lite.paper.targets_eval``."""




def test_a_tiny_target_evaluation_runs_and_scores_every_choice(monkeypatch):
    from dataclasses import replace

    from cdae_lite.denoise.models import AEConfig, autoencoder
    from cdae_lite.paper.targets_eval import TargetEvaluation, run_targets_eval

    monkeypatch.setenv("CDAE_PROGRESS", "0")
    cfg = replace(TargetEvaluation.quick(), size=16, images_per_view=12, k=5, n_components=4)
    out = run_targets_eval(cfg, autoencoder(AEConfig(channels=4)), device="cpu")
    choices = list(cfg.choices(4))
    assert [r["targets"] for r in out["rows"][:len(choices)]] == choices and len(out["rows"]) == 3 * len(choices)
    for r in out["rows"]:
        assert 0 <= r["purity"] <= 1 and 1 <= r["neighbours"] <= cfg.max_factor * cfg.k
    assert set(out["ceiling"]) == {r["protein"] for r in out["rows"]}
