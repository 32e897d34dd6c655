"""Tests of ``cdae_lite.runtime``: the command line, device, seeds and the git commit recorded."""

import pytest
import torch

from cdae_lite.runtime import get_device, seed_everything


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
