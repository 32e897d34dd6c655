"""Tests of cdae_lite.denoise.finetune: the paper's block-by-block fine-tuning on neighbour means."""

import numpy as np
import pytest

from cdae_lite.denoise.finetune import FineTuneConfig, finetune
from cdae_lite.denoise.models import AEConfig, cdae
from cdae_lite.denoise.targets import TargetConfig, find_neighbourhoods, neighbourhood_means
from cdae_lite.denoise.train import TrainConfig


def views(rng, sizes, noise=1.0, scale=10.0, size=12):
    centres = rng.normal(scale=scale, size=(len(sizes), size, size)).astype(np.float32)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    clean = centres[labels]
    return clean + rng.normal(scale=noise, size=clean.shape).astype(np.float32), clean, labels


def test_the_fine_tuning_config_is_the_targets_config_plus_training():
    """One set of target fields: FineTuneConfig adds only how the blocks are trained."""
    from dataclasses import fields

    target = {f.name for f in fields(TargetConfig)}
    assert {f.name for f in fields(FineTuneConfig)} == target | {"refresh_neighbours", "train"}
    assert isinstance(FineTuneConfig(), TargetConfig)
    with pytest.raises(ValueError, match="min_k"):
        FineTuneConfig(k=5, min_k=6)


def test_first_block_targets_are_the_configs_neighbourhood_means(rng):
    noisy, _, _ = views(rng, [20, 20], size=16)
    cfg = FineTuneConfig(k=6, n_components=4, seed=3, train=TrainConfig(epochs=1, batch_size=8, seed=3))
    _, rep = finetune(cdae(AEConfig(channels=4), n_blocks=1), noisy, cfg, device="cpu")
    hoods = find_neighbourhoods(noisy, TargetConfig(k=6, n_components=4, seed=3))
    assert np.array_equal(rep.neighbours[0], hoods.indices)
    assert np.array_equal(rep.targets, neighbourhood_means(noisy, hoods))


def test_finetune_runs_end_to_end_and_leaves_the_input_model_alone(rng):
    centres = rng.normal(size=(2, 16, 16)).astype(np.float32)
    labels = np.repeat([0, 1], 20)
    imgs = centres[labels] + rng.normal(scale=0.5, size=(40, 16, 16)).astype(np.float32)
    model = cdae(AEConfig(channels=4))
    before = [p.clone() for p in model.parameters()]
    ft, rep = finetune(model, imgs, FineTuneConfig(k=5, n_components=4, train=TrainConfig(epochs=2, batch_size=8)),
                       labels=labels, device="cpu")
    assert len(rep.histories) == 3 and len(rep.purity) == 3 and rep.targets.shape == imgs.shape
    assert all((a == b).all() for a, b in zip(before, model.parameters()))
    assert any((a != b).any() for a, b in zip(model.parameters(), ft.parameters()))


@pytest.mark.parametrize("invert, dark, negated", [(None, True, True), (None, False, False), (False, True, False),
                                                   (True, False, True)])
def test_fine_tune_on_file_gives_the_model_the_polarity_denoising_will(tmp_path, monkeypatch, invert, dark, negated):
    import importlib

    import torch

    from cdae_lite.io.mrc import write_stack

    ft = importlib.import_module("cdae_lite.denoise.finetune")  # the module; the package exports the function

    yy, xx = np.mgrid[:16, :16] - 7.5
    disk = (np.hypot(yy, xx) < 4).astype(np.float32)
    stack = np.repeat(disk[None], 40, 0) + np.random.default_rng(0).normal(scale=0.1, size=(40, 16, 16)).astype(np.float32)
    stack = -stack if dark else stack
    path = tmp_path / "s.mrcs"
    write_stack(path, stack, 1.0)
    seen = {}
    monkeypatch.setattr(ft, "finetune", lambda model, x, cfg, device=None: (seen.setdefault("x", x), None))
    ft.fine_tune_on_file(torch.nn.Identity(), path, invert=invert)
    np.testing.assert_allclose(seen["x"], -stack if negated else stack, atol=1e-6)


def test_finetune_with_cluster_restricted_targets(rng):
    noisy, _, labels = views(rng, [8, 32], size=16)
    cfg = FineTuneConfig(k=12, n_components=4, clusters=2, train=TrainConfig(epochs=1, batch_size=8))
    _, rep = finetune(cdae(AEConfig(channels=4)), noisy, cfg, labels=labels, device="cpu")
    assert rep.purity[0] == 1.0 and rep.kept[0][labels == 0].sum(1).max() == 7
    default = FineTuneConfig(k=12, n_components=4, train=TrainConfig(epochs=1, batch_size=8))
    _, rep0 = finetune(cdae(AEConfig(channels=4)), noisy, default, labels=labels, device="cpu")
    assert rep0.purity[0] < 1.0
    assert np.allclose(rep0.targets, noisy[rep0.neighbours[0]].mean(axis=1))


def test_recorded_fine_tuning_configs_still_read_as_today_s_fields():
    """results/cpu/*.json store the flat fields of before issue 29 (``refresh_neighbors``): chapter 3 reads
    ``k`` and ``n_components`` from them; every other field is today's under its new spelling."""
    import json
    from dataclasses import fields
    from pathlib import Path

    names = {f.name for f in fields(FineTuneConfig)}
    for path in sorted(Path(__file__).resolve().parents[1].glob("results/cpu/*.json")):
        cfg = json.loads(path.read_text()).get("config") or {}
        for rec in (cfg.get("finetune"), (cfg.get("cdae") or {}).get("finetune")):
            if isinstance(rec, dict):
                old = {"refresh_neighbors": "refresh_neighbours"}
                assert {old.get(k, k) for k in rec} <= names, path.name
                assert {"k", "n_components"} <= set(rec), path.name
