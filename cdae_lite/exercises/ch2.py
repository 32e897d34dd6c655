"""Chapter 2 (single DAE vs cascade): PSNR, the cascade's forward pass, the contrast gain.

Each exercise has a reference solution ``solution_<name>`` and a check ``check_<name>``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from cdae_lite import metrics
from cdae_lite.exercises.feedback import (Feedback, as_array, call, checked, exercises, ok, per_image, rule_out,
                                          toy_stack, wrong)


def solution_psnr(estimate: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """PSNR of each image in dB, measured against the clean image and its range.

    Parameters
    ----------
    estimate, clean : numpy.ndarray
        Shape (n, size, size).

    Returns
    -------
    numpy.ndarray
        float64, shape (n,): ``10 log10(range(clean)^2 / MSE)`` per image.
    """
    data_range = clean.max(axis=(1, 2)) - clean.min(axis=(1, 2))
    mse = ((estimate.astype(np.float64) - clean) ** 2).mean(axis=(1, 2))
    return 10 * np.log10(data_range**2 / mse)


def _estimate_pair(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    clean, _ = toy_stack(n, 32, seed=3)
    clean = clean + 2.0  # an offset, so that max and max - min differ
    noise = np.random.default_rng(3).normal(size=clean.shape) * 0.3
    return (0.8 * clean + 0.4 + noise).astype(np.float32), clean


@checked
def check_psnr(psnr: Callable) -> Feedback:
    """Check a student's ``psnr(estimate, clean)`` on 8 toy images against ``cdae_lite.metrics.psnr``."""
    est, clean = _estimate_pair()
    got = call(psnr, est.copy(), clean.copy())
    got = per_image(got, len(est), "the PSNR",
                    "you returned one number for the whole stack: compute the MSE and the range per image "
                    "(.mean(axis=(1, 2)), .max(axis=(1, 2))) and return one PSNR per image")
    e, c = est.astype(np.float64), clean.astype(np.float64)
    mse = ((e - c) ** 2).mean(axis=(1, 2))
    rng_c, rng_e = np.ptp(c, axis=(1, 2)), np.ptp(e, axis=(1, 2))
    rule_out(got, {
        "your PSNR uses the estimate's range; PSNR is measured against the clean image: "
        "data range = clean.max() - clean.min() of each image": 10 * np.log10(rng_e**2 / mse),
        "20 log10 goes with amplitudes (range / RMSE); with range**2 / MSE use 10 log10": 20 * np.log10(rng_c**2 / mse),
        "you divided the range by the MSE without squaring the range (or took the RMSE under 10 log10): "
        "PSNR = 10 log10(range**2 / MSE)": 10 * np.log10(rng_c / np.sqrt(mse)),
        "you used the natural logarithm; decibels use log10": 10 * np.log(rng_c**2 / mse),
        "you assumed a data range of 1; the range is each clean image's max - min": 10 * np.log10(1 / mse),
        "you used the clean image's maximum as the range; the range is max - min (the images have an offset)":
            10 * np.log10(c.max(axis=(1, 2)) ** 2 / mse),
        "you measured the error against the estimate's own mean or swapped a term: the MSE is "
        "mean((estimate - clean)**2) per image": 10 * np.log10(rng_c**2 / e.var(axis=(1, 2))),
    })
    want = metrics.psnr(est, clean)
    if not np.allclose(got, want, atol=1e-3):
        return wrong(f"your PSNR of image 0 is {got[0]:.2f} dB, metrics.psnr gives {want[0]:.2f} dB: "
                     "10 log10(range(clean)**2 / mean((estimate - clean)**2)), per image")
    return ok(f"mean PSNR {got.mean():.2f} dB over {len(got)} images, as metrics.psnr")


def solution_cascade_forward(blocks: list, x, apply: Callable) -> list:
    """The output after each block of a cascade: block ``b`` takes block ``b - 1``'s output.

    Parameters
    ----------
    blocks : list
        The cascade's blocks, in order (e.g. ``model.blocks``).
    x : numpy.ndarray
        The noisy input, shape (n, size, size).
    apply : callable
        ``apply(block, images) -> images`` (e.g. ``cdae_lite.denoise.predict``).

    Returns
    -------
    list of numpy.ndarray
        One output per block, each of shape (n, size, size).
    """
    outputs, cur = [], x
    for block in blocks:
        cur = apply(block, cur)
        outputs.append(cur)
    return outputs


@checked
def check_cascade_forward(cascade_forward: Callable) -> Feedback:
    """Check a student's ``cascade_forward(blocks, x, apply)`` on three toy blocks that do not commute."""
    blocks = [lambda v: 2 * v, lambda v: v + 1, lambda v: v**2]
    x = np.random.default_rng(4).normal(size=(2, 4, 4))
    calls = []

    def apply(block, images):
        calls.append(block)
        return block(np.asarray(images))

    out = call(cascade_forward, blocks, x.copy(), apply)
    if not isinstance(out, (list, tuple)):
        return wrong("return a list with one output per block (outputs.append(...) inside the loop), "
                     "not only the last output")
    if len(out) == len(blocks) + 1:
        return wrong("off by one: return one output per block, without the input")
    if len(out) != len(blocks):
        return wrong(f"you returned {len(out)} outputs for {len(blocks)} blocks: one per block")
    got = np.stack([as_array(o, x.shape, f"output {i + 1}") for i, o in enumerate(out)])
    want = np.stack(solution_cascade_forward(blocks, x, lambda b, v: b(v)))
    rule_out(got, {
        "each block got the noisy input; in a cascade block b takes block b - 1's output "
        "(cur = apply(block, cur))": np.stack([b(x) for b in blocks]),
        "you ran the blocks in reverse order; block 1 comes first": np.stack(
            solution_cascade_forward(blocks[::-1], x, lambda b, v: b(v))),
    })
    if not np.allclose(got, want):
        return wrong("the outputs differ from chaining the blocks: cur = x; for each block, "
                     "cur = apply(block, cur) and keep cur")
    return ok(f"{len(out)} outputs, block by block ({len(calls)} calls to apply)")


def solution_gain(estimate: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Contrast gain of each image: the least-squares slope of the estimate on the clean image.

    Takes and gives what :func:`solution_psnr` does; per image ``sum((e - mean e)(c - mean c)) / sum((c - mean c)^2)``.
    """
    e = estimate - estimate.mean(axis=(1, 2), keepdims=True)
    c = clean - clean.mean(axis=(1, 2), keepdims=True)
    return (e * c).sum(axis=(1, 2)) / (c * c).sum(axis=(1, 2))


@checked
def check_gain(gain: Callable) -> Feedback:
    """Check a student's ``gain(estimate, clean)`` against ``cdae_lite.metrics.gain``."""
    est, clean = _estimate_pair()
    est = (0.6 * clean + 2.0 + (est - 0.8 * clean - 0.4)).astype(np.float32)  # gain 0.6, offset 2, noise
    got = call(gain, est.copy(), clean.copy())
    got = per_image(got, len(est), "the gain",
                    "you returned one number for the whole stack: sum over each image's pixels "
                    "(axis=(1, 2)) and return one gain per image")
    e, c = est.astype(np.float64), clean.astype(np.float64)
    ec, cc = e - e.mean(axis=(1, 2), keepdims=True), c - c.mean(axis=(1, 2), keepdims=True)
    rule_out(got, {
        "you regressed the clean image on the estimate; the gain is the slope of the estimate on the clean "
        "image: divide by sum(clean_centred**2)": (ec * cc).sum(axis=(1, 2)) / (ec * ec).sum(axis=(1, 2)),
        "you did not remove each image's mean: an offset then counts as contrast; centre both images first":
            (e * c).sum(axis=(1, 2)) / (c * c).sum(axis=(1, 2)),
        "a ratio of standard deviations counts noise as contrast and ignores the correlation; use the "
        "least-squares slope": e.std(axis=(1, 2)) / c.std(axis=(1, 2)),
    }, rtol=1e-3)
    want = metrics.gain(est, clean)
    if not np.allclose(got, want, atol=1e-4):
        return wrong(f"gain of image 0 {got[0]:.3f}, metrics.gain gives {want[0]:.3f}: "
                     "sum(e_c * c_c) / sum(c_c**2) with both images centred")
    return ok(f"gain {got.mean():.3f} on images made with a contrast of 0.6, as metrics.gain")


EXERCISES = exercises(globals(), "psnr", "cascade_forward", "gain")
