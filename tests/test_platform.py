"""Platform and licence claims: the package imports where ``resource`` does not exist (Windows), the
Python versions pyproject allows are those the tests can run on, and the licence and citation files
say what pyproject and the README say."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_and_its_commands_import_without_the_unix_only_resource_module(tmp_path):
    # sys.modules["resource"] = None makes `import resource` raise ImportError, as on Windows
    code = ("import sys; sys.modules['resource'] = None\n"
            "import cdae_lite.runtime as r, cdae_lite.cli as c, cdae_lite.denoise, cdae_lite.cluster\n"
            "assert r.resource is None\n"
            "m = r.peak_rss_mb(); assert m != m or m > 0\n"  # NaN (unknown) or a psutil figure
            "assert c.main(['--help']) == 0\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "usage: cdae-lite" in run.stdout


def _minimum(spec: str) -> tuple[int, int]:
    m = re.search(r">=\s*(\d+)\.(\d+)", spec)
    assert m, spec
    return int(m.group(1)), int(m.group(2))


def test_the_python_versions_allowed_are_those_the_tests_run_on():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lowest = _minimum(project["requires-python"])
    needs = (3, 11) if any("tomllib" in {a.name for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, ast.Import)
                                          for a in n.names} for p in (ROOT / "tests").glob("*.py")) else (3, 8)
    assert lowest >= needs, f"pyproject allows Python {lowest} but the tests import tomllib (3.11+)"
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert tuple(map(int, conda_python.split("=")[1].split(".")[:2])) >= lowest
    assert sys.version_info[:2] >= lowest
    readme = (ROOT / "README.md").read_text()
    assert f"Python {lowest[0]}.{lowest[1]}+" in readme


def test_licence_citation_and_bm3d_notice():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] and cff["license"] == "MIT" and cff["version"] == project["version"]
    paper = cff["preferred-citation"]
    assert paper["doi"] == "10.3389/fgene.2020.627746"
    assert [a["family-names"] for a in paper["authors"]] == ["Lei", "Yang"]
    bib = (ROOT / "book" / "references.bib").read_text()
    assert paper["doi"] in bib and paper["journal"] in bib  # the book cites the same paper
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"bm3d.{0,80}non-commercial", readme, re.S | re.I)


def test_environment_yml_stays_cpu_only():
    text = (ROOT / "environment.yml").read_text()
    assert "download.pytorch.org/whl/cpu" in text
    assert not re.search(r"^\s*-\s*(cudatoolkit|pytorch-cuda|cuda)", text, re.M)
