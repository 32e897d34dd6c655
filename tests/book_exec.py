"""Execute the book's chapters for the book tests (tests/test_book.py): two kernels at a time, in the
background while the library tests run.

Stop 42's last CI here took 1669 s (1679 s when it landed): the quick book 911 s (Jupyter Book executing
one chapter after another on two threads), the full profile's smoke path 222 s after it. Here both
profiles' chapters run in one pool of two kernels, each on one torch thread: a second thread speeds a
chapter up about 1.6-1.7 times, not 2, so two one-thread kernels get through more work, and a chapter
waiting for another leaves its core to a chapter of the other
profile. The pool starts with the session (conftest's ``book_pool``) and the book tests run last, so
the library tests use what the kernels leave of the two cores. A chapter starts once the chapters of its
profile whose cached models or tables it reads have finished (:data:`NEEDS`). The quick chapters go into
a Jupyter cache (``jupyter-cache``, the one MyST-NB's ``execute_notebooks: cache`` reads) with their
execution seconds, so the build renders them and the instructor's execution table shows these times.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

QUICK_BUILD = "test_book_builds_with_every_chapter_executed"  #: the book test that needs the quick chapters
SMOKE_PATH = "test_every_chapter_runs_on_the_full_profiles_smoke_path"  #: the one that needs the smoke path's

# Chapters the smoke path skips because it would run them exactly as the quick book does (issue 33's CI
# budget): chapter 1 depends on the profile only through the simulation's sizes (30 s on the smoke path),
# chapter 6 only through by_profile sizes (60-150 s), chapter 7 through DenoiserEvaluation, whose smoke
# variant is its quick variant, and a printed epoch count (100-380 s).
# Each maps to the profile-dependent lines it may hold; a test in test_book.py fails when such a chapter
# gains another (run it on the smoke path again then) or when the smoke and quick variants part.
SAME_ON_THE_SMOKE_PATH = {
    "01_simulation": ("for_profile(SimulationConfig, PROFILE)",),
    "06_real_particles": (),
    "07_general_denoiser": ("DenoiserEvaluation.for_profile(PROFILE)", "paper.CDAEExperiment.full().pretrain.epochs"),
}

# What each chapter waits for, within its profile: chapters 3 to 5 load the models chapter 2 pre-trained,
# 4 and 5 the ones chapter 3 fine-tuned; the scorecard reads every chapter's tables. 1, 6 and 7 need nothing.
NEEDS = {"03_finetuning": ("02_single_vs_cascade",), "04_baselines": ("03_finetuning",),
         "05_clustering": ("03_finetuning",), "scorecard": ("01_simulation", "02_single_vs_cascade", "03_finetuning",
                                                            "04_baselines", "05_clustering", "06_real_particles",
                                                            "07_general_denoiser")}

# The order a free kernel takes jobs in, among those whose needs are met: the quick book's longest chain
# first (2 -> 3 -> 4 or 5, about 650 of its 1200 kernel-seconds), the rest while chapter 3 waits for 2;
# the smoke path's chapters 2 and 3 early, since the library's smoke-path tests wait for their models.
ORDER = (("quick", "02_single_vs_cascade"), ("smoke", "02_single_vs_cascade"), ("smoke", "03_finetuning"),
         ("quick", "07_general_denoiser"), ("quick", "03_finetuning"), ("quick", "06_real_particles"),
         ("quick", "04_baselines"), ("quick", "05_clustering"), ("smoke", "04_baselines"),
         ("smoke", "05_clustering"), ("quick", "01_simulation"), ("smoke", "scorecard"), ("quick", "scorecard"))


@dataclass
class Job:
    """One chapter to execute: its notebook, the kernel's environment and the cells left out."""

    path: Path
    env: dict
    drop: object = None  #: a function cell -> bool: cells left out (None: none)
    result: tuple = field(default=None, repr=False)  #: (notebook, seconds, error line or None), once run


def is_solution(cell) -> bool:
    """An exercise's solution cell (its first line starts ``# Solution``)."""
    return cell.cell_type == "code" and cell.source.lstrip().startswith("# Solution")


def book_jobs(selected: set, smoke_cache: Path, root: Path) -> dict:
    """``{(profile, chapter): Job}`` for the selected book tests (their names): every chapter in the quick
    profile with its solutions, and on the smoke path every chapter but :data:`SAME_ON_THE_SMOKE_PATH`,
    solutions left out (the quick book runs and checks them; here they would rerun the same code on other
    sizes). Each kernel runs torch on one thread. The environment is this process's now: a test that
    changes it later changes nothing here."""
    env = {k: v for k, v in os.environ.items() if k != "CDAE_SMOKE"}
    env.update({"CDAE_PROGRESS": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    chapters = sorted((root / "book").glob("*.ipynb"))
    jobs = {}
    if QUICK_BUILD in selected:
        jobs.update({("quick", p.stem): Job(p, {**env, "CDAE_PROFILE": "quick"}) for p in chapters})
    if SMOKE_PATH in selected:
        smoke = {**env, "CDAE_PROFILE": "full", "CDAE_SMOKE": "1", "CDAE_CACHE": str(smoke_cache)}
        jobs.update({("smoke", p.stem): Job(p, smoke, drop=is_solution) for p in chapters
                     if p.stem not in SAME_ON_THE_SMOKE_PATH})
    return jobs


def execute(job: Job, cwd: Path, timeout: int = 1800) -> tuple:
    """Run one notebook top to bottom in a fresh kernel; ``(notebook, seconds, error line or None)``.

    No timing metadata is written into the cells: the Jupyter cache matches a notebook by its code cells
    and their metadata, so the executed notebook must keep the source's.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(job.path, as_version=4)
    if job.drop is not None:
        nb.cells = [c for c in nb.cells if not job.drop(c)]
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": str(cwd)}}).execute(env=job.env)
        error = None
    except Exception as e:  # noqa: BLE001 -- collect every chapter's failure, then report them all
        error = (str(e).strip().splitlines() or [type(e).__name__])[-1][:300]
    return nb, time.perf_counter() - start, error


def execute_two_at_a_time(jobs: dict[tuple[str, str], Job], cwd: Path, workers: int = 2,
                          stopped=lambda: False) -> dict:
    """Execute ``{(profile, chapter): Job}`` with ``workers`` kernels at a time, each job once the
    :data:`NEEDS` of its profile have finished (failed or not: a failure is reported either way). No job
    starts once ``stopped()`` is true.

    Returns the jobs, each with its ``result``.
    """
    order = [key for key in ORDER if key in jobs] + sorted(set(jobs) - set(ORDER))
    started: set = set()
    lock = threading.Condition()

    def ready(key):
        return all(jobs.get((key[0], n)) is None or jobs[(key[0], n)].result is not None
                   for n in NEEDS.get(key[1], ()))

    def worker():
        while True:
            with lock:
                while (key := next((k for k in order if k not in started and ready(k)), None)) is None:
                    if len(started) == len(order):
                        return
                    lock.wait()
                if stopped():
                    return
                started.add(key)
            result = execute(jobs[key], cwd)
            with lock:
                jobs[key].result = result
                lock.notify_all()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return jobs


class Pool:
    """:func:`execute_two_at_a_time` in a background thread: :meth:`wait` returns the jobs once all have run;
    after :meth:`stop` no further job starts (a kernel that is running finishes, or dies with this process)."""

    def __init__(self, jobs: dict, cwd: Path):
        self.jobs, self._stop = jobs, False
        self._thread = threading.Thread(target=execute_two_at_a_time, args=(jobs, cwd, 2, lambda: self._stop),
                                        daemon=True)
        self._thread.start()

    def wait(self) -> dict:
        self._thread.join()
        return self.jobs

    def stop(self) -> None:
        self._stop = True

    def wait_for(self, key: tuple[str, str]) -> None:
        """Return once job ``key`` has run (at once when the pool has no such job)."""
        while key in self.jobs and self.jobs[key].result is None and self._thread.is_alive():
            time.sleep(0.5)


def fill_cache(cache_path: Path, jobs: dict[str, Job]) -> None:
    """Put each executed notebook in a Jupyter cache, as MyST-NB does after executing it itself."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(cache_path))
    for job in jobs.values():
        nb, seconds, error = job.result
        if error is None:
            cache.cache_notebook_bundle(CacheBundleIn(nb, str(job.path), data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)


def config_reading_the_cache(config: Path, cache_path: Path, out: Path) -> Path:
    """A copy of the book's ``_config.yml`` whose build takes executed notebooks from ``cache_path``."""
    cfg = yaml.safe_load(config.read_text())
    cfg["execute"] = {**cfg.get("execute", {}), "execute_notebooks": "cache", "cache": str(cache_path)}
    out.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return out
