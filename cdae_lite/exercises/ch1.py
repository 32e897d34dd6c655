"""Chapter 1 (simulation): noise at a stated SNR, a projection as a sum, the first zero of the CTF,
phase flipping.

Each exercise has a reference solution ``solution_<name>`` and a check ``check_<name>`` that runs a
student's function on small data and returns a :class:`~cdae_lite.exercises.feedback.Feedback`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from cdae_lite.exercises.feedback import Feedback, as_array, call, checked, exercises, ok, rule_out, toy_stack, wrong
from cdae_lite.simulation import ctf_1d, ctf_2d, measure_snr
from cdae_lite.simulation.ctf import electron_wavelength_A


def solution_noisy_at_snr(clean: np.ndarray, snr: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise so that each image has ``var(clean) / var(noise) = snr``.

    Parameters
    ----------
    clean : numpy.ndarray
        Clean images, shape (n, size, size).
    snr : float
        Requested signal-to-noise ratio (variance definition), > 0.
    rng : numpy.random.Generator
        Source of the noise.

    Returns
    -------
    numpy.ndarray
        float32, shape (n, size, size): the noisy images.
    """
    sigma = np.sqrt(clean.var(axis=(1, 2)) / snr)  # one noise level per image
    return (clean + rng.standard_normal(clean.shape) * sigma[:, None, None]).astype(np.float32)


def noise_level_mistake(clean: np.ndarray, noisy: np.ndarray, snr: float) -> str | None:
    """What is wrong with the noise of ``noisy``, or None when each image has the requested SNR.

    Parameters
    ----------
    clean, noisy : numpy.ndarray
        Shape (n, size, size); ``noisy`` is the student's answer for ``clean`` at ``snr``.
    snr : float
        The requested SNR.

    Returns
    -------
    str or None
        The message naming the mistake.
    """
    var = clean.astype(np.float64).var(axis=(1, 2))
    noise = noisy - clean
    if np.allclose(noise, 0, atol=1e-6):
        return "the images came back unchanged: add the noise to the clean images"
    flat_in = clean.reshape(len(clean), -1)
    corr = [np.corrcoef(a, b)[0, 1] for a, b in zip(noisy.reshape(len(noisy), -1), flat_in)]
    if np.median(np.abs(corr)) < 0.05:
        return "your output is uncorrelated with the clean image: return clean + noise, not the noise alone"
    flat = noise.reshape(len(noise), -1)
    if len(noise) > 1 and np.corrcoef(flat[0] - flat[0].mean(), flat[1] - flat[1].mean())[0, 1] > 0.9:
        return ("every image has the same noise pattern: draw noise of the stack's full shape, "
                "rng.standard_normal(clean.shape), not of one image")
    got = flat.std(axis=1)
    want = np.sqrt(var / snr)
    if np.all(np.abs(got / want - 1) < 0.1):
        return None
    candidates = {
        "your noise is far too weak: SNR = var(signal) / var(noise), so var(noise) = var(clean) / snr "
        "(you multiplied by snr)": np.sqrt(var * snr),
        "you scaled the noise by the variance, var(clean) / snr; rng.standard_normal has standard deviation 1, "
        "so multiply it by the standard deviation, np.sqrt(var(clean) / snr)": var / snr,
        "you divided the standard deviation by snr; the SNR is a ratio of variances: divide the variance by "
        "snr, then take the square root": np.sqrt(var) / snr,
        "your noise ignores the image's variance: the noise level depends on the signal, "
        "sigma = np.sqrt(clean.var(axis=(1, 2)) / snr)": np.full_like(var, np.sqrt(1 / snr)),
        "one noise level for the whole stack: images with little variance now have a lower SNR than asked; "
        "compute each image's variance, clean.var(axis=(1, 2))": np.full_like(var, np.sqrt(var.mean() / snr)),
        "one noise level for the whole stack (clean.var() mixes all images): images with little variance now "
        "have a lower SNR than asked; compute each image's variance, clean.var(axis=(1, 2))":
            np.full_like(var, np.sqrt(clean.astype(np.float64).var() / snr)),
    }
    for message, sigma in candidates.items():
        if np.all(np.abs(got / sigma - 1) < 0.1):
            return message
    return (f"the noise's standard deviation is {np.median(got / want):.3g} times the one the SNR asks for; "
            "sigma of image i must be np.sqrt(var(clean_i) / snr)")


@checked
def check_noisy_at_snr(noisy_at_snr: Callable) -> Feedback:
    """Check a student's ``noisy_at_snr(clean, snr, rng)`` on 16 toy images at SNR 0.1."""
    clean, _ = toy_stack(16, 32, seed=1)
    snr = 0.1
    noisy = as_array(call(noisy_at_snr, clean, snr, np.random.default_rng(0)), clean.shape, "the noisy stack")
    mistake = noise_level_mistake(clean, noisy, snr)
    if mistake:
        return wrong(mistake)
    measured = measure_snr(clean, noisy)
    return ok(f"measured SNR {measured.mean():.3f} +- {measured.std():.3f} over {len(clean)} images "
              f"(requested {snr:g})")


def solution_project_along_z(volume: np.ndarray) -> np.ndarray:
    """Projection of a map along the beam (the z axis, axis 0 of a ``(z, y, x)`` array).

    Parameters
    ----------
    volume : numpy.ndarray
        3D density, shape (n, n, n), axes (z, y, x).

    Returns
    -------
    numpy.ndarray
        Shape (n, n): the sum of the density along z.
    """
    return volume.sum(axis=0)


def _asymmetric_volume(n: int = 24) -> np.ndarray:
    z, y, x = np.mgrid[:n, :n, :n] - n // 2
    return (np.exp(-((x - 3) ** 2 / 8 + (y + 2) ** 2 / 30 + z**2 / 12))
            + 0.5 * np.exp(-((x + 4) ** 2 + y**2 + (z - 3) ** 2) / 6)).astype(np.float32)


@checked
def check_project_along_z(project_along_z: Callable) -> Feedback:
    """Check a student's ``project_along_z(volume)`` on an asymmetric 24-voxel map."""
    vol = _asymmetric_volume()
    image = as_array(call(project_along_z, vol.copy()), vol.shape[1:], "the projection")
    rule_out(image, {
        "you summed along y (axis 1); the beam runs along z, axis 0 of a (z, y, x) map": vol.sum(axis=1),
        "you summed along x (axis 2); the beam runs along z, axis 0 of a (z, y, x) map": vol.sum(axis=2),
        "you averaged instead of summing: a projection adds up the density along the beam, so its mass "
        "equals the map's (use .sum, not .mean)": vol.mean(axis=0),
        "you took the maximum along the beam (a maximum-intensity projection); an electron image sums "
        "the density: use .sum(axis=0)": vol.max(axis=0),
    })
    if not np.allclose(image, vol.sum(axis=0), rtol=1e-4, atol=1e-4):
        return wrong("the projection differs from the sum along z: sum the density over axis 0")
    return ok(f"projection mass / map mass = {image.sum() / vol.sum():.5f} (mass is conserved); "
              "simulation.project(volume, 0, 0, 0) gives the same image up to interpolation")


def solution_first_ctf_zero(defocus_A, wavelength_A: float):
    """First zero of the CTF without spherical aberration and amplitude contrast, 1/Angstrom.

    Parameters
    ----------
    defocus_A : float or numpy.ndarray
        Defocus in Angstrom (positive = underfocus).
    wavelength_A : float
        Electron wavelength in Angstrom (0.0197 at 300 kV).

    Returns
    -------
    float or numpy.ndarray
        ``1 / sqrt(wavelength * defocus)``, in 1/Angstrom.
    """
    return 1 / np.sqrt(wavelength_A * np.asarray(defocus_A, np.float64))


@checked
def check_first_ctf_zero(first_ctf_zero: Callable) -> Feedback:
    """Check a student's ``first_ctf_zero(defocus_A, wavelength_A)`` at 1, 1.5 and 2.5 um, 300 kV."""
    dz = np.array([10000.0, 15000.0, 25000.0])
    lam = electron_wavelength_A(300.0)
    got = as_array([call(first_ctf_zero, float(d), lam) for d in dz], dz.shape, "the first zeros")
    rule_out(got, {
        "you returned sqrt(wavelength * defocus), a length in Angstrom; the zero is a spatial frequency, "
        "its inverse": np.sqrt(lam * dz),
        "you forgot the square root: chi = -pi * wavelength * defocus * k**2 = -pi gives "
        "k = 1 / sqrt(wavelength * defocus)": 1 / (lam * dz),
        "the defocus must be in Angstrom like the wavelength (you converted it to micrometres)":
            1 / np.sqrt(lam * dz / 1e4),
        "sin(chi) is zero at chi = -pi, not at chi = -pi / 2: k = 1 / sqrt(wavelength * defocus)":
            1 / np.sqrt(2 * lam * dz),
    })
    want = 1 / np.sqrt(lam * dz)
    if not np.allclose(got, want, rtol=1e-3):
        return wrong(f"at 1.5 um you get {got[1]:.4f} 1/A, the formula gives {want[1]:.4f}: solve "
                     "pi * wavelength * defocus * k**2 = pi for k")
    k = np.linspace(1e-4, 0.25, 20000)
    numeric = k[np.argmax(np.diff(np.sign(ctf_1d(k, 15000, 300, 2.7, 0.0))) != 0)]
    return ok(f"first zero at 1.5 um: {got[1]:.4f} 1/A ({1 / got[1]:.1f} A); ctf_1d with Cs 2.7 mm finds "
              f"{numeric:.4f} 1/A")


def solution_phase_flip(images: np.ndarray, ctf: np.ndarray) -> np.ndarray:
    """Phase-flip images: multiply each image's Fourier transform by the sign of the CTF.

    Parameters
    ----------
    images : numpy.ndarray
        Shape (n, size, size).
    ctf : numpy.ndarray
        Shape (size, size), zero frequency at the centre (``fftshift`` layout, as from
        ``cdae_lite.simulation.ctf_2d``).

    Returns
    -------
    numpy.ndarray
        Shape (n, size, size), real: the phase-flipped images.
    """
    flip = np.fft.ifftshift(np.sign(ctf))  # zero frequency to [0, 0], where np.fft puts it
    return np.fft.ifft2(np.fft.fft2(images) * flip).real


def flip_mistakes(images: np.ndarray, ctf: np.ndarray) -> dict[str, np.ndarray]:
    """What typical mistakes of phase flipping return: ``{message: images}``.

    Parameters
    ----------
    images : numpy.ndarray
        Shape (n, size, size).
    ctf : numpy.ndarray
        Shape (size, size) or (n, size, size), centred.

    Returns
    -------
    dict
        One entry per mistake.
    """
    ft = np.fft.fft2(images)
    return {
        "you multiplied by the CTF itself, which applies it a second time; phase flipping multiplies by "
        "its sign, np.sign(ctf)": np.fft.ifft2(ft * np.fft.ifftshift(ctf, axes=(-2, -1))).real,
        "the CTF is centred (zero frequency in the middle, fftshift layout) but np.fft.fft2 puts zero "
        "frequency at [0, 0]: apply np.fft.ifftshift to the CTF's sign first": np.fft.ifft2(ft * np.sign(ctf)).real,
        "your contrast is reversed: multiply by np.sign(ctf), not -np.sign(ctf)":
            -np.fft.ifft2(ft * np.fft.ifftshift(np.sign(ctf), axes=(-2, -1))).real,
    }


def ctf_stack(n: int = 6, size: int = 32, pixel_size_A: float = 3.0,
              defocus_A: float | np.ndarray = 20000.0) -> tuple[np.ndarray, np.ndarray]:
    """Toy particles with a CTF applied, and the CTF: data for the phase-flipping checks.

    Parameters
    ----------
    n, size : int
        Number of images and box size.
    pixel_size_A : float
        Pixel size in Angstrom.
    defocus_A : float or numpy.ndarray
        One defocus, or one per image (shape (n,)).

    Returns
    -------
    images : numpy.ndarray
        float64, (n, size, size), the particles after the CTF.
    ctf : numpy.ndarray
        float64, (n, size, size), centred CTFs (identical when one defocus is given).
    """
    clean, _ = toy_stack(n, size, seed=2)
    ctf = ctf_2d(size, pixel_size_A, np.broadcast_to(np.asarray(defocus_A, np.float64), (n,))).numpy()
    ctf = ctf.astype(np.float64)
    ft = np.fft.fft2(clean - clean.mean(axis=(1, 2), keepdims=True))
    return np.fft.ifft2(ft * np.fft.ifftshift(ctf, axes=(-2, -1))).real, ctf


@checked
def check_phase_flip(phase_flip: Callable) -> Feedback:
    """Check a student's ``phase_flip(images, ctf)`` on 6 toy particles with a 2-um CTF at 3 A/px."""
    images, ctfs = ctf_stack()
    ctf = ctfs[0]
    out = call(phase_flip, images.copy(), ctf.copy())
    got = as_array(out, images.shape, "the flipped images")
    rule_out(got, flip_mistakes(images, ctf))
    want = solution_phase_flip(images, ctf)
    if not np.allclose(got, want, atol=1e-4 * np.abs(want).max()):
        return wrong("the flipped images differ from ifft2(fft2(images) * ifftshift(sign(ctf))).real: "
                     "check the order of the shifts and transforms")
    share = float((ctf < 0).mean())
    return ok(f"phase flipping changed the sign of {share:.0%} of the Fourier coefficients at 3 A/px "
              "and kept every amplitude")


EXERCISES = exercises(globals(), "noisy_at_snr", "project_along_z", "first_ctf_zero", "phase_flip")
