"""Tests of ``cdae_lite.paper.profiles``: the quick/full/smoke profiles live on the paper's side."""

from dataclasses import replace

import pytest
import torch

from cdae_lite.paper.profiles import QUICK_OVERRIDES, for_profile, get_profile, quick
from cdae_lite.simulation.config import SimulationConfig


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("CDAE_PROFILE", "full")
    assert get_profile() == "full"
    monkeypatch.setenv("CDAE_PROFILE", "Quick")
    assert get_profile() == "quick"
    monkeypatch.delenv("CDAE_PROFILE")
    assert get_profile() == ("full" if torch.cuda.is_available() else "quick")
    monkeypatch.setenv("CDAE_PROFILE", "fast")
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile()


def test_library_configs_are_plain_and_the_paper_holds_their_profiles(monkeypatch):
    from dataclasses import asdict

    from cdae_lite.denoise.finetune import FineTuneConfig

    for cls in (SimulationConfig, FineTuneConfig):  # the paper's defaults, no profile machinery
        assert not any(hasattr(cls, n) for n in ("quick", "full", "for_profile", "quick_overrides"))
        assert cls().as_dict() == asdict(cls())
    assert for_profile(FineTuneConfig, "quick") == FineTuneConfig() and FineTuneConfig not in QUICK_OVERRIDES
    monkeypatch.setenv("CDAE_SMOKE", "1")  # the smoke path keeps a library config's shapes, with fewer images
    assert for_profile(SimulationConfig, "full") == replace(SimulationConfig(), images_per_view=16)
    assert quick(SimulationConfig, seed=3).seed == 3
