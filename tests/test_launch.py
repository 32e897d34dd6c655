"""The repository's address is set once (``_config.yml``) and copied where it cannot be read from there:
the chapters' install cell (Colab), ``cdae_lite.REPOSITORY_URL`` and the README's Colab link."""

import importlib.util
import shutil
from importlib.machinery import SourceFileLoader
from pathlib import Path

import cdae_lite

ROOT = Path(__file__).resolve().parents[1]


def _script():
    loader = SourceFileLoader("repository_url", str(ROOT / ".ci" / "repository-url"))
    spec = importlib.util.spec_from_loader("repository_url", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_every_launch_site_uses_the_configured_address():
    script = _script()
    assert script.sync(ROOT, check=True) == []
    assert cdae_lite.REPOSITORY_URL == script.configured_url(ROOT)


def test_a_fork_changes_one_line_and_the_script_copies_it_everywhere(tmp_path):
    script = _script()
    for name in ("_config.yml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "book", tmp_path / "book", ignore=shutil.ignore_patterns("_build", "figures", "api"))
    (tmp_path / "cdae_lite").mkdir()
    shutil.copy(ROOT / "cdae_lite" / "__init__.py", tmp_path / "cdae_lite" / "__init__.py")
    config = tmp_path / "_config.yml"
    config.write_text(config.read_text().replace(cdae_lite.REPOSITORY_URL, "https://github.com/alice/cdae-fork"))

    differ = script.sync(tmp_path, check=True)
    chapters = list((tmp_path / "book").glob("*.ipynb"))
    assert len(differ) == len(chapters) + 2  # every chapter, the package, the README
    assert script.sync(tmp_path) and script.sync(tmp_path, check=True) == []
    assert 'REPOSITORY_URL = "https://github.com/alice/cdae-fork"' in (tmp_path / "cdae_lite" / "__init__.py").read_text()
    assert "colab.research.google.com/github/alice/cdae-fork/blob/" in (tmp_path / "README.md").read_text()
    for nb in chapters:  # the install cell fetches the fork at the configured branch, tag or commit
        assert 'REPOSITORY, REF = \\"https://github.com/alice/cdae-fork\\", \\"main\\"' in nb.read_text()
    config.write_text(config.read_text().replace("branch: main", "branch: v0.1.0"))
    assert len(script.sync(tmp_path)) == len(chapters)  # a release pins its tag in every install cell
    assert all('\\"v0.1.0\\"' in nb.read_text() for nb in chapters)
