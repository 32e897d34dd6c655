"""The full profile's code paths, exercised in minutes (issue 16): CDAE_SMOKE=1 with CDAE_PROFILE=full.

The configs keep the paper's shapes (64 px, the paper's networks, k = 30) and shrink only the sample
sizes and epochs, so branches taken only at full scale cannot rot unseen. The cascade experiment
itself runs on that path in tests/test_experiments.py.
"""

import pytest

from cdae_lite.paper import BaselineExperiment, CDAEExperiment, ClusteringExperiment
from cdae_lite.paper.cluster_eval import ClusterEvaluation
from cdae_lite.denoise.recipe import GENERAL
from cdae_lite.paper.general import general_recipe
from cdae_lite.paper.general_eval import DenoiserEvaluation


@pytest.fixture
def smoke_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CDAE_SMOKE", "1")
    monkeypatch.setenv("CDAE_PROFILE", "full")
    monkeypatch.setenv("CDAE_CACHE", str(tmp_path))
    monkeypatch.setenv("CDAE_PROGRESS", "0")


def test_smoke_keeps_the_full_profiles_shapes_and_shrinks_only_sizes(smoke_env):
    exp, full = CDAEExperiment.for_profile(), CDAEExperiment.full()
    assert exp.sim.image_size == full.sim.image_size == 64 and exp.ae == full.ae
    assert exp.finetune.k == full.finetune.k and exp.sim.train_snrs == full.sim.train_snrs
    assert exp.pretrain.epochs == 1
    # every neighbour search of the chapters fits in a protein's stack (chapter 3's better targets: up to 4k)
    from cdae_lite.paper.targets_eval import TargetEvaluation

    n = exp.sim.images_per_view * exp.sim.n_views
    largest = max(c.k for c, _ in TargetEvaluation(k=exp.finetune.k).choices(exp.sim.n_views, n).values())
    assert n > largest and n > 2 * exp.finetune.k  # chapter 3's held-out means: neighbours k + 1 to 2k
    uncapped = max(c.k for c, _ in TargetEvaluation(k=exp.finetune.k).choices(exp.sim.n_views).values())
    assert uncapped == 4 * exp.finetune.k  # the cap applies only where the stack is smaller
    bx, cx = BaselineExperiment.for_profile(), ClusteringExperiment.for_profile()
    assert bx.dncnn == BaselineExperiment.full().dncnn and bx.cdae == exp and cx.cdae == exp
    assert general_recipe().net == GENERAL.net  # the shipped network on the smoke path
    assert DenoiserEvaluation.for_profile().size == ClusterEvaluation.for_profile().size == 64
    # the quick profile is untouched by the switch
    assert CDAEExperiment.for_profile("quick") == CDAEExperiment.quick()


def test_the_recording_command_refuses_the_smoke_path(smoke_env, capsys):
    from cdae_lite.paper.command import main

    with pytest.raises(SystemExit) as e:
        main(["cdae", "--profile", "cpu"])
    assert e.value.code == 2 and "CDAE_SMOKE" in capsys.readouterr().err


def test_chapter_sizes_follow_the_profile_and_the_smoke_path(monkeypatch):
    from cdae_lite.paper.profiles import by_profile

    monkeypatch.delenv("CDAE_SMOKE", raising=False)
    assert by_profile(12, 48, profile="full") == 48 and by_profile(12, 48, profile="quick") == 12
    monkeypatch.setenv("CDAE_SMOKE", "1")
    assert by_profile(12, 48, profile="full") == 12 and by_profile(150, 400, 2, profile="full") == 2
    assert by_profile(150, 400, 2, profile="quick") == 150  # the switch leaves the quick profile alone
