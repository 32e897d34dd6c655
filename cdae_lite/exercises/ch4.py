"""Chapter 4 (baselines): tuning a baseline on the training data only, estimating the noise level
from the background, reporting a mean with its standard error.

Each exercise has a reference solution ``solution_<name>`` and a check ``check_<name>``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter

from cdae_lite import metrics
from cdae_lite.exercises.feedback import Feedback, call, checked, exercises, ok, per_image, rule_out, toy_stack, wrong


def solution_tune_on_training(denoise: Callable, params: Sequence[float], noisy: np.ndarray,
                              clean: np.ndarray) -> float:
    """The parameter of ``denoise`` with the highest mean PSNR on the training images.

    Parameters
    ----------
    denoise : callable
        ``denoise(images, param) -> images`` (e.g. a Gaussian filter of width ``param`` pixels).
    params : sequence of float
        Candidate values.
    noisy, clean : numpy.ndarray
        Training images (never the test protein's), shape (n, size, size).

    Returns
    -------
    float
        The best parameter (one of ``params``).
    """
    scores = [metrics.psnr(denoise(noisy, p), clean).mean() for p in params]
    return params[int(np.argmax(scores))]


def gaussian_denoise(images: np.ndarray, width_px: float) -> np.ndarray:
    """A Gaussian low-pass filter of each image, the baseline tuned in the exercise.

    Parameters
    ----------
    images : numpy.ndarray
        Shape (n, size, size).
    width_px : float
        Standard deviation of the Gaussian, pixels.

    Returns
    -------
    numpy.ndarray
        float32, shape (n, size, size).
    """
    return gaussian_filter(np.asarray(images, np.float32), (0, width_px, width_px))


@checked
def check_tune_on_training(tune_on_training: Callable) -> Feedback:
    """Check a student's ``tune_on_training(denoise, params, noisy, clean)`` with a Gaussian filter."""
    clean, _ = toy_stack(12, 32, seed=8)
    noisy = (clean + np.random.default_rng(8).normal(size=clean.shape) * 0.6).astype(np.float32)
    params = [1.0, 2.0, 3.0, 6.0, 30.0]
    got = call(tune_on_training, gaussian_denoise, list(params), noisy.copy(), clean.copy())
    scores = np.array([metrics.psnr(gaussian_denoise(noisy, p), clean).mean() for p in params])
    vs_noisy = np.array([metrics.psnr(gaussian_denoise(noisy, p), noisy).mean() for p in params])
    best = params[int(np.argmax(scores))]
    if isinstance(got, (tuple, list, np.ndarray)) and np.size(got) != 1:
        return wrong("return only the best parameter (one number), not the scores or a tuple")
    got = float(np.asarray(got).ravel()[0])
    if np.isclose(got, scores.max(), atol=1e-3):
        return wrong("you returned the best PSNR; return the parameter that gives it, params[argmax]")
    if got == int(np.argmax(scores)) and got not in params:
        return wrong("you returned the index of the best parameter; return params[index]")
    if np.isclose(got, params[int(np.argmin(scores))]):
        return wrong("you picked the lowest PSNR: PSNR is higher for better estimates, use np.argmax")
    if got != best and np.isclose(got, params[int(np.argmax(vs_noisy))]):
        return wrong("you scored the outputs against the noisy images, which rewards doing nothing; "
                     "score them against the clean training images")
    if not np.isclose(got, best):
        return wrong(f"you chose {got:g}; the mean PSNR over the training images is highest at {best:g}: "
                     "compare metrics.psnr(denoise(noisy, p), clean).mean() across params")
    return ok(f"width {best:g} px, mean PSNR {scores.max():.2f} dB on the training images; apply it unchanged "
              "to the test images")


def solution_background_sigma(noisy: np.ndarray, radius_px: float) -> np.ndarray:
    """Noise level of each image from its background: the standard deviation outside a circle.

    Parameters
    ----------
    noisy : numpy.ndarray
        Shape (n, size, size), particles centred.
    radius_px : float
        Radius of the circle that holds the particle, pixels from the box centre ``size // 2``.

    Returns
    -------
    numpy.ndarray
        float64, shape (n,).
    """
    size = noisy.shape[-1]
    yy, xx = np.indices((size, size)) - size // 2
    outside = np.hypot(yy, xx) > radius_px
    return noisy[:, outside].std(axis=1)


@checked
def check_background_sigma(background_sigma: Callable) -> Feedback:
    """Check a student's ``background_sigma(noisy, radius_px)`` on toy particles with known noise."""
    clean, _ = toy_stack(10, 48, seed=9)
    clean = 4 * (clean - clean[:, :2, :2].mean(axis=(1, 2), keepdims=True))  # a strong particle, zero background
    sigma = np.linspace(0.4, 0.8, len(clean))
    noisy = (clean + np.random.default_rng(9).normal(size=clean.shape) * sigma[:, None, None]).astype(np.float32)
    radius = 20.0
    out = call(background_sigma, noisy.copy(), radius)
    got = per_image(out, len(noisy), "the noise levels",
                    "you returned one number; estimate each image's noise level (std over axis 1 of "
                    "noisy[:, outside])")
    want = solution_background_sigma(noisy, radius)
    yy, xx = np.indices(noisy.shape[1:]) - noisy.shape[-1] // 2
    inside = np.hypot(yy, xx) <= radius
    rule_out(got, {
        "you used the whole image: the particle's own variation inflates the estimate; use only the "
        "pixels outside the radius": noisy.std(axis=(1, 2)),
        "you used the pixels inside the circle, where the particle is; the background is outside":
            noisy[:, inside].std(axis=1),
        "you returned the variance; the noise level sigma is its square root (.std)": want**2,
    }, rtol=0.02)
    if not np.allclose(got, want, rtol=0.03):
        return wrong("your estimates differ from the standard deviation of the pixels farther than radius_px "
                     "from the centre (np.hypot(yy, xx) > radius_px)")
    return ok(f"estimated sigma / true sigma: {np.median(got / sigma):.3f} (median over {len(got)} images)")


def solution_mean_and_sem(values: np.ndarray) -> tuple[float, float]:
    """Mean of per-image scores and its standard error.

    Parameters
    ----------
    values : numpy.ndarray
        Shape (n,), e.g. one PSNR per test image, dB.

    Returns
    -------
    (float, float)
        The mean and ``std(ddof=1) / sqrt(n)``.
    """
    v = np.asarray(values, np.float64)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v)))


@checked
def check_mean_and_sem(mean_and_sem: Callable) -> Feedback:
    """Check a student's ``mean_and_sem(values)`` on 5 PSNR values."""
    v = np.array([21.3, 22.9, 20.4, 23.8, 22.1])
    out = call(mean_and_sem, v.copy())
    if np.size(out) != 2:
        return wrong("return two numbers, (mean, standard error)")
    m, s = (float(np.asarray(x).ravel()[0]) for x in out)
    if not np.isclose(m, v.mean()):
        return wrong(f"the mean is {v.mean():.3f}, you returned {m:.3f}")
    n = len(v)
    rule_out(np.array([s]), {
        "you returned the standard deviation of the values; the standard error of their mean is that "
        "divided by sqrt(n)": np.array([v.std(ddof=1)]),
        "you returned the standard deviation with ddof=0; the standard error is std(ddof=1) / sqrt(n)":
            np.array([v.std()]),
        "you divided the standard deviation by n; the standard error divides it by sqrt(n)":
            np.array([v.std(ddof=1) / n]),
        "use the sample standard deviation (ddof=1) in the standard error: with 5 images the difference is 12 %":
            np.array([v.std() / np.sqrt(n)]),
    }, rtol=1e-4)
    want = v.std(ddof=1) / np.sqrt(n)
    if not np.isclose(s, want, rtol=1e-4):
        return wrong(f"the standard error is {want:.3f}, you returned {s:.3f}: std(ddof=1) / sqrt(n)")
    return ok(f"{m:.2f} +- {s:.2f} dB (mean +- standard error over {n} images)")


EXERCISES = exercises(globals(), "tune_on_training", "background_sigma", "mean_and_sem")
