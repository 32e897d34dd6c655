"""Chapter 6 (real particles): background normalisation, phase flipping with each particle's own
defocus, polarity.

Each exercise has a reference solution ``solution_<name>`` and a check ``check_<name>``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from cdae_lite.exercises.ch1 import ctf_stack, flip_mistakes
from cdae_lite.exercises.feedback import Feedback, as_array, call, checked, exercises, ok, rule_out, toy_stack, wrong
from cdae_lite.images import normalise, normalize_background, particle_polarity
from cdae_lite.simulation import ctf_2d, phase_flip


def solution_normalise_background(images: np.ndarray, radius_px: float) -> np.ndarray:
    """Each image to zero mean and unit standard deviation *of its background* (outside a circle).

    ``images`` (n, size, size) and ``radius_px`` as in :func:`cdae_lite.exercises.ch4.solution_background_sigma`;
    returns the normalised stack, same shape.
    """
    size = images.shape[-1]
    yy, xx = np.indices((size, size)) - size // 2
    bg = np.hypot(yy, xx) > radius_px
    mean = images[:, bg].mean(axis=1)[:, None, None]
    std = images[:, bg].std(axis=1)[:, None, None]
    return (images - mean) / std


def _raw_particles() -> tuple[np.ndarray, float]:
    clean, _ = toy_stack(8, 40, seed=12)
    rng = np.random.default_rng(12)
    scale = rng.uniform(0.5, 3.0, (8, 1, 1))  # each micrograph its own gain and offset
    x = (clean - 1.5 * clean.mean() + rng.normal(size=clean.shape) * 0.4) * scale + rng.uniform(-5, 5, (8, 1, 1))
    return x.astype(np.float32), 16.0


@checked
def check_normalise_background(normalise_background: Callable) -> Feedback:
    """Check a student's ``normalise_background(images, radius_px)`` against
    ``cdae_lite.images.normalize_background``."""
    x, radius = _raw_particles()
    got = as_array(call(normalise_background, x.copy(), radius), x.shape, "the normalised images")
    want = normalize_background(x, radius)
    size = x.shape[-1]
    yy, xx = np.indices((size, size)) - size // 2
    bg = np.hypot(yy, xx) > radius
    x64 = x.astype(np.float64)
    rule_out(got, {
        "you normalised with the whole image's mean and standard deviation, which depend on the particle; "
        "use only the background, the pixels outside radius_px": normalise(x),
        "you used the pixels inside the circle (the particle); the background is outside it":
            (x64 - x64[:, ~bg].mean(1)[:, None, None]) / x64[:, ~bg].std(1)[:, None, None],
        "you subtracted the background's mean but did not divide by its standard deviation":
            x64 - x64[:, bg].mean(1)[:, None, None],
        "one mean and standard deviation for the whole stack; each particle comes with its own gain and "
        "offset, so normalise image by image (axis=1 of images[:, background])":
            (x64 - x64[:, bg].mean()) / x64[:, bg].std(),
    }, rtol=1e-3)
    if not np.allclose(got, want, atol=1e-3):
        return wrong("the result differs from (image - mean of background) / std of background, per image, "
                     "with the background = pixels farther than radius_px from (size // 2, size // 2)")
    return ok(f"background mean {got[:, bg].mean():+.1e}, std {got[:, bg].std(axis=1).mean():.3f} per image, "
              "as images.normalize_background")


def solution_phase_flip_stack(images: np.ndarray, pixel_size_A: float, defocus_A: np.ndarray) -> np.ndarray:
    """Phase-flip each particle with its own defocus (300 kV, Cs 2.7 mm, amplitude contrast 0.1).

    Parameters
    ----------
    images : numpy.ndarray
        Shape (n, size, size).
    pixel_size_A : float
        Pixel size, Angstrom.
    defocus_A : numpy.ndarray
        Shape (n,), each particle's defocus in Angstrom.

    Returns
    -------
    numpy.ndarray
        Shape (n, size, size), real.
    """
    ctf = ctf_2d(images.shape[-1], pixel_size_A, defocus_A).numpy()  # (n, size, size), centred
    flip = np.fft.ifftshift(np.sign(ctf), axes=(-2, -1))
    return np.fft.ifft2(np.fft.fft2(images) * flip).real


@checked
def check_phase_flip_stack(phase_flip_stack: Callable) -> Feedback:
    """Check a student's ``phase_flip_stack(images, pixel_size_A, defocus_A)`` on 6 toy particles with
    defoci from 1 to 2.5 um, against ``cdae_lite.simulation.phase_flip``."""
    px = 3.0
    defocus = np.linspace(10000.0, 25000.0, 6)
    images, ctf = ctf_stack(6, 32, px, defocus)
    got = as_array(call(phase_flip_stack, images.copy(), px, defocus.copy()), images.shape, "the flipped images")
    first = np.repeat(ctf[:1], len(ctf), axis=0)
    ft = np.fft.fft2(images)
    rule_out(got, {
        "every particle was flipped with the first particle's defocus; each has its own, pass the whole "
        "defocus_A array to ctf_2d (one CTF per image)":
            np.fft.ifft2(ft * np.fft.ifftshift(np.sign(first), axes=(-2, -1))).real,
        **flip_mistakes(images, ctf),
    }, rtol=1e-3)
    want = phase_flip(images.astype(np.float32), px, defocus_u_A=defocus)
    if not np.allclose(got, want, atol=1e-3 * np.abs(want).max()):
        return wrong("the result differs from simulation.phase_flip(images, pixel_size_A, defocus_u_A=defocus_A): "
                     "multiply each image's fft2 by ifftshift(sign(its CTF)) and keep the real part")
    return ok(f"{len(images)} particles flipped with their own defocus ({defocus.min() / 1e4:g}-"
              f"{defocus.max() / 1e4:g} um), as simulation.phase_flip")


def solution_fix_polarity(images: np.ndarray) -> np.ndarray:
    """Negate a stack of dark particles so that a model trained on bright ones can read them.

    Parameters
    ----------
    images : numpy.ndarray
        Shape (n, size, size), particles centred.

    Returns
    -------
    numpy.ndarray
        Shape (n, size, size): ``-images`` when the particles are darker than the background,
        ``images`` otherwise.
    """
    polarity, _ = particle_polarity(images)
    return -images if polarity == "dark" else images


@checked
def check_fix_polarity(fix_polarity: Callable) -> Feedback:
    """Check a student's ``fix_polarity(images)`` on a stack of dark and one of bright particles."""
    clean, _ = toy_stack(8, 32, seed=13)
    bright = (clean + np.random.default_rng(13).normal(size=clean.shape)).astype(np.float32)
    dark = -bright
    got_dark = as_array(call(fix_polarity, dark.copy()), dark.shape, "the dark stack's result")
    got_bright = as_array(call(fix_polarity, bright.copy()), bright.shape, "the bright stack's result")
    flipped = (np.allclose(got_dark, bright), np.allclose(got_bright, dark))
    if flipped == (True, True):
        return wrong("you negated every stack; negate only dark particles (particle_polarity(images)[0] == 'dark')")
    if np.allclose(got_dark, dark) and np.allclose(got_bright, bright):
        return wrong("you never negated: dark particles (the usual raw cryo-EM contrast) must be negated")
    if np.allclose(got_dark, dark) and flipped[1]:
        return wrong("your test is reversed: you negated the bright stack and kept the dark one")
    if not (flipped[0] and np.allclose(got_bright, bright)):
        return wrong("return -images for dark particles and images unchanged for bright ones; do not rescale them")
    return ok(f"dark stack negated (score {particle_polarity(dark)[1]:+.2f} background standard deviations), "
              "bright stack unchanged")


EXERCISES = exercises(globals(), "normalise_background", "phase_flip_stack", "fix_polarity")
