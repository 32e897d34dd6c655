"""Chapter 7 (a general denoiser): fresh-noise batches, log-uniform SNRs, the affine-fitted PSNR.

Each exercise has a reference solution ``solution_<name>`` and a check ``check_<name>``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from cdae_lite import metrics
from cdae_lite.exercises.ch1 import noise_level_mistake
from cdae_lite.exercises.feedback import (Feedback, as_array, call, checked, exercises, ok, per_image, rule_out,
                                          toy_stack, wrong)


def solution_fresh_noisy_batch(clean: np.ndarray, snr: float, rng: np.random.Generator) -> np.ndarray:
    """Noisy copies of clean training images, with new noise at every call.

    Parameters
    ----------
    clean : numpy.ndarray
        Shape (n, size, size): a batch of clean images.
    snr : float
        SNR of the noisy copies (variance definition).
    rng : numpy.random.Generator
        Created once, outside, so that each call draws new noise.

    Returns
    -------
    numpy.ndarray
        float32, shape (n, size, size).
    """
    sigma = np.sqrt(clean.var(axis=(1, 2)) / snr)
    return (clean + rng.standard_normal(clean.shape) * sigma[:, None, None]).astype(np.float32)


@checked
def check_fresh_noisy_batch(fresh_noisy_batch: Callable) -> Feedback:
    """Check a student's ``fresh_noisy_batch(clean, snr, rng)``: called twice with one generator, it
    must give the requested SNR and two different noise draws."""
    clean, _ = toy_stack(16, 32, seed=14)
    snr, rng = 0.2, np.random.default_rng(14)
    first = as_array(call(fresh_noisy_batch, clean.copy(), snr, rng), clean.shape, "the first batch")
    second = as_array(call(fresh_noisy_batch, clean.copy(), snr, rng), clean.shape, "the second batch")
    if np.allclose(first, second):
        return wrong("two calls gave the same noise: the network would see the same noisy images again and "
                     "could learn their noise; create the generator once, outside the function, and draw from it "
                     "(do not call np.random.default_rng(seed) inside)")
    for batch in (first, second):
        mistake = noise_level_mistake(clean, batch, snr)
        if mistake:
            return wrong(mistake)
    corr = np.corrcoef((first - clean).ravel(), (second - clean).ravel())[0, 1]
    return ok(f"two batches at SNR {snr:g}, noise correlation between them {corr:+.3f} (fresh)")


def solution_log_uniform_snrs(n: int, lo: float, hi: float, rng: np.random.Generator) -> np.ndarray:
    """SNRs drawn log-uniformly in ``[lo, hi]``, as the general denoiser's recipe draws them.

    Parameters
    ----------
    n : int
        Number of values.
    lo, hi : float
        Bounds, ``0 < lo < hi``.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        float64, shape (n,).
    """
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


@checked
def check_log_uniform_snrs(log_uniform_snrs: Callable) -> Feedback:
    """Check a student's ``log_uniform_snrs(n, lo, hi, rng)`` on 20,000 draws in [0.02, 0.3]."""
    n, lo, hi = 20000, 0.02, 0.3
    got = as_array(call(log_uniform_snrs, n, lo, hi, np.random.default_rng(15)), (n,), "the SNRs")
    if got.min() < lo * 0.999 or got.max() > hi * 1.001:
        if got.min() > 1:
            return wrong("your values lie outside [lo, hi]: you exponentiated the bounds themselves; draw "
                         "u uniformly between np.log(lo) and np.log(hi), then return np.exp(u)")
        return wrong(f"your values span {got.min():.3g}-{got.max():.3g}, outside [{lo:g}, {hi:g}]: draw "
                     "uniformly between np.log(lo) and np.log(hi), then exponentiate with np.exp "
                     "(10 ** u needs np.log10 bounds)")
    median, geometric = float(np.median(got)), float(np.sqrt(lo * hi))
    if abs(median / ((lo + hi) / 2) - 1) < 0.05:
        return wrong(f"your SNRs are uniform (median {median:.3f}, the middle of the range); log-uniform puts "
                     f"as many values between {lo:g} and {geometric:.3f} as between {geometric:.3f} and {hi:g}: "
                     "draw the logarithm uniformly")
    if abs(median / geometric - 1) > 0.05:
        return wrong(f"the median is {median:.3f}; a log-uniform draw has its median at sqrt(lo * hi) = "
                     f"{geometric:.3f}")
    return ok(f"median {median:.4f} (sqrt(lo * hi) = {geometric:.4f}); as many SNRs below it as above, "
              "so low and high noise are trained equally in log scale")


def solution_affine_psnr(estimate: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """PSNR after the best affine map ``a * estimate + b`` of each image onto the clean one.

    Takes and gives what :func:`cdae_lite.exercises.ch2.solution_psnr` does: dB per image, with the clean image's
    range.
    """
    e = (estimate - estimate.mean(axis=(1, 2), keepdims=True)).astype(np.float64)
    c = (clean - clean.mean(axis=(1, 2), keepdims=True)).astype(np.float64)
    a = (e * c).sum(axis=(1, 2)) / (e * e).sum(axis=(1, 2))  # least squares of clean on estimate
    mse = ((a[:, None, None] * e - c) ** 2).mean(axis=(1, 2))
    data_range = clean.max(axis=(1, 2)) - clean.min(axis=(1, 2))
    return 10 * np.log10(data_range**2 / mse)


def _slope(e: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Least-squares slope of centred clean images ``c`` on centred estimates ``e``; (n,)."""
    return (e * c).sum(axis=(1, 2)) / (e * e).sum(axis=(1, 2))


@checked
def check_affine_psnr(affine_psnr: Callable) -> Feedback:
    """Check a student's ``affine_psnr(estimate, clean)`` against ``cdae_lite.metrics.affine_psnr``."""
    clean, _ = toy_stack(8, 32, seed=16)
    clean = clean.astype(np.float64)
    est = 0.4 * clean - 1.0 + np.random.default_rng(16).normal(size=clean.shape) * 0.15
    out = call(affine_psnr, est.copy(), clean.copy())
    got = per_image(out, len(clean), "the affine-fitted PSNR",
                    "you returned one number; fit a and b and compute the PSNR for each image")
    e = est - est.mean(axis=(1, 2), keepdims=True)
    c = clean - clean.mean(axis=(1, 2), keepdims=True)
    rng_c = np.ptp(clean, axis=(1, 2))

    def db(data_range: np.ndarray, fitted: np.ndarray, target: np.ndarray) -> np.ndarray:
        return 10 * np.log10(data_range**2 / ((fitted - target) ** 2).mean(axis=(1, 2)))

    wrong_way = (e * c).sum(axis=(1, 2)) / (c * c).sum(axis=(1, 2))
    a0 = (est * clean).sum(axis=(1, 2)) / (est * est).sum(axis=(1, 2))
    rule_out(got, {
        "you computed the plain PSNR; the affine-fitted PSNR first maps the estimate onto the clean image "
        "with the least-squares a and b": metrics.psnr(est, clean),
        "you fitted the estimate on the clean image (the gain); fit the clean image on the estimate: "
        "a = sum(e_c * c_c) / sum(e_c**2)": db(rng_c, wrong_way[:, None, None] * e, c),
        "your fit has no offset b: centre both images (subtract each one's mean) before fitting a":
            db(rng_c, a0[:, None, None] * est, clean),
        "you used the estimate's range; the range is the clean image's max - min":
            db(np.ptp(est, axis=(1, 2)), _slope(e, c)[:, None, None] * e, c),
    }, rtol=1e-4)
    want = metrics.affine_psnr(est, clean)
    if not np.allclose(got, want, atol=1e-3):
        return wrong(f"image 0: you get {got[0]:.2f} dB, metrics.affine_psnr gives {want[0]:.2f} dB")
    plain = metrics.psnr(est, clean).mean()
    return ok(f"affine-fitted PSNR {got.mean():.2f} dB against a plain PSNR of {plain:.2f} dB on estimates with "
              "a contrast of 0.4 and an offset: the fit forgives contrast and offset, not structure")


EXERCISES = exercises(globals(), "fresh_noisy_batch", "log_uniform_snrs", "affine_psnr")
