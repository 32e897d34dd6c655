"""The book's fill-in exercises (issue 31): every solution passes its own check, every check names
typical mistakes specifically, and every exercise has both a check and a solution."""

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest

from cdae_lite import exercises
from cdae_lite.exercises import EXERCISES, Feedback

ALL = [(ch, name) for ch, ex in EXERCISES.items() for name in ex]


def module(ch: str):
    return getattr(exercises, ch)


@pytest.mark.parametrize("ch,name", ALL, ids=[f"{c}.{n}" for c, n in ALL])
def test_every_solution_passes_its_own_check(ch, name):
    check, solution = EXERCISES[ch][name]
    result = check(solution)
    assert isinstance(result, Feedback)
    assert result.passed, f"{ch}.solution_{name} fails its check: {result.message}"
    assert any(c.isdigit() for c in result.message)  # the confirmation states the number it checked


@pytest.mark.parametrize("ch", sorted(EXERCISES))
def test_every_exercise_has_a_check_and_a_solution(ch):
    names = {n for n, _ in inspect.getmembers(module(ch), inspect.isfunction)}
    solutions = {n.removeprefix("solution_") for n in names if n.startswith("solution_")}
    checks = {n.removeprefix("check_") for n in names if n.startswith("check_")}
    assert solutions == checks == set(EXERCISES[ch]), (solutions ^ checks) | (solutions ^ set(EXERCISES[ch]))
    assert 3 <= len(EXERCISES[ch]) <= 5
    for name, (check, solution) in EXERCISES[ch].items():
        assert check is getattr(module(ch), f"check_{name}") and solution is getattr(module(ch), f"solution_{name}")


@pytest.mark.parametrize("ch,name", ALL, ids=[f"{c}.{n}" for c, n in ALL])
def test_an_unfinished_skeleton_is_not_done_yet(ch, name):
    def skeleton(*args, **kwargs):
        # YOUR CODE HERE
        raise NotImplementedError

    def ellipsis(*args, **kwargs):
        return ...

    check, _ = EXERCISES[ch][name]
    for fn in (skeleton, ellipsis):
        result = check(fn)
        assert not result.passed and "not done yet" in result.message


def test_a_crash_or_a_value_instead_of_a_function_is_reported():
    def crash(*args):
        return np.zeros(3) @ np.zeros(4)

    result = exercises.ch2.check_psnr(crash)
    assert not result.passed and "raised ValueError" in result.message
    result = exercises.ch2.check_psnr(np.zeros(3))
    assert not result.passed and "expected a function" in result.message
    assert str(Feedback(True, "x")).startswith("\u2714") and not Feedback(False, "x")


def _sigma(clean, snr):
    return np.sqrt(clean.var(axis=(1, 2)) / snr)[:, None, None]


def _fft_filter(x, transfer):
    return np.fft.ifft2(np.fft.fft2(x) * transfer).real


def _centred(x):
    return x - x.mean(axis=(1, 2), keepdims=True)


# (chapter, exercise, a typical wrong answer, words its message must contain)
MISTAKES = [
    ("ch1", "noisy_at_snr", lambda c, s, r: c + r.standard_normal(c.shape) * np.sqrt(c.var(axis=(1, 2)) * s)[:, None, None],
     "var(noise) = var(clean) / snr"),
    ("ch1", "noisy_at_snr", lambda c, s, r: c + r.standard_normal(c.shape) * (c.var(axis=(1, 2)) / s)[:, None, None],
     "multiply it by the standard deviation"),
    ("ch1", "noisy_at_snr", lambda c, s, r: c + r.standard_normal(c.shape) * np.sqrt(c.var() / s), "whole stack"),
    ("ch1", "noisy_at_snr", lambda c, s, r: r.standard_normal(c.shape) * _sigma(c, s), "not the noise alone"),
    ("ch1", "noisy_at_snr", lambda c, s, r: c + r.standard_normal(c.shape[1:]) * _sigma(c, s), "same noise pattern"),
    ("ch1", "project_along_z", lambda v: v.sum(axis=2), "axis 0"),
    ("ch1", "project_along_z", lambda v: v.mean(axis=0), "averaged instead of summing"),
    ("ch1", "first_ctf_zero", lambda d, w: 1 / (w * d), "forgot the square root"),
    ("ch1", "first_ctf_zero", lambda d, w: np.sqrt(w * d), "a length in Angstrom"),
    ("ch1", "phase_flip", lambda x, c: _fft_filter(x, np.sign(c)), "np.fft.ifftshift"),
    ("ch1", "phase_flip", lambda x, c: _fft_filter(x, np.fft.ifftshift(c)), "applies it a second time"),
    ("ch1", "phase_flip", lambda x, c: np.fft.ifft2(np.fft.fft2(x) * np.fft.ifftshift(np.sign(c))), "real part"),
    ("ch2", "psnr", lambda e, c: 10 * np.log10(np.ptp(e, axis=(1, 2)) ** 2 / ((e - c) ** 2).mean(axis=(1, 2))),
     "PSNR is measured against the clean image"),
    ("ch2", "psnr", lambda e, c: 20 * np.log10(np.ptp(c, axis=(1, 2)) ** 2 / ((e - c) ** 2).mean(axis=(1, 2))),
     "use 10 log10"),
    ("ch2", "psnr", lambda e, c: 10 * np.log10(np.ptp(c) ** 2 / ((e - c) ** 2).mean()), "one number for the whole stack"),
    ("ch2", "psnr", lambda e, c: 10 * np.log10(c.max(axis=(1, 2)) ** 2 / ((e - c) ** 2).mean(axis=(1, 2))),
     "max - min"),
    ("ch2", "cascade_forward", lambda bs, x, apply: [apply(b, x) for b in bs], "each block got the noisy input"),
    ("ch2", "cascade_forward", lambda bs, x, apply: exercises.ch2.solution_cascade_forward(bs, x, apply)[-1],
     "not only the last output"),
    ("ch2", "cascade_forward", lambda bs, x, apply: [x] + exercises.ch2.solution_cascade_forward(bs, x, apply),
     "off by one"),
    ("ch2", "gain", lambda e, c: (e * c).sum(axis=(1, 2)) / (c * c).sum(axis=(1, 2)), "remove each image's mean"),
    ("ch2", "gain", lambda e, c: e.std(axis=(1, 2)) / c.std(axis=(1, 2)), "ratio of standard deviations"),
    ("ch2", "gain", lambda e, c: (_centred(e) * _centred(c)).sum(axis=(1, 2)) / (_centred(e) ** 2).sum(axis=(1, 2)),
     "regressed the clean image on the estimate"),
    ("ch3", "nearest_neighbours", lambda f, k: np.argsort(((f[:, None] - f[None]) ** 2).sum(-1), axis=1)[:, :k],
     "own nearest neighbour"),
    ("ch3", "nearest_neighbours", lambda f, k: np.argsort(((f[:, None] - f[None]) ** 2).sum(-1), axis=1)[:, :k + 1],
     "exclude the image itself"),
    ("ch3", "nearest_neighbours", lambda f, k: np.argsort(-((f[:, None] - f[None]) ** 2).sum(-1), axis=1)[:, :k],
     "farthest"),
    ("ch3", "neighbour_means", lambda x, idx: x[idx].sum(axis=1), "divide by k"),
    ("ch3", "neighbour_means", lambda x, idx: (x + x[idx].sum(axis=1)) / (idx.shape[1] + 1), "includes the image itself"),
    ("ch3", "neighbour_means", lambda x, idx: x[idx[:, 0]], "only the nearest neighbour"),
    ("ch3", "neighbour_purity", lambda idx, lab: (lab[idx] == lab[:, None]).sum(axis=1), "divide by k"),
    ("ch3", "neighbour_purity", lambda idx, lab: (lab[idx] != lab[:, None]).mean(axis=1), "impurity"),
    ("ch3", "neighbour_purity", lambda idx, lab: (lab[idx] == lab[:, None]).mean(), "one number"),
    ("ch4", "tune_on_training", lambda d, ps, x, c: ps[int(np.argmin([exercises.ch4.metrics.psnr(d(x, p), c).mean()
                                                                      for p in ps]))], "np.argmax"),
    ("ch4", "tune_on_training", lambda d, ps, x, c: max(exercises.ch4.metrics.psnr(d(x, p), c).mean() for p in ps),
     "you returned the best PSNR"),
    ("ch4", "tune_on_training", lambda d, ps, x, c: ps[int(np.argmax([exercises.ch4.metrics.psnr(d(x, p), x).mean()
                                                                      for p in ps]))], "against the noisy"),
    ("ch4", "background_sigma", lambda x, r: x.std(axis=(1, 2)), "whole image"),
    ("ch4", "background_sigma", lambda x, r: exercises.ch4.solution_background_sigma(x, r) ** 2, "variance"),
    ("ch4", "mean_and_sem", lambda v: (v.mean(), v.std(ddof=1)), "divided by sqrt(n)"),
    ("ch4", "mean_and_sem", lambda v: (v.mean(), v.std(ddof=1) / len(v)), "divided the standard deviation by n"),
    ("ch4", "mean_and_sem", lambda v: (v.mean(), v.std() / np.sqrt(len(v))), "ddof=1"),
    ("ch5", "matched_f1", lambda t, p: float(np.mean(t == p)), "cluster 0 need not be view 0"),
    ("ch5", "matched_f1", lambda t, p: exercises.ch5.metrics.matched_scores(t, p)["accuracy"], "macro"),
    ("ch5", "matched_f1", lambda t, p: exercises.ch5.metrics.pairwise_scores(t, p)["f1"], "pairwise"),
    ("ch5", "cluster_purity", lambda t, p: exercises.ch5._table(t, p).max(axis=1).sum() / len(t), "inverse purity"),
    ("ch5", "cluster_purity", lambda t, p: exercises.ch5._table(t, p).max(axis=0).sum(), "returned a count"),
    ("ch5", "cluster_purity", lambda t, p: np.mean(exercises.ch5._table(t, p).max(axis=0)
                                                   / exercises.ch5._table(t, p).sum(axis=0)), "averaged the clusters"),
    ("ch5", "class_means", lambda x, lab, k: np.stack([x[lab == c].sum(axis=0) for c in range(k)]), "summed"),
    ("ch5", "class_means", lambda x, lab, k: np.repeat(x.mean(axis=0)[None], k, axis=0), "images[labels == c]"),
    ("ch6", "normalise_background", lambda x, r: exercises.ch6.normalise(x), "only the background"),
    ("ch6", "normalise_background", lambda x, r: x - x[:, :2, :2].mean(axis=(1, 2), keepdims=True) * 0
     - x[:, exercises.ch6.np.hypot(*(np.indices(x.shape[1:]) - x.shape[-1] // 2)) > r].mean(axis=1)[:, None, None],
     "did not divide by its standard deviation"),
    ("ch6", "phase_flip_stack", lambda x, px, d: exercises.ch6.solution_phase_flip_stack(x, px, np.full_like(d, d[0])),
     "first particle's defocus"),
    ("ch6", "phase_flip_stack", lambda x, px, d: -exercises.ch6.solution_phase_flip_stack(x, px, d), "reversed"),
    ("ch6", "fix_polarity", lambda x: -x, "negated every stack"),
    ("ch6", "fix_polarity", lambda x: x, "never negated"),
    ("ch6", "fix_polarity", lambda x: x if exercises.ch6.particle_polarity(x)[0] == "dark" else -x, "reversed"),
    ("ch7", "fresh_noisy_batch", lambda c, s, r: exercises.ch7.solution_fresh_noisy_batch(c, s, np.random.default_rng(0)),
     "create the generator once"),
    ("ch7", "fresh_noisy_batch", lambda c, s, r: c + r.standard_normal(c.shape) * np.sqrt(c.var(axis=(1, 2)) * s)[:, None, None],
     "var(noise) = var(clean) / snr"),
    ("ch7", "log_uniform_snrs", lambda n, lo, hi, r: r.uniform(lo, hi, n), "uniform"),
    ("ch7", "log_uniform_snrs", lambda n, lo, hi, r: np.exp(r.uniform(lo, hi, n)), "exponentiated the bounds"),
    ("ch7", "affine_psnr", lambda e, c: exercises.ch7.metrics.psnr(e, c), "plain PSNR"),
    ("ch7", "affine_psnr", lambda e, c: exercises.ch7.metrics.psnr(
        e * ((e * c).sum(axis=(1, 2)) / (e * e).sum(axis=(1, 2)))[:, None, None], c), "no offset"),
]


@pytest.mark.parametrize("ch,name,answer,words", MISTAKES, ids=[f"{m[0]}.{m[1]}-{i}" for i, m in enumerate(MISTAKES)])
def test_a_typical_mistake_gets_its_specific_message(ch, name, answer, words):
    check, _ = EXERCISES[ch][name]
    result = check(answer)
    assert not result.passed, f"{ch}.{name}: a wrong answer passed ({result.message})"
    assert words in result.message, result.message


def test_every_check_has_at_least_two_typical_mistakes_tested():
    counts = {(ch, name): 0 for ch, name in ALL}
    for ch, name, *_ in MISTAKES:
        counts[(ch, name)] += 1
    assert {k: v for k, v in counts.items() if v < 2} == {}


# --- the chapters: every fill-in exercise has a check cell and an executed, checked solution ---

BOOK = Path(__file__).resolve().parents[1] / "book"


def chapter_path(ch: str) -> Path:
    return next(BOOK.glob(f"0{ch.removeprefix('ch')}_*.ipynb"))


def fill_ins(path: Path) -> list[dict]:
    """For each cell marked ``# YOUR CODE HERE``: the check the next code cell calls and whether a
    hidden cell after that calls the same check and asserts that it passed."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    found = []
    for i, c in enumerate(cells):
        if "# YOUR CODE HERE" not in "".join(c["source"]):
            continue
        nxt = "".join(cells[i + 1]["source"]) if i + 1 < len(cells) else ""
        m = re.search(r"\b(ch\d)\.check_(\w+)\(", nxt)
        sol = cells[i + 2] if i + 2 < len(cells) else {"source": [], "metadata": {}}
        sol_text = "".join(sol["source"])
        found.append({"check": m and (m.group(1), m.group(2)), "cell": i,
                      "solution_checked": bool(m) and f"{m.group(1)}.check_{m.group(2)}(" in sol_text
                      and "assert feedback.passed" in sol_text and "hide-cell" in sol["metadata"].get("tags", []),
                      "skeleton_raises": "raise NotImplementedError" in "".join(c["source"])})
    return found


@pytest.mark.parametrize("ch", sorted(EXERCISES))
def test_every_fill_in_of_a_chapter_has_a_check_and_a_checked_solution(ch):
    found = fill_ins(chapter_path(ch))
    assert found, f"{chapter_path(ch).name} has no fill-in exercise"
    bad = [f for f in found if not (f["check"] and f["solution_checked"] and f["skeleton_raises"])]
    assert bad == [], (f"{chapter_path(ch).name}: a fill-in cell (# YOUR CODE HERE) must raise NotImplementedError, be "
                       f"followed by a cell calling cdae_lite.exercises' check, then by a hidden solution cell that calls "
                       f"the same check and asserts feedback.passed: {bad}")
    called = {f["check"] for f in found}
    assert {c for c, _ in called} == {ch}, f"{chapter_path(ch).name} calls another chapter's checks: {called}"
    assert {n for _, n in called} == set(EXERCISES[ch]), (
        f"{chapter_path(ch).name}: exercises of cdae_lite.exercises.{ch} without a cell, or cells without a check: "
        f"{sorted({n for _, n in called} ^ set(EXERCISES[ch]))}")


def test_the_chapter_check_finds_a_fill_in_without_a_check(tmp_path):
    skeleton = {"cell_type": "code", "metadata": {}, "source": ["def f():\n", "    # YOUR CODE HERE\n",
                                                                 "    raise NotImplementedError"]}
    other = {"cell_type": "code", "metadata": {}, "source": ["print(1)"]}
    path = tmp_path / "09_x.ipynb"
    path.write_text(json.dumps({"cells": [skeleton, other, other]}))
    assert fill_ins(path) == [{"check": None, "cell": 0, "solution_checked": False, "skeleton_raises": True}]
