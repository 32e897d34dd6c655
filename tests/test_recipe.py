"""The general denoiser's recipe (cdae_lite.denoise.recipe): its defaults are the shipped model's, and it runs."""

from dataclasses import asdict, replace

import pytest
import torch

from cdae_lite.denoise.checkpoint import load_denoiser, load_model, save_model
from cdae_lite.denoise.models import GeneralUNetConfig, general_unet
from cdae_lite.denoise.recipe import FIRST_STAGE, GENERAL, GeneralRecipe, stage_path, stages, train_recipe
from cdae_lite.denoise.synthetic import FreshNoiseConfig
from cdae_lite.simulation.bank import TRAINING_MAPS, BankConfig, bank_rows

TINY_BANK = BankConfig(size=16, maps=(), n_phantoms=1, images_per_structure=4, scales=1, diameter_px=(6.0, 10.0))


@pytest.fixture(scope="module")
def shipped() -> dict:
    """The record of ``data/weights/denoiser_general.pt``."""
    return load_denoiser("general")[1]["record"]


def _check_stage(recipe: GeneralRecipe, config: dict) -> None:
    """``recipe`` against a stage's recorded config (the layout of the paper's GeneralDenoiserConfig)."""
    bank = recipe.bank
    assert config["size"] == bank.size and config["n_phantoms"] == bank.n_phantoms and config["seed"] == bank.seed
    assert tuple(config.get("maps", TRAINING_MAPS)) == bank.maps  # the first stage's record predates the option
    assert config["images_per_structure"] == bank.images_per_structure and config["scales"] == bank.scales
    assert tuple(config["diameter_px"]) == bank.diameter_px and config["max_shift_px"] == bank.max_shift_px
    assert tuple(config["defocus_range_A"]) == bank.defocus_range_A
    assert tuple(config["net"]["channels"]) == recipe.net.channels
    train = config["train"]
    ablation_only = {"fixed_noise": False, "target_snr_factor": 0.0}  # recorded switches, off in both stages
    assert {k: train.get(k, v) for k, v in ablation_only.items()} == ablation_only
    # a record made before the high-SNR share existed drew none (the default, 0)
    recorded = {k: train.get(k, v) for k, v in asdict(recipe.train).items()}
    assert recorded == asdict(recipe.train)


def test_the_recipe_is_the_shipped_model_s_two_stages(shipped):
    first, last = stages(GENERAL)
    assert (first, last) == (FIRST_STAGE, GENERAL) and GeneralRecipe() == GENERAL and first.init is None
    _check_stage(last, shipped["config"])
    _check_stage(first, shipped["init"]["record"]["config"])
    assert shipped["config"]["init"] == "general"  # the second stage continued from the first's checkpoint
    assert last.train.lr == 3e-4 and last.train.high_snr_fraction == 0.25 and last.train.minutes == 90
    assert first.train.lr == 1e-3 and first.train.high_snr_fraction == 0 and first.train.minutes == 75
    assert last.train.snr_min == 0.02 and last.train.snr_max == 0.3 and last.train.high_snr_max == 3.0


def test_the_recipe_s_banks_are_the_recorded_banks(shipped):
    assert shipped["bank_images"] == GENERAL.bank.n_images() == 49_800
    assert shipped["init"]["record"]["bank_images"] == FIRST_STAGE.bank.n_images() == 25_800
    rows = shipped["bank"]
    names = [f"phantom{i}" for i in range(GENERAL.bank.n_phantoms)]
    assert list(dict.fromkeys(r["structure"] for r in rows)) == [*GENERAL.bank.maps, *names]
    assert all(r["images"] == 200 for r in rows) and len(rows) == 83 * GENERAL.bank.scales
    assert [r["ctf"] for r in rows] == [(i // 3 + i % 3) % 2 == 0 for i in range(len(rows))]  # every other set
    # the shipped maps' sets (sizes, pixel sizes) drawn again from the bank's seed, without projecting
    assert bank_rows(replace(GENERAL.bank, n_phantoms=0)) == rows[:3 * len(GENERAL.bank.maps)]


def test_stage_files_and_name_lookup(tmp_path):
    assert stage_path(tmp_path / "m.pt", 0, 2) == tmp_path / "m.stage1.pt"
    with pytest.raises(KeyError, match="no recipe"):
        train_recipe("nonesuch", tmp_path / "m.pt")


def _tiny(init=None, lr: float = 1e-3) -> GeneralRecipe:
    train = FreshNoiseConfig(max_images=8, batch_size=4, lr=lr)
    return GeneralRecipe(TINY_BANK, GeneralUNetConfig((4, 4, 4, 4)), train, init)


def test_a_two_stage_recipe_writes_both_checkpoints_and_chains_them(tmp_path, monkeypatch):
    monkeypatch.setattr("cdae_lite.denoise.recipe.training_gain", lambda *a, **k: 1.0)  # 64-px RuBisCO: slow here
    out = train_recipe(_tiny(init=_tiny()), tmp_path / "m.pt", "cpu")
    model, meta = load_model(out)
    rec = meta["record"]
    assert meta["architecture"] == "general_unet" and rec["complete"] and rec["gain"] == 1.0
    assert rec["history"]["images_seen"] == 8 and rec["config"]["init"]["init"] is None
    assert rec["init"]["path"] == "m.stage1.pt" and rec["init"]["images_seen"] == 8
    assert load_model(tmp_path / "m.stage1.pt")[1]["record"]["init"] is None
    with pytest.raises(FileExistsError):
        train_recipe(_tiny(), out, "cpu")  # refused before any training


def test_a_warm_start_continues_from_the_checkpoint_and_records_it(tmp_path, monkeypatch):
    start = general_unet(GeneralUNetConfig((4, 4, 4, 4)))
    with torch.no_grad():
        for p in start.parameters():
            p.fill_(0.01)
    init = save_model(tmp_path / "start.pt", start, "general_unet", {"channels": [4, 4, 4, 4]},
                      {"command": "earlier run"})
    monkeypatch.setattr("cdae_lite.denoise.recipe.training_gain", lambda *a, **k: 1.0)
    model, meta = load_model(train_recipe(_tiny(lr=1e-12), tmp_path / "next.pt", "cpu", init=str(init)))
    w = torch.cat([p.flatten() for p in model.parameters()])
    assert torch.allclose(w, torch.full_like(w, 0.01), atol=1e-6)  # a learning rate of ~0 kept the start's weights
    rec = meta["record"]["init"]
    assert rec["path"] == "start.pt" and rec["record"]["command"] == "earlier run" and len(rec["sha256"]) == 64
    wide = replace(_tiny(), net=GeneralUNetConfig((8, 8, 16, 16)))
    with pytest.raises(ValueError, match="not the general_unet"):
        train_recipe(wide, tmp_path / "x.pt", "cpu", init=str(init))
    assert not (tmp_path / "x.pt").exists()


def test_the_cli_trains_the_general_recipe(tmp_path, monkeypatch, capsys):
    from cdae_lite.cli import main
    from cdae_lite.denoise import recipe

    monkeypatch.setitem(recipe.RECIPES, "general", _tiny(init=_tiny()))  # the shipped recipe takes hours
    monkeypatch.setattr(recipe, "training_gain", lambda *a, **k: 1.0)
    out = tmp_path / "general.pt"
    assert main(["train", "--recipe", "general", "-o", str(out), "--device", "cpu"]) == 0
    model, meta = load_model(out, expect="general_unet")
    assert meta["record"]["complete"] and meta["record"]["init"]["path"] == "general.stage1.pt"
    assert "recipe" in meta["record"]["what"] and meta["record"]["bank_images"] == 4
    assert "saved a 'general_unet' model" in capsys.readouterr().out
    assert main(["train", "--recipe", "general", "-o", str(out), "--device", "cpu"]) != 0  # exists: no overwrite
    assert main(["train", "x.mrcs", "--recipe", "general", "-o", str(tmp_path / "y.pt")]) != 0  # no input
