"""Chapters run as a student meets them in a blank Colab (issue 30).

Colab has Python with the scientific stack (numpy, torch, ...) but not cdae-lite. The test makes a
fresh virtual environment that sees this environment's packages except cdae-lite (a ``.pth`` file
naming a folder of links to them, as Colab's preinstalled packages), points the chapters' install
cell at a ``file://`` copy of this checkout's commit, and executes chapter 1 and the scorecard with
nbclient in an empty folder with an empty model cache, through their own install cells: they fetch
the repository, install it with pip and run. The install cell then runs a second time (a student
re-running it) and must reuse its copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from test_launch import _script  # .ci/repository-url loaded as a module

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ("01_simulation", "scorecard")


def _colab_like_python(tmp_path: Path) -> Path:
    """A new venv whose extra packages are this environment's, cdae-lite left out."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    stack = tmp_path / "preinstalled"
    stack.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        low = entry.name.lower()
        if not (low.startswith(("cdae_lite", "cdae-lite", "__editable__")) or low.endswith(".pth")
                or low == "pip" or low.startswith("pip-")):
            (stack / entry.name).symlink_to(entry)
    (site / "colab_preinstalled.pth").write_text(f"{stack}\n")
    return python


def _kernel(tmp_path: Path, python: Path) -> Path:
    spec = tmp_path / "jupyter" / "kernels" / "colab"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "colab-like", "language": "python"}))
    return tmp_path / "jupyter"


@pytest.mark.book
def test_chapter_one_and_the_scorecard_run_in_a_blank_colab_like_environment(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    script = _script()
    url, ref = script.configured_url(ROOT), script.configured_ref(ROOT)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    python = _colab_like_python(tmp_path)
    monkeypatch.setenv("JUPYTER_PATH", str(_kernel(tmp_path, python)))
    for k in ("PYTHONPATH", "VIRTUAL_ENV", "CDAE_SMOKE"):
        monkeypatch.delenv(k, raising=False)
    for k, v in {"CDAE_PROFILE": "quick", "CDAE_CACHE": str(tmp_path / "cache"), "CDAE_PROGRESS": "0",
                 "PIP_DISABLE_PIP_VERSION_CHECK": "1"}.items():
        monkeypatch.setenv(k, v)
    content = tmp_path / "content"  # Colab's working folder: empty
    content.mkdir()
    for chapter in CHAPTERS:
        nb = nbformat.read(ROOT / "book" / f"{chapter}.ipynb", as_version=4)
        install = next(c for c in nb.cells if c.cell_type == "code")
        assert install.source == script.install_cell(ROOT), f"{chapter}: run python .ci/repository-url"
        install.source = install.source.replace(f'"{url}", "{ref}"', f'"file://{ROOT}", "{commit.stdout.strip()}"')
        nb.cells.insert(nb.cells.index(install) + 1, nbformat.v4.new_code_cell(install.source))  # a re-run
        NotebookClient(nb, timeout=900, kernel_name="colab", resources={"metadata": {"path": str(content)}}).execute()
        said = [o.get("text", "") for c in nb.cells[:nb.cells.index(install) + 2] if c.cell_type == "code"
                for o in c.outputs if o.get("output_type") == "stream"]
        installed = [s for s in said if s.startswith("cdae-lite ")]
        assert len(installed) == 2 and all(str(content / "cdae-lite") in s for s in installed), said
        assert commit.stdout.strip() in installed[0], installed
    assert sys.executable != str(python)
