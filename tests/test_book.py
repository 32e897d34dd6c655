"""Build the book as CI does: every chapter executed in the quick profile, warnings as errors.

A chapter that raises, a broken cross-reference or a missing file fails this test. Skip it with
``pytest -m "not book"`` for a quick run of the library tests.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from html_checks import book_problems, page_problems

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.book
def test_book_builds_with_every_chapter_executed(tmp_path):
    env = {**os.environ, "CDAE_PROFILE": "quick", "CDAE_PROGRESS": "0"}
    # jupyter_book.cli.main has no __main__ guard: call its click entry point explicitly
    cmd = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
           "build", str(ROOT), "--path-output", str(tmp_path), "-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    reports = sorted((tmp_path / "_build" / "html" / "reports").glob("**/*.log"))
    logs = "\n".join(f"--- {r.name}\n{r.read_text()[-4000:]}" for r in reports)
    assert proc.returncode == 0, f"book build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}\n{logs}"
    built = {p.stem for p in (tmp_path / "_build" / "html" / "book").glob("*.html")}
    chapters = {p.stem for p in (ROOT / "book").glob("*.ipynb")}
    assert chapters <= built, f"chapters not built: {sorted(chapters - built)}"
    api = {p.stem for p in (tmp_path / "_build" / "html" / "book" / "api").glob("*.html")}
    assert {"index", "simulation", "denoise", "cluster", "io", "paper", "cli", "foundations"} <= api, sorted(api)
    html = tmp_path / "_build" / "html"
    # formulas render offline: MathJax is served from the book, not from a CDN
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()
    with_math = (html / "book" / "01_simulation.html").read_text()  # a page with formulas
    assert "_static/mathjax/tex-chtml.js" in with_math and "cdn.jsdelivr" not in with_math
    # the instructor's page carries the execution times measured in this build, one row per chapter
    instructor = (html / "book" / "instructor.html").read_text()
    assert all(f"book/{c}" in instructor for c in chapters), "execution table lacks chapters"
    # the scorecard computed the quick column from the tables the chapters kept in this build
    card = (html / "book" / "scorecard.html").read_text()
    assert "quick (this build)" in card and "cpu (recorded)" in card
    # the figure bank pastes the figures the chapters kept (plot.keep) in this build
    bank = (html / "book" / "figure_bank.html").read_text()
    kept = sum(nb.read_text().count("plot.keep(fig") for nb in (ROOT / "book").glob("*.ipynb"))
    assert kept >= 10 and bank.count("<img") >= kept, (kept, bank.count("<img"))
    # every table renders as a table, and no printed table cell has more than 3 decimals (issue 33)
    problems = book_problems(html)
    assert not problems, "\n".join(problems)


# Chapters the smoke path skips because it would run them exactly as the quick book does (issue 33's CI
# budget): chapter 1 depends on the profile only through the simulation's sizes (30 s on the smoke path),
# chapter 6 only through by_profile sizes (60-150 s), chapter 7 through DenoiserEvaluation, whose smoke
# variant is its quick variant, and a printed epoch count (100-380 s).
# Each maps to the profile-dependent lines it may hold; the test below fails when such a chapter gains
# another (run it on the smoke path again then) or when the smoke and quick variants part.
SAME_ON_THE_SMOKE_PATH = {
    "01_simulation": ("for_profile(SimulationConfig, PROFILE)",),
    "06_real_particles": (),
    "07_general_denoiser": ("DenoiserEvaluation.for_profile(PROFILE)", "paper.CDAEExperiment.full().pretrain.epochs"),
}
PROFILE_BRANCHES = ("for_profile(", ".quick(", ".full(", "PROFILE ==", "== PROFILE", "if PROFILE", "smoke()",
                    "CDAE_PROFILE", "CDAE_SMOKE", "Experiment.", "Experiment(", "Evaluation.", "Evaluation(",
                    "general_recipe(PROFILE")


def test_chapters_skipped_on_the_smoke_path_have_no_full_only_code(monkeypatch):
    import nbformat

    from cdae_lite.paper.general_eval import DenoiserEvaluation

    for stem, allowed in SAME_ON_THE_SMOKE_PATH.items():
        nb = nbformat.read(ROOT / "book" / f"{stem}.ipynb", as_version=4)
        code = "\n".join(re.sub(r"#.*", "", line) for c in nb.cells if c.cell_type == "code"
                         for line in c.source.splitlines())  # comments may name the profile
        for a in allowed:
            assert a in code, f"{stem}: {a!r} is gone: update SAME_ON_THE_SMOKE_PATH"
            code = code.replace(a, "")
        found = [b for b in PROFILE_BRANCHES if b in code]
        assert not found, f"{stem} now depends on the profile through {found}: run it on the smoke path again"
    monkeypatch.setenv("CDAE_SMOKE", "1")
    assert DenoiserEvaluation.for_profile("full") == DenoiserEvaluation.for_profile("quick")
    # and the guard sees such a construct when it is there
    assert any(b in "cfg = BaselineExperiment.for_profile(PROFILE)" for b in PROFILE_BRANCHES)


# The smoke path's chapters in waves: the chapters of a wave run side by side, a wave after the one before.
# Chapters 3 to 5 load the models chapter 2 trained, and 4 and 5 the ones 3 fine-tuned, so they wait for
# them; the scorecard reads every chapter's tables. A kernel that shares the machine runs torch on one
# thread (two kernels of two threads each on a 2-core machine wait on each other's threads).
SMOKE_WAVES = (("02_single_vs_cascade",), ("03_finetuning",), ("04_baselines", "05_clustering"), ("scorecard",))


def test_the_smoke_waves_run_every_chapter_the_quick_book_does_not_stand_for():
    chapters = {p.stem for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb")} | {"scorecard"}
    waved = [c for wave in SMOKE_WAVES for c in wave]
    assert len(waved) == len(set(waved)), "a chapter is in two waves"
    assert set(waved) == chapters - set(SAME_ON_THE_SMOKE_PATH), "a chapter is missing from SMOKE_WAVES"
    assert SMOKE_WAVES[-1] == ("scorecard",), "the scorecard reads every chapter's tables: it runs last, alone"


def is_solution(cell) -> bool:
    """An exercise's solution cell (its first line starts ``# Solution``)."""
    return cell.cell_type == "code" and cell.source.lstrip().startswith("# Solution")


def _execute(path: Path, alone: bool) -> str | None:
    """Run one chapter top to bottom in a fresh kernel, its exercises' solutions left out (the quick book runs
    and checks them; here they would rerun the same code on other sizes); its last error line, or None."""
    import nbformat
    from nbclient import NotebookClient

    shared = {} if alone else {"env": {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}}
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if not is_solution(c)]
    try:
        NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute(
            **shared)
    except Exception as e:  # noqa: BLE001 -- collect every chapter's failure, then report them all
        return (str(e).strip().splitlines() or [type(e).__name__])[-1][:300]
    return None


@pytest.mark.book
def test_every_chapter_runs_on_the_full_profiles_smoke_path(monkeypatch, smoke_cache):
    # issue 16: the full profile's shapes and code paths (64 px, the paper's networks, recorded results)
    # with a handful of images, so that a branch only the full profile takes cannot rot unseen. Part of the
    # README's test command: 294 s in CI one chapter at a time (the landing CI of 9cadab0); in SMOKE_WAVES since.
    # python benchmarks/chapters.py --profile full --smoke times each chapter
    from concurrent.futures import ThreadPoolExecutor

    for k, v in {"CDAE_PROFILE": "full", "CDAE_SMOKE": "1", "CDAE_CACHE": str(smoke_cache), "CDAE_PROGRESS": "0"}.items():
        monkeypatch.setenv(k, v)  # the kernels inherit this process's environment
    failed = {}
    for wave in SMOKE_WAVES:
        with ThreadPoolExecutor(len(wave)) as pool:
            errors = pool.map(lambda c: _execute(ROOT / "book" / f"{c}.ipynb", alone=len(wave) == 1), wave)
        failed.update({c: e for c, e in zip(wave, errors) if e is not None})
    assert not failed, failed


# What MyST-NB made of `display(Markdown(table))` in a tiny book built with this repository's settings
# (its outputs are CommonMark, which has no tables; smart quotes then turn "---" into em dashes).
RAW_TABLE_OUTPUT = """<div class="cell_output docutils container">
<p>| claim | quick | cpu |
|\u2014|\u2014|\u2014|
| a | holds | fails |</p>
</div>"""


def test_the_html_check_passes_a_legible_page():
    frame = pd.DataFrame({"PSNR (dB)": [18.55, 20.123], "verdict": ["holds", "fails"]}, index=["adk", "cxcr4"])
    page = ("<p>A sentence with a | in it, and |x| = 2.</p><p>|x| is the modulus.</p>"
            '<table class="table"><tr><th class="head"><p>claim</p></th></tr><tr><td><p>1.234</p></td></tr></table>'
            + frame.to_html() + "<td>version 1.2.34567, 10.5 s</td>")
    assert page_problems(page, "good") == []


def test_the_html_check_fails_on_a_raw_pipe_table_and_on_long_decimals():
    (raw,) = page_problems(RAW_TABLE_OUTPUT, "scorecard")
    assert raw.startswith("scorecard: a Markdown table printed as text: '| claim | quick | cpu |")
    assert len(page_problems("<p>|---|---|</p>", "p")) == 1  # a separator row alone, before smart quotes
    assert len(page_problems("<p>The table: | a | b | c |</p><p>|\u2014|\u2014|</p>", "p")) == 1
    frame = pd.DataFrame({"PSNR (dB)": [18.55, 20.1234567]})  # pandas prints 18.550000
    problems = page_problems(frame.to_html(), "04_baselines")
    assert problems and all(p.startswith("04_baselines: a table cell prints") for p in problems)
    assert "18.550000" in problems[0]
    assert page_problems("<table><tr><th>0.12345</th><td>-3.0001 dB</td></tr></table>", "x") == [
        "x: a table cell prints 0.12345 (more than 3 decimals): '0.12345'",
        "x: a table cell prints -3.0001 (more than 3 decimals): '-3.0001 dB'"]


def test_the_html_check_fails_on_tables_that_pandas_truncated():
    wide = pd.DataFrame([[1.5] * 30], columns=[f"set {i}" for i in range(30)])  # over pandas' 20 columns
    with pd.option_context("display.max_columns", 20):
        problems = page_problems(wide._repr_html_(), "04_baselines")
    assert problems == ["04_baselines: a truncated table cell (pandas' display limits): '...'"] * 2  # th and td
    long = pd.DataFrame({"tuning": ["2.0: 16.93, 1.0: 17.22, 1.25: 16.93, 1.5: 16.61, 1.75: 16.2, 2.5: 15.5"]})
    with pd.option_context("display.max_colwidth", 50):
        (cut,) = page_problems(long._repr_html_(), "04_baselines")
    assert cut.startswith("04_baselines: a truncated table cell") and cut.endswith("...'")
    with pd.option_context("display.max_columns", None, "display.max_colwidth", None):  # the chapters' setting
        assert page_problems(wide._repr_html_() + long._repr_html_(), "04_baselines") == []


def test_the_html_check_reads_every_chapter_page(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "good.html").write_text("<p>fine</p>")
    (tmp_path / "book" / "scorecard.html").write_text(RAW_TABLE_OUTPUT)
    assert [p.split(":")[0] for p in book_problems(tmp_path)] == ["scorecard"]
