
import numpy as np
import torch

from cdae_lite import paper as experiments  # the paper's experiments: cdae_lite.paper
from cdae_lite.images import evenly_spaced as eval_subset
from cdae_lite.paper.configs import CDAEExperiment
from cdae_lite.paper.results import recorded_table
from cdae_lite.paper.tables import mean_std_table, pivot


def test_profiles_share_the_protocol():
    q, f = CDAEExperiment.quick(), CDAEExperiment.full()
    assert f.pretrain.epochs == 20 and f.finetune.k == q.finetune.k == 30
    assert q.sim.image_size < f.sim.image_size
    s = f.with_seed(7)
    assert s.sim.seed == s.pretrain.seed == s.finetune.train.seed == 7


def test_cached_model_trains_once(monkeypatch, tmp_path):
    from cdae_lite.denoise.models import AEConfig, autoencoder

    monkeypatch.setenv("CDAE_CACHE", str(tmp_path))
    calls = []

    def train():
        calls.append(1)
        torch.manual_seed(0)
        return autoencoder(AEConfig(channels=4)), {"note": "x"}

    m1, r1 = experiments.cached_model("t", {"a": 1}, train, "autoencoder", {"channels": 4})
    m2, r2 = experiments.cached_model("t", {"a": 1}, train, "autoencoder", {"channels": 4})
    experiments.cached_model("t", {"a": 2}, train, "autoencoder", {"channels": 4})
    assert len(calls) == 2 and r2 == {"note": "x"}
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))


def test_eval_subset_spreads_over_views():
    idx = eval_subset(400, 40)
    assert len(idx) == 40 and idx[0] == 0 and idx[-1] == 399
    assert len(set(idx // 100)) == 4


def test_tables_and_recorded_results(tmp_path, monkeypatch):
    rows = [{"protein": p, "method": m, "psnr_mean": v} for p, m, v in
            [("a", "raw", 1.0), ("a", "cdae", 3.0), ("b", "raw", 2.0), ("b", "cdae", 5.0)]]
    t = pivot(rows)
    assert list(t.columns) == ["raw", "cdae"] and t.loc["b", "cdae"] == 5.0
    ms = mean_std_table([t, t + 2])
    assert ms.loc["a", "cdae"] == "4.00 ± 1.00"
    monkeypatch.setenv("CDAE_RESULTS", str(tmp_path))
    res = {"per_seed": [{"psnr": rows}, {"psnr": [dict(r, psnr_mean=r["psnr_mean"] + 2) for r in rows if r["method"] == "raw"]}]}
    path = experiments.record("demo", "full", {"x": 1}, res, [0, 1])
    loaded = experiments.load_result("demo", "full")
    assert loaded["seeds"] == [0, 1] and loaded["commit"] and loaded["created"] and path.exists()
    table = recorded_table(loaded)
    assert table.loc["a", "raw"] == "2.00 ± 1.00 (n=2)" and table.loc["a", "cdae"] == "3.00"
    assert "seeds [0, 1]" in experiments.provenance(loaded)
    noted = {**loaded, "command": "python -m x --seed 1 --notes Ran beside a backup.", "notes": "Ran beside a backup."}
    assert experiments.provenance(noted).count("Ran beside a backup.") == 1  # the notes once, not in the command too
    assert "--seed 1 --notes (the notes below)" in experiments.provenance(noted)
    parts = [{"command": f"python ml2d.py --snrs {s}", "commit": c * 40, "created": "2026-12-07"} for s, c in
             ((0.1, "a"), (0.2, "b"))]
    merged = experiments.provenance({"benchmark": "B", "machine": "M", "torch": "T", "parts": parts, "notes": "N."})
    assert "merged from 2 runs" in merged and "--snrs 0.2` (commit `bbbbbbbbbbbb`" in merged and merged.endswith("N.")
    assert experiments.load_result("missing", "full") is None
    # the largest scale recorded wins: cpu only while there is no full-profile result
    experiments.record("scaled", "cpu", {"x": 1}, res, [0])
    assert experiments.largest_recorded("scaled")["profile"] == "cpu"
    experiments.record("scaled", "full", {"x": 1}, res, [0])
    assert experiments.largest_recorded("scaled")["profile"] == "full"
    assert experiments.largest_recorded("missing") is None
    runs = {"per_seed": [{"blocks": [{"protein": "a", "block": b, "psnr_mean": float(b + s)} for b in (1, 2)]}
                         for s in (0, 2)] + [{"blocks": []}]}
    blocks = experiments.recorded_blocks({"metrics": runs}, "blocks")
    assert blocks.loc["a", "after block 2"] == 3.0 and list(blocks.columns) == ["after block 1", "after block 2"]
    assert experiments.recorded_blocks({"metrics": runs}, "blocks_ft").empty


def test_data_hash_tells_stacks_apart():
    a = np.zeros((2, 4, 4), np.float32)
    b = a.copy()
    b[1, 2, 2] = 1e-6
    assert experiments.data_hash(a) == experiments.data_hash(a.copy()) != experiments.data_hash(b)
    assert experiments.data_hash(a) != experiments.data_hash(a.reshape(4, 2, 4))


def test_the_recorded_cdae_experiment_runs_on_the_smoke_path(monkeypatch, smoke_models):
    # the code behind results/*/cdae.json on the full profile's smoke path (issue 16): 64 px, the
    # paper's networks and k = 30, 16 images per view and one epoch; every row carries the diagnostics.
    # (the book's smoke path trained the same models into the cache: conftest's smoke_models)
    from cdae_lite.paper.cdae import run_cdae

    monkeypatch.setenv("CDAE_CACHE", str(smoke_models))
    monkeypatch.setenv("CDAE_PROGRESS", "0")
    monkeypatch.setenv("CDAE_SMOKE", "1")
    exp = CDAEExperiment.for_profile("full")
    assert exp.sim.image_size == 64 and exp.ae == CDAEExperiment.full().ae and exp.finetune.k == 30
    res = run_cdae(exp, seeds=(0,), device="cpu", bm3d_images=2)
    run = res["metrics"]["per_seed"][0] if "metrics" in res else res["per_seed"][0]
    methods = {r["method"] for r in run["psnr"]}
    assert {"raw", "single", "cdae", "control", "cdae_ft", "single_ft", "bm3d_known_sigma", "bm3d_tuned",
            "cdae_ft_calibrated", "cdae_ft_calibrated_same_images"} <= methods
    assert all({"gain_mean", "affine_psnr_mean", "correlation_mean"} <= r.keys() for r in run["psnr"])
    assert [r["block"] for r in run["blocks_ft"] if r["protein"] == "adk"] == [1, 2, 3]
    from cdae_lite.denoise.tuning import TUNING_GRIDS

    assert run["bm3d_sigma_factor"] in TUNING_GRIDS["BM3D"]["sigma_factor"]
    for name, c in run["ceiling"].items():  # true-class averages beat the raw images by far
        raw = next(r["psnr_mean"] for r in run["psnr"] if r["protein"] == name and r["method"] == "raw")
        assert c["psnr_mean"] > raw + 3


def test_cascade_variants_change_only_what_they_name():
    from cdae_lite.paper.experiments.cdae import cdae_variant

    exp = CDAEExperiment.full()
    same, name = cdae_variant(exp)
    assert same == exp and name == "cdae"
    nod, name = cdae_variant(exp, no_output_dropout=True)
    assert name == "cdae_no_output_dropout" and not nod.ae.output_dropout and nod.finetune == exp.finetune
    both, name = cdae_variant(exp, True, True)
    assert name == "cdae_no_output_dropout_better_targets"
    assert (both.finetune.k, both.finetune.min_k, both.finetune.clusters) == (120, 30, exp.sim.n_views)
    assert both.finetune.train == exp.finetune.train and both.sim == exp.sim


def test_the_recorded_clustering_experiment_runs_on_the_smoke_path(monkeypatch, smoke_models):
    # the code behind results/*/clustering.json (issue 12) on the full profile's smoke path: every method of
    # Table 2 labels every image of every test protein, the sweep and the realistic preset are scored
    from cdae_lite.paper.clustering import run_clustering
    from cdae_lite.paper.configs import ClusteringExperiment

    monkeypatch.setenv("CDAE_CACHE", str(smoke_models))
    monkeypatch.setenv("CDAE_PROGRESS", "0")
    monkeypatch.setenv("CDAE_SMOKE", "1")
    cx = ClusteringExperiment.for_profile("full")
    assert cx.cdae.sim.image_size == 64 and cx.sweep_finetune_epochs is None
    res = run_clustering(cx, device="cpu")
    t2 = res["table2"]
    methods = {r["method"] for r in t2}
    assert {"k-means (raw)", "PCA + k-means", "AAE + k-means", "CDAE + k-means", "CDAE + PCA + spectral",
            "2D classification (aligned)"} <= methods
    assert {r["protein"] for r in t2} == {"proteasome", "cxcr4", "adk"}
    assert all(0 <= r["f1"] <= 1 and 0.25 <= r["largest_cluster"] <= 1 for r in t2)
    assert {r["snr"] for r in res["snr_sweep"]} == set(cx.snr_sweep)
    assert {r["protein"] for r in res["realistic"]} == {"proteasome", "cxcr4", "adk"}
    # the denoised images' view fidelity is kept (issue 33), for Table 2 and for every SNR of the sweep
    assert set(res["view_fidelity"]) == {"proteasome", "cxcr4", "adk"}
    sweep_cdae = [r for r in res["snr_sweep"] if r["method"] == "CDAE + k-means"]
    for vf in list(res["view_fidelity"].values()) + sweep_cdae:
        assert 0 <= vf["view_accuracy"] <= 1 and isinstance(vf["collapsed"], bool) and np.isfinite(vf["view_margin"])


def test_every_experiment_has_its_module_and_the_command_lists_them(capsys):
    import importlib
    import pkgutil
    import subprocess
    import sys

    from cdae_lite.paper import experiments as modules
    from cdae_lite.paper.command import build_parser

    helpers = {"common"}
    found = {m.name for m in pkgutil.iter_modules(modules.__path__)} - helpers
    assert found == {m.__name__.rsplit(".", 1)[1] for m in modules.EXPERIMENTS}
    for name in found:
        m = importlib.import_module(f"cdae_lite.paper.experiments.{name}")
        assert callable(m.add_args) and callable(m.main) and m.NAME and m.HELP, name
    names = [m.NAME for m in modules.EXPERIMENTS]
    assert {"cdae", "baselines", "clustering", "all", "general", "general-cdae", "gain", "general-eval",
            "general-select", "general-ablation", "cluster-eval", "targets", "peers"} == set(names)
    _, parsers = build_parser()
    assert list(parsers) == names
    out = subprocess.run([sys.executable, "-m", "cdae_lite.paper", "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert all(f"    {n} " in out or f"    {n}\n" in out for n in names)


def test_the_denoising_snr_sweep_carries_view_fidelity_and_flags_a_collapsed_output():
    # issue 33: the sweep's verdicts per SNR need to know whether an output still tells the views apart
    from cdae_lite.denoise import Baseline, Identity
    from cdae_lite.paper import BaselineExperiment
    from cdae_lite.paper.baselines import denoising_snr_sweep

    class Blob(Baseline):  # every image becomes the stack's mean: a collapsed output
        name = "blob"

        def denoise(self, x, sigma=None):
            return np.repeat(x.mean(0, keepdims=True), len(x), 0)

    bx = BaselineExperiment.quick(n_sweep=8, snr_sweep=(0.5, 5.0))
    rows = denoising_snr_sweep(bx, {"raw": Identity(), "blob": Blob()})
    assert len(rows) == 4 and all({"view_accuracy", "view_margin", "collapsed"} <= r.keys() for r in rows)
    got = {(r["snr"], r["method"]): r for r in rows}
    assert all(got[(snr, "blob")]["collapsed"] for snr in (0.5, 5.0))
    assert not got[(5.0, "raw")]["collapsed"] and got[(5.0, "raw")]["view_accuracy"] > 0.9


def test_scale_reasons_use_the_recorded_run_shown_and_say_when_they_rest_on_psnr_alone():
    from cdae_lite.paper.results import quick_vs_recorded, scale_conclusion

    bench = {"rows": [{"variant": v, "protein": "adk", "ft": d} for v, d in
                      (("32 px, 100/view", 1.0), ("64 px, 40/view", -1.0), ("recorded cpu (old)", 5.0))]}
    table = scale_conclusion("ft", bench, recorded={"adk": -2.0}, label="recorded now")
    assert list(table.index) == ["32 px, 100/view", "64 px, 40/view", "recorded now"]  # the old copy is gone
    assert table.loc["recorded now", "adk"] == -2.0 and table.attrs["view_fidelity"] is False
    line = quick_vs_recorded({"adk": 1.0}, {"adk": -2.0}, "A minus B", table)
    assert "measured, the image size" in line and "on PSNR alone" in line
    both = quick_vs_recorded({"adk": 1.0}, {"adk": -2.0}, "A minus B", table, collapsed={"adk": "q"},
                             recorded_collapsed={"adk": "r"})
    assert "collapsed in both runs" in both and "measured reason" not in both
    quick_only = quick_vs_recorded({"adk": 1.0}, {"adk": -2.0}, "A minus B", table, collapsed={"adk": "q"})
    assert "sign is no conclusion" in quick_only and "measured reason" not in quick_only
    # with the benchmark's collapsed column, a sign resting on a collapsed output is blank, and only there
    seen = {"rows": [{**r, "collapsed": "cdae_ft" if r["variant"] == "64 px, 40/view" else "none"}
                     for r in bench["rows"]]}
    ft = scale_conclusion("ft", seen)
    assert np.isnan(ft.loc["64 px, 40/view", "adk"]) and ft.loc["32 px, 100/view", "adk"] == 1.0
    assert ft.attrs["view_fidelity"] is True
    assert scale_conclusion("clustering", {"rows": [{**r, "clustering": 0.1} for r in seen["rows"]]}).notna().all().all()
    assert "outputs that collapsed" in quick_vs_recorded({"adk": 1.0}, {"adk": -2.0}, "A minus B", ft)
