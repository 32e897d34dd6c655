"""The general denoiser on the paper's side (cdae_lite.paper.general*): evaluation, ablation, selection, command."""

import numpy as np
import pytest
import torch

from cdae_lite.denoise.checkpoint import load_model, save_model
from cdae_lite.denoise.inference import predict
from cdae_lite.denoise.models import GeneralUNetConfig, general_unet
from cdae_lite.denoise.recipe import FIRST_STAGE, GeneralRecipe
from cdae_lite.denoise.synthetic import FreshNoiseConfig, fit_fresh_noise
from cdae_lite.metrics import psnr
from cdae_lite.simulation.bank import BankConfig

TINY = GeneralUNetConfig((8, 8, 16, 16))


def test_the_network_keeps_the_shape_and_refuses_bad_sizes(tmp_path):
    m = general_unet(TINY)
    x = torch.randn(3, 1, 24, 24)
    assert m(x).shape == x.shape
    with pytest.raises(ValueError, match="multiple of 8"):
        m(torch.randn(1, 1, 20, 20))
    path = save_model(tmp_path / "d.pt", m, "general_unet", {"channels": [8, 8, 16, 16]})
    m2, meta = load_model(path, expect="general_unet")
    assert meta["architecture"] == "general_unet" and torch.allclose(m2(x), m.eval()(x))
    assert predict(m2, np.zeros((2, 20, 20), np.float32)).shape == (2, 20, 20)  # padded and cropped


def test_a_tiny_general_evaluation_runs_end_to_end_with_stack_aware_rows(monkeypatch, fast_bm3d):
    import json

    from cdae_lite.denoise.checkpoint import json_default
    from cdae_lite.paper import general_eval
    from cdae_lite.paper.general_eval import (PRESETS, STACK_AWARE, TRUE_CLASS, DenoiserEvaluation, like_for_like,
                                              recorded_bm3d, run_general_eval)

    monkeypatch.setattr(general_eval, "BM3D_FACTORS", (1.0, 1.5))  # two factors each: BM3D is the slow part
    monkeypatch.setattr(general_eval, "AVERAGE_FACTORS", (0.7, 1.0))
    cfg = DenoiserEvaluation(size=32, images_per_view=10, n_images=3, n_tune=2)  # under 4 images: BM3D runs serially
    torch.manual_seed(0)
    net = general_unet(TINY)
    out = run_general_eval(cfg, {"general": net}, device="cpu")
    methods = {r["method"] for r in out["rows"]}
    assert {"raw", "BM3D (tuned)", "general", "general + calibration", TRUE_CLASS} <= methods
    assert {f"general + {k}" for k in STACK_AWARE} | {f"BM3D + {k}" for k in STACK_AWARE} <= methods
    assert len(out["rows"]) == 8 * len(methods)  # 4 proteins x 2 presets
    assert all(np.isfinite(r["psnr"]) and np.isfinite(r["gain"]) for r in out["rows"])
    assert all({"view_accuracy", "view_margin", "collapsed"} <= r.keys() for r in out["rows"])
    # BM3D tuned on the training protein separately for each preset, each preset scored with its own factor
    factors, tuning = recorded_bm3d(out)
    assert set(factors) == set(PRESETS) and set(tuning["preset"]) == set(PRESETS)
    assert recorded_bm3d(json.loads(json.dumps(out, default=json_default)))[0] == factors  # as recorded
    for preset, t in tuning.groupby("preset"):
        assert factors[preset] == t.loc[t["psnr_mean"].idxmax(), "value"]
    assert out["bm3d_sigma_factor"] == factors["paper"]  # the old key: the paper preset's, for old readers
    assert {f"BM3D + {k}" for k in STACK_AWARE}.isdisjoint(k.split(" | ")[0] for k in out["margins_db"])
    assert set(out["bm3d_average_factors"]) == set(PRESETS)
    # like-for-like margins: one per set and variant, equal to the rows' differences
    sm = out["stack_margins"]
    assert len(sm) == 8 * len(STACK_AWARE)
    psnr = {(r["protein"], r["preset"], r["method"]): r["psnr"] for r in out["rows"]}
    m = sm[0]
    key = (m["protein"], m["preset"])
    assert like_for_like(sm, m["variant"])[f"{key[0]} / {key[1]}"] == m["vs_bm3d_on_same_averages_db"]
    assert m["vs_bm3d_on_same_averages_db"] == pytest.approx(
        psnr[(*key, f"general + {m['variant']}")] - psnr[(*key, f"BM3D + {m['variant']}")])
    aware = psnr[(*key, f"general + {m['variant']}")]
    assert m["true_class_minus_stack_aware_db"] == pytest.approx(psnr[(*key, TRUE_CLASS)] - aware)


def test_each_preset_is_scored_with_its_own_bm3d_factor(monkeypatch, fast_bm3d):
    # the factors differ on purpose: the BM3D rows of each preset must be the output of that preset's factor
    from cdae_lite.denoise.baselines import BM3D
    from cdae_lite.paper import general_eval as ge

    cfg = ge.DenoiserEvaluation(size=32, images_per_view=2, n_images=3, n_tune=2)
    chosen = {"paper": 0.5, "realistic": 3.0}
    monkeypatch.setattr(ge, "tuned_bm3d_per_preset", lambda c, presets=ge.PRESETS, device=None: (
        {p: BM3D(n_jobs=1, sigma_factor=chosen[p]) for p in presets},
        __import__("pandas").DataFrame([{"method": "BM3D", "parameter": "sigma_factor", "value": chosen[p],
                                         "psnr_mean": 1.0, "preset": p} for p in presets])))
    out = ge.run_general_eval(cfg, {}, device="cpu")
    assert out["bm3d_sigma_factors"] == chosen and "stack_margins" not in out
    stacks = ge.evaluation_stacks(cfg, device="cpu")
    for preset, factor in chosen.items():
        s = stacks[("adk", preset)]
        idx = ge.evenly_spaced(len(s), cfg.n_images)
        expect = BM3D(n_jobs=1, sigma_factor=factor).denoise(s.noisy[cfg.snr][idx], sigma=s.noise_sigma(cfg.snr)[idx])
        row = next(r for r in out["rows"] if r["method"] == "BM3D (tuned)" and r["protein"] == "adk"
                   and r["preset"] == preset)
        assert row["psnr"] == pytest.approx(float(psnr(expect, s.clean[idx]).mean()), abs=1e-4)


def test_recorded_bm3d_reads_old_and_new_records():
    from cdae_lite.paper.general_eval import recorded_bm3d

    table = [{"method": "BM3D", "parameter": "sigma_factor", "value": v, "psnr_mean": p}
             for v, p in ((1.0, 2.0), (1.5, 3.0))]
    factors, t = recorded_bm3d({"bm3d_sigma_factor": 1.5, "bm3d_tuning": table})
    assert factors == {"paper": 1.5, "realistic": 1.5} and list(t["preset"]) == ["paper", "paper"]
    new = {"bm3d_sigma_factor": 1.5, "bm3d_tuning": table, "bm3d_sigma_factors": {"paper": 1.5, "realistic": 2.0},
           "bm3d_tunings": {"paper": table, "realistic": table[:1]}}
    factors, t = recorded_bm3d(new)
    assert factors == {"paper": 1.5, "realistic": 2.0} and list(t["preset"]) == ["paper", "paper", "realistic"]


def test_bm3d_on_averages_gets_the_same_averages_and_their_noise_level():
    from cdae_lite.denoise.inference import Symmetrized
    from cdae_lite.denoise.stackaware import StackAwareConfig, stack_averages, stack_denoise
    from cdae_lite.paper.general_eval import average_sigma
    from cdae_lite.simulation.config import SimulationConfig
    from cdae_lite.simulation.stacks import simulate_protein

    s = simulate_protein("adk", SimulationConfig(image_size=32, images_per_view=8, seed=3), snrs=(0.1,))
    torch.manual_seed(0)
    net = general_unet(TINY)
    cfg = StackAwareConfig(neighbours=5, candidates=10, n_angles=4)
    q = np.array([0, 9, 30])
    avg, al = stack_averages(net, s.noisy[0.1], cfg, q, device="cpu")
    # stack-aware denoising is the symmetrised model on exactly these averages
    assert np.allclose(stack_denoise(net, s.noisy[0.1], cfg, queries=q, device="cpu"),
                       predict(Symmetrized(net, cfg.symmetrize), avg, device="cpu"), atol=1e-6)
    assert avg.shape == (3, 32, 32) and al.neighbours.shape == (3, 5)
    # the averages' noise sigma: K + 1 = 6 independent noises averaged
    sig = s.noise_sigma(0.1)
    expect = np.sqrt(sig[q] ** 2 + (sig[al.neighbours] ** 2).sum(1)) / 6
    assert np.allclose(average_sigma(sig, al.neighbours, q), expect)
    assert np.all(average_sigma(sig, al.neighbours, q) < sig[q] / 2)


def test_true_class_averages_are_the_ceilings_average_and_align_rotated_views():
    from cdae_lite.paper.general_eval import true_class_averages
    from cdae_lite.paper.tables import class_average_ceiling
    from cdae_lite.simulation.config import SimulationConfig
    from cdae_lite.simulation.stacks import simulate_protein

    s = simulate_protein("adk", SimulationConfig(image_size=32, images_per_view=6, seed=4), snrs=(0.1,))
    q = np.arange(len(s))
    plain = true_class_averages(s.noisy[0.1], s.clean, s.labels, q)
    assert float(psnr(plain, s.clean).mean()) == pytest.approx(
        class_average_ceiling(s.noisy[0.1], s.clean, s.labels)["psnr_mean"], abs=1e-4)
    # rotated and shifted particles: aligning on the clean images beats the plain mean of the view
    r = simulate_protein("adk", SimulationConfig(image_size=32, images_per_view=6, seed=4).realistic(), snrs=(0.1,))
    q = np.array([0, 7, 20])
    aligned = true_class_averages(r.noisy[0.1], r.clean, r.labels, q, align=True)
    unaligned = true_class_averages(r.noisy[0.1], r.clean, r.labels, q, align=False)
    assert psnr(aligned, r.clean[q]).mean() > psnr(unaligned, r.clean[q]).mean() + 1


def test_noisy_targets_have_the_requested_snr_and_change_what_is_learnt():
    from functools import partial

    from cdae_lite.denoise.synthetic import FreshNoise
    from cdae_lite.paper.general_noise import NoisyTargets, noisy_target

    gen = torch.Generator().manual_seed(1)
    clean = torch.randn(300, 32, 32)
    snr = torch.full((300,), 0.4)
    measured = clean.flatten(1).var(1) / (noisy_target(clean, snr, gen) - clean).flatten(1).var(1)
    assert abs(float(measured.mean()) - 0.4) < 0.02
    with pytest.raises(ValueError, match="factor must be positive"):
        NoisyTargets(np.zeros((4, 16, 16), np.float32), factor=-1)
    clean = np.random.default_rng(0).normal(size=(64, 16, 16)).astype(np.float32)
    weights = []
    for source in (FreshNoise, partial(NoisyTargets, factor=4.0)):
        torch.manual_seed(0)
        m = general_unet(TINY)
        fit_fresh_noise(m, clean, FreshNoiseConfig(max_images=64, minutes=5), "cpu", source=source)
        weights.append(torch.cat([p.flatten() for p in m.parameters()]))
    assert not torch.equal(*weights)  # same seed, same inputs: only the targets differ


def test_ablation_effects_are_differences_to_the_recipe_over_the_test_proteins():
    from cdae_lite.paper.general_ablation import effects

    rows = [{"protein": p, "preset": "paper", "method": m, "psnr": v}
            for p, m, v in [("a", "recipe", 20.0), ("b", "recipe", 22.0), ("apo (held out)", "recipe", 18.0),
                            ("a", "x", 21.0), ("b", "x", 20.0), ("apo (held out)", "x", 19.5)]]
    out = {r["method"]: r for r in effects(rows)}
    assert out["recipe"]["test_proteins_db"] == 0.0
    assert out["x"]["test_proteins_db"] == pytest.approx(-0.5) and out["x"]["held_out_db"] == pytest.approx(1.5)


def test_seeded_effects_are_paired_differences_averaged_over_seeds():
    from cdae_lite.paper.general_ablation import seeded_effects

    def row(protein, method, psnr, seed):
        return {"protein": protein, "preset": "paper", "method": method, "psnr": psnr, "seed": seed}

    rows = [row("a", "recipe", 20.0, 0), row("b", "recipe", 22.0, 0), row("apo (held out)", "recipe", 18.0, 0),
            row("a", "recipe", 21.0, 1), row("b", "recipe", 23.0, 1), row("apo (held out)", "recipe", 18.0, 1),
            row("a", "x", 20.5, 0), row("b", "x", 22.5, 0), row("apo (held out)", "x", 19.0, 0),  # +0.5 on seed 0
            row("a", "x", 22.5, 1), row("b", "x", 24.5, 1), row("apo (held out)", "x", 18.0, 1),  # +1.5 on seed 1
            row("a", "fixed", 22.0, None), row("b", "fixed", 24.0, None), row("apo (held out)", "fixed", 18.0, None)]
    out = {e["method"]: e for e in seeded_effects(rows)}
    assert out["x"]["test_proteins_db_seeds"] == pytest.approx([0.5, 1.5])
    assert out["x"]["test_proteins_db"] == pytest.approx(1.0) and out["x"]["n_seeds"] == 2
    assert out["x"]["test_proteins_db_std"] == pytest.approx(np.std([0.5, 1.5], ddof=1))
    assert out["x"]["held_out_db"] == pytest.approx(0.5)
    # a row without a seed is compared with the recipe of every seed
    assert out["fixed"]["test_proteins_db_seeds"] == pytest.approx([2.0, 1.0])
    assert out["recipe"]["test_proteins_db"] == 0 and out["recipe"]["test_proteins_db_std"] == 0


def test_an_ablation_over_two_seeds_trains_and_scores_every_variant_twice_and_pairs_the_effects():
    # one run checks both what a single seed's ablation must hold and what a second seed adds (CI time)
    from cdae_lite.paper.general_ablation import RECIPE, SYMMETRIZED, GeneralAblation, run_ablation, variants
    from cdae_lite.paper.general_eval import DenoiserEvaluation

    cfg = GeneralAblation(recipe=GeneralRecipe(BankConfig(size=32, n_phantoms=1, images_per_structure=6, seed=0), TINY,
                                                FreshNoiseConfig(minutes=5, max_images=64), None),
                          evaluation=DenoiserEvaluation(size=32, images_per_view=1, n_images=2, n_tune=2),
                          speed_images=8, seeds=(0, 1))
    names = list(variants(cfg))
    assert len(names) == 8 and names[0] == RECIPE
    partial = []
    torch.manual_seed(0)
    out = run_ablation(cfg, shipped=general_unet(TINY), device="cpu", on_row=lambda r: partial.append(len(r["training"])))
    assert partial == list(range(1, len(out["training"]) + 1))  # saved after every row, the shipped model last
    assert [(t["method"], t["seed"]) for t in out["training"] if t["method"] != "shipped model"] == \
        [(n, k) for k in (0, 1) for n in names]
    methods = {r["method"] for r in out["rows"]}
    assert {*names, "raw", "BM3D (tuned)", f"{RECIPE} + calibration", SYMMETRIZED, "shipped model"} == methods
    seen = {t["method"]: t.get("images_seen") for t in out["training"] if t.get("seed") in (0, None)}
    assert seen[RECIPE] == 64 and seen[names[-1]] == 128  # twice the training
    recipe = {k: [r["psnr"] for r in out["rows"] if r["method"] == RECIPE and r["seed"] == k] for k in (0, 1)}
    assert len(recipe[0]) == 8 and recipe[0] != recipe[1]  # 4 proteins x 2 presets; two seeds, two networks
    assert all(e["n_seeds"] == 2 and len(e["test_proteins_db_seeds"]) == 2 for e in out["effects"])
    rec = [e for e in out["effects"] if e["method"] == RECIPE]
    assert rec and all(e["test_proteins_db"] == 0 for e in rec)
    assert f"{RECIPE} | adk | paper" in out["margins_db"]
    assert {r["seed"] for r in out["rows"] if r["method"] in ("raw", "BM3D (tuned)")} == {None}
    with pytest.raises(ValueError, match="seeds must be distinct"):
        GeneralAblation(seeds=(1, 1))


def test_mean_margins_leave_the_held_out_set_out():
    from cdae_lite.paper.ablation_verdicts import mean_margins

    m = {"a | p1 | paper": 1.0, "a | p2 | paper": 2.0, "a | apo (held out) | paper": -5.0, "a | p1 | realistic": 3.0,
         "b | p1 | paper": 9.0}
    assert mean_margins(m, "a") == {"paper": 1.5, "realistic": 3.0}


def test_the_validation_structures_are_in_no_training_bank():
    from cdae_lite.denoise.recipe import GENERAL, stages
    from cdae_lite.paper.general import VALIDATION
    from cdae_lite.simulation.bank import phantom_seeds

    def seeds(cfg):
        return set(phantom_seeds(cfg))

    assert not VALIDATION.maps and phantom_seeds(BankConfig(seed=3, n_phantoms=2)) == [103, 104]
    # the shipped model's banks: its first stage's (seed 0) and its continuation's (seed 50, 80 phantoms)
    assert not seeds(VALIDATION) & set().union(*(seeds(s.bank) for s in stages(GENERAL)))


def test_validation_psnr_ranks_a_denoiser_above_the_identity():
    from cdae_lite.paper.general_select import validation_psnr

    cfg = BankConfig(size=32, maps=(), n_phantoms=2, images_per_structure=4, scales=1,
                     diameter_px=(12.0, 20.0), seed=800)
    identity, smooth = torch.nn.Identity(), torch.nn.AvgPool2d(5, stride=1, padding=2, count_include_pad=False)
    a, b = validation_psnr(identity, cfg, device="cpu"), validation_psnr(smooth, cfg, device="cpu")
    assert b > a + 3 and validation_psnr(identity, cfg, device="cpu") == a  # seeded: the same number twice


def test_a_candidate_replaces_the_shipped_model_only_when_it_wins_at_every_snr():
    from cdae_lite.paper.general_select import replaces, selection_verdict, validation_table

    cfg = BankConfig(size=32, maps=(), n_phantoms=2, images_per_structure=4, scales=1,
                     diameter_px=(12.0, 20.0), seed=800)
    identity, smooth = torch.nn.Identity(), torch.nn.AvgPool2d(5, stride=1, padding=2, count_include_pad=False)
    table = validation_table({"identity": identity, "smooth": smooth}, (0.1, 100.0), cfg, device="cpu")
    # smoothing wins at SNR 0.1 and loses at SNR 100 (it blurs an almost clean image): no replacement
    assert table["smooth"]["0.1"] > table["identity"]["0.1"] and table["smooth"]["100.0"] < table["identity"]["100.0"]
    assert not replaces(table, "smooth", "identity") and not replaces(table, "identity", "smooth")
    assert "does not replace" in selection_verdict(table, "smooth", "identity")
    low = validation_table({"identity": identity, "smooth": smooth}, (0.1,), cfg, device="cpu")
    assert replaces(low, "smooth", "identity")
    assert selection_verdict(low, "smooth", "identity").startswith("smooth replaces")


def test_selection_can_score_the_candidate_symmetrised(monkeypatch, tmp_path):
    import json

    from cdae_lite.denoise import Symmetrized
    from cdae_lite.paper import general_select

    seen = {}

    def fake_table(models, device=None):
        seen.update(models)
        return {"candidate": {"0.1": 2.0, "1.0": 3.0, "3.0": 4.0}, "shipped": {"0.1": 1.0, "1.0": 2.0, "3.0": 3.0}}

    monkeypatch.setattr(general_select, "validation_table", fake_table)
    path = general_select.record_selection("general", out=tmp_path / "sel.json", symmetrize=8)
    assert isinstance(seen["candidate"], Symmetrized) and seen["candidate"].transforms == 8
    assert not isinstance(seen["shipped"], Symmetrized)
    rec = json.loads(path.read_text())
    assert rec["config"]["symmetrize"] == 8 and rec["metrics"]["replaces"] is True
    general_select.record_selection("general", out=tmp_path / "plain.json")
    assert not isinstance(seen["candidate"], Symmetrized)


def test_the_training_command_runs_the_recipe_with_its_options(monkeypatch, capsys):
    from cdae_lite.denoise.recipe import GENERAL, stages
    from cdae_lite.paper import command

    seen = []
    def fake(recipe, out, device, minutes, init, overwrite):
        return seen.append((recipe, minutes, init)) or out

    monkeypatch.setattr("cdae_lite.denoise.recipe.train_recipe", fake)
    wide = ["--channels", "64", "128", "256", "256", "--batch-size", "256", "--minutes", "3", "--out", "x.pt"]
    assert command.main(["general", "--profile", "full", *wide, "--lr", "5e-4"]) == 0
    recipe, minutes, init = seen[0]
    assert all(s.net == GeneralUNetConfig((64, 128, 256, 256)) for s in stages(recipe))  # every stage: one network
    assert all(s.train.batch_size == 256 for s in stages(recipe)) and minutes == 3 and init is None
    assert recipe.train.lr == 5e-4 and stages(recipe)[0].train.lr == 1e-3  # the other options: the last stage
    assert command.main(["general", "--profile", "full", "--out", "x.pt"]) == 0  # the defaults: the shipped recipe
    assert seen[1] == (GENERAL, None, None)
    assert command.main(["general", "--profile", "full", "--init", "general", "--seeds", "7", "--out", "x.pt"]) == 0
    assert seen[2][2] == "general" and seen[2][0].bank.seed == seen[2][0].train.seed == 7
    with pytest.raises(SystemExit):
        command.main(["general", "--channels", "64", "128", "256"])  # a width per level and the bottleneck
    with pytest.raises(ValueError, match="4 positive widths"):
        command.main(["general", "--channels", "64", "0", "256", "256"])


def test_the_quick_profile_is_the_first_stage_small_and_stops_by_images():
    from cdae_lite.paper.general import general_recipe

    quick = general_recipe("quick")
    assert quick.train.max_images > 0 and quick.init is None  # the same numbers on any machine
    assert quick.bank.seed == FIRST_STAGE.bank.seed and quick.train.lr == FIRST_STAGE.train.lr
