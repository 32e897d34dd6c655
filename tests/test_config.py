import pytest
import torch

from cdae_lite.paper.profiles import QUICK_OVERRIDES, for_profile, get_profile, quick
from cdae_lite.runtime import get_device, seed_everything
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


def test_simulation_profiles_share_the_protocol():
    q, f = for_profile(SimulationConfig, "quick"), for_profile(SimulationConfig, "full")
    assert (f.image_size, f.images_per_view, f.n_views) == (64, 1000, 4)
    assert q.image_size < f.image_size and q.images_per_view < f.images_per_view
    assert q.train_snrs == f.train_snrs == (0.1, 0.4, 0.6) and q.test_snr == f.test_snr == 0.1
    r = f.realistic()
    assert r.ctf and r.inplane_rotation and r.jitter_deg > 0 and not f.ctf
    assert f == SimulationConfig() and q == quick(SimulationConfig)
    assert (q.image_size, q.images_per_view) == (32, 100)  # the quick profile's table in paper/profiles.py


def test_library_configs_are_plain_and_the_paper_holds_their_profiles(monkeypatch):
    from dataclasses import asdict

    from cdae_lite.denoise.finetune import FineTuneConfig

    for cls in (SimulationConfig, FineTuneConfig):  # the paper's defaults, no profile machinery
        assert not any(hasattr(cls, n) for n in ("quick", "full", "for_profile", "quick_overrides"))
        assert cls().as_dict() == asdict(cls())
    assert for_profile(FineTuneConfig, "quick") == FineTuneConfig() and FineTuneConfig not in QUICK_OVERRIDES
    monkeypatch.setenv("CDAE_SMOKE", "1")  # the smoke path keeps a library config's shapes
    assert for_profile(SimulationConfig, "full") == SimulationConfig()
    assert quick(SimulationConfig, seed=3).seed == 3


def test_command_line_names_what_the_user_typed(monkeypatch):
    import sys
    import types

    from cdae_lite.runtime import command_line

    main = types.ModuleType("__main__")
    main.__spec__ = types.SimpleNamespace(name="cdae_lite.paper.__main__")
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(sys, "argv", ["/x/cdae_lite/paper/__main__.py", "cdae", "--profile", "cpu"])
    assert command_line() == "python -m cdae_lite.paper cdae --profile cpu"
    main.__spec__ = None
    monkeypatch.setattr(sys, "argv", ["/usr/bin/cdae-lite", "denoise", "x.mrcs"])
    assert command_line() == "cdae-lite denoise x.mrcs"
    monkeypatch.setattr(sys, "argv", ["benchmarks/stream.py", "--counts", "10"])
    assert command_line() == "python benchmarks/stream.py --counts 10"


def test_device_and_seed():
    assert get_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            get_device("cuda")
    g1, g2 = seed_everything(3), seed_everything(3)
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))
    with pytest.raises(ValueError):
        seed_everything(-1)


def _committed_repo(path, files: dict):
    """A git repository at ``path`` holding ``files`` ({relative path: text}) in one commit."""
    import subprocess

    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    for a in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]):
        subprocess.run(["git", *a], cwd=path, check=True, capture_output=True)
    return path


def test_git_commit_is_dirty_for_code_changes_but_not_for_recorded_results(tmp_path):
    from cdae_lite.runtime import git_commit

    _committed_repo(tmp_path, {"results/r.json": "{}", "code.py": "x = 1\n"})
    clean = git_commit(tmp_path)
    assert len(clean) == 40 and not clean.endswith("-dirty")
    (tmp_path / "results" / "r.json").write_text('{"seed": 0}')  # a recorded run saving after a seed
    assert git_commit(tmp_path) == clean
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == clean + "-dirty"


def test_a_copied_tree_without_git_reports_the_stated_commit(tmp_path, monkeypatch):
    from cdae_lite.runtime import git_commit

    copy = tmp_path / "copy"
    copy.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # no repository above the copy either
    monkeypatch.delenv("CDAE_COMMIT", raising=False)
    assert git_commit(copy) == "unknown"
    monkeypatch.setenv("CDAE_COMMIT", "1732cd0")
    assert git_commit(copy) == "1732cd0 (stated)"
    (tmp_path / "repo").mkdir()
    sha = git_commit(_committed_repo(tmp_path / "repo", {"code.py": "x = 1\n"}))  # git wins over the stated commit
    assert len(sha) == 40 and "stated" not in sha
