"""Build the book as CI does: every chapter executed in the quick profile, warnings as errors.

A chapter that raises, a broken cross-reference or a missing file fails this test. Skip it with
``pytest -m "not book"`` for a quick run of the library tests. The chapters of both book tests (the
quick book and the full profile's smoke path) run in one pool of two kernels (tests/book_exec.py).
"""

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from book_exec import (NEEDS, ORDER, QUICK_BUILD, SAME_ON_THE_SMOKE_PATH, SMOKE_PATH, Job, book_jobs,
                       config_reading_the_cache, execute_two_at_a_time, fill_cache)
from html_checks import book_problems, page_problems

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def executed_chapters(book_pool):
    """The chapters of the selected book tests, once they have all run (conftest's ``book_pool``)."""
    return book_pool.wait()


@pytest.mark.book
def test_book_builds_with_every_chapter_executed(tmp_path, executed_chapters):
    quick = {chapter: job for (profile, chapter), job in executed_chapters.items() if profile == "quick"}
    failed = {chapter: job.result[2] for chapter, job in quick.items() if job.result[2] is not None}
    assert not failed, f"chapters failed: {failed}"
    fill_cache(tmp_path / "jupyter_cache", quick)  # the build renders these, executing nothing itself
    config = config_reading_the_cache(ROOT / "_config.yml", tmp_path / "jupyter_cache", tmp_path / "_config.yml")
    env = {**os.environ, "CDAE_PROFILE": "quick", "CDAE_PROGRESS": "0"}
    # jupyter_book.cli.main has no __main__ guard: call its click entry point explicitly
    cmd = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
           "build", str(ROOT), "--config", str(config), "--path-output", str(tmp_path), "-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    reports = sorted((tmp_path / "_build" / "html" / "reports").glob("**/*.log"))
    logs = "\n".join(f"--- {r.name}\n{r.read_text()[-4000:]}" for r in reports)
    assert proc.returncode == 0, f"book build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}\n{logs}"
    assert proc.stdout.count("Using cached notebook") == len(quick), "the build executed a chapter itself"
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


def test_the_pool_runs_every_chapter_of_each_book_test_once(tmp_path):
    chapters = {p.stem for p in (ROOT / "book").glob("*.ipynb")}
    jobs = book_jobs({QUICK_BUILD, SMOKE_PATH}, tmp_path, ROOT)
    assert {c for p, c in jobs if p == "quick"} == chapters
    assert {c for p, c in jobs if p == "smoke"} == chapters - set(SAME_ON_THE_SMOKE_PATH)
    assert set(jobs) <= set(ORDER), "a job missing from book_exec.ORDER runs last"
    assert set(NEEDS["scorecard"]) == chapters - {"scorecard"}, "the scorecard reads every chapter's tables"
    assert set(book_jobs({SMOKE_PATH}, tmp_path, ROOT)) == {k for k in jobs if k[0] == "smoke"}


def test_the_pool_starts_a_chapter_only_after_the_chapters_it_reads(monkeypatch, tmp_path):
    import book_exec

    log, lock = [], threading.Lock()

    def fake(job, cwd):
        key = (job.path.parent.name, job.path.name)
        with lock:
            log.append(("start", key))
        time.sleep(0.02)
        with lock:
            log.append(("end", key))
        return None, 0.02, None

    monkeypatch.setattr(book_exec, "execute", fake)
    jobs = execute_two_at_a_time({key: Job(Path(*key), {}) for key in ORDER}, tmp_path)
    assert sorted(k for e, k in log if e == "start") == sorted(ORDER) and all(j.result for j in jobs.values())
    for profile, chapter in ORDER:
        for need in (n for n in NEEDS.get(chapter, ()) if (profile, n) in jobs):
            assert log.index(("end", (profile, need))) < log.index(("start", (profile, chapter))), \
                f"{profile} {chapter} started before {need} ended"
    running = [sum(1 if e == "start" else -1 for e, _ in log[:i + 1]) for i in range(len(log))]
    assert max(running) == 2, f"{max(running)} kernels at a time"


@pytest.mark.book
def test_every_chapter_runs_on_the_full_profiles_smoke_path(executed_chapters):
    # issue 16: the full profile's shapes and code paths (64 px, the paper's networks, recorded results)
    # with a handful of images, so that a branch only the full profile takes cannot rot unseen. Part of the
    # README's test command: 294 s in CI one chapter at a time (the landing CI of 9cadab0), 222 s in waves
    # after the quick book (stop 42); in the quick book's pool since.
    # python benchmarks/chapters.py --profile full --smoke times each chapter
    failed = {chapter: job.result[2] for (profile, chapter), job in executed_chapters.items()
              if profile == "smoke" and job.result[2] is not None}
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
