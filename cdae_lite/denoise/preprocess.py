"""Preparing real particle images the way practitioners do before 2D classification.

- :func:`~cdae_lite.images.normalize_background`: RELION's normalisation: subtract the mean and divide by the standard
  deviation of the background, the pixels outside a circle around the particle;
- :func:`~cdae_lite.images.resample_images`: Fourier cropping (downsampling) or padding, which keeps the physical box
  and changes the pixel size (``new_px = px * old_size / new_size``);
- :func:`star_pixel_size`, :func:`star_ctf_params`: microscope parameters from RELION STAR files (3.0 or 3.1);
- :func:`phase_flip_star`: CTF phase flipping with each particle's own defocus.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdae_lite.images import check_images, normalize_background, resample_images
from cdae_lite.simulation.ctf import CTFParams, ctf_2d, phase_flip


def star_pixel_size(particles: pd.DataFrame, optics: dict) -> float | None:
    """Pixel size from a STAR file: ``rlnImagePixelSize`` (RELION 3.1 optics), or
    ``rlnDetectorPixelSize`` (micrometres) x 1e4 / ``rlnMagnification`` (RELION 3.0).

    Parameters
    ----------
    particles : pandas.DataFrame
        The particles table (its first row is read when the optics hold no pixel size).
    optics : dict
        The optics group's values (RELION 3.1), or empty.

    Returns
    -------
    float or None
        Angstrom per pixel, or None when neither table gives it.
    """
    for src in (optics, particles.iloc[0].to_dict() if len(particles) else {}):
        if "rlnImagePixelSize" in src:
            return float(src["rlnImagePixelSize"])
        if "rlnDetectorPixelSize" in src and "rlnMagnification" in src:
            return float(src["rlnDetectorPixelSize"]) * 1e4 / float(src["rlnMagnification"])
    return None


def star_ctf_params(particles: pd.DataFrame, optics: dict) -> tuple[CTFParams, dict]:
    """Shared CTF parameters and per-particle defocus arrays from a STAR file.

    Parameters
    ----------
    particles : pandas.DataFrame
        The particles table, with ``rlnDefocusU`` (Angstrom) and optionally ``rlnDefocusV`` (Angstrom,
        default U) and ``rlnDefocusAngle`` (degrees, default 0).
    optics : dict
        The optics group's values; ``rlnVoltage`` (kV), ``rlnSphericalAberration`` (mm) and
        ``rlnAmplitudeContrast`` are read from it, else from the first particle row, else RELION's
        defaults (300 kV, 2.7 mm, 0.1).

    Returns
    -------
    params : CTFParams
        The shared microscope parameters (:class:`~cdae_lite.simulation.ctf.CTFParams`).
    per_image : dict
        ``defocus_u_A``, ``defocus_v_A`` (Angstrom) and ``defocus_angle_deg`` (degrees): float64 arrays
        (n,), one value per row, the keyword arguments of :func:`~cdae_lite.simulation.ctf.phase_flip`.

    Raises
    ------
    ValueError
        If the file has no defocus columns.
    """
    if "rlnDefocusU" not in particles:
        raise ValueError("the STAR file has no rlnDefocusU column: no CTF to correct")

    def shared(label, default):
        if label in optics:
            return float(optics[label])
        if label in particles:
            return float(particles[label].iloc[0])
        return default

    params = CTFParams(voltage_kV=shared("rlnVoltage", 300.0), cs_mm=shared("rlnSphericalAberration", 2.7),
                       amplitude_contrast=shared("rlnAmplitudeContrast", 0.1))
    per_image = {"defocus_u_A": particles["rlnDefocusU"].to_numpy(float),
                 "defocus_v_A": particles.get("rlnDefocusV", particles["rlnDefocusU"]).to_numpy(float),
                 "defocus_angle_deg": particles.get("rlnDefocusAngle", pd.Series(np.zeros(len(particles)))).to_numpy(float)}
    return params, per_image


def star_ctfs(size: int, pixel_size_A: float, particles: pd.DataFrame, optics: dict) -> np.ndarray:
    """Each particle's 2D CTF, as its STAR row describes it (:func:`star_ctf_params`).

    Parameters
    ----------
    size : int
        Box size of the images, pixels.
    pixel_size_A : float
        Angstrom per pixel of the images (after any resampling: the CTF is computed at this scale).
    particles : pandas.DataFrame
        The particles table, with the defocus columns, Angstrom and degrees.
    optics : dict
        The optics group's values (voltage in kV, Cs in mm, amplitude contrast).

    Returns
    -------
    ndarray (n, size, size) float32
        One CTF per row, zero frequency at pixel ``(size // 2, size // 2)`` (``fftshift`` layout), as
        :func:`~cdae_lite.simulation.ctf.ctf_2d` makes them; the input of a CTF-aware
        :func:`~cdae_lite.denoise.stackaware.stack_denoise`.
    """
    params, per = star_ctf_params(particles, optics)
    return ctf_2d(size, pixel_size_A, per["defocus_u_A"], per["defocus_v_A"], per["defocus_angle_deg"],
                  params.voltage_kV, params.cs_mm, params.amplitude_contrast).numpy()


def phase_flip_star(images, pixel_size_A: float, particles: pd.DataFrame, optics: dict) -> np.ndarray:
    """Phase-flip each particle with the CTF its STAR row describes.

    Parameters
    ----------
    images : array (n, s, s)
        The particles, row i of ``particles`` describing image i.
    pixel_size_A : float
        Angstrom per pixel.
    particles : pandas.DataFrame
        The particles table, n rows with the defocus columns (:func:`star_ctf_params`).
    optics : dict
        The optics group's values (voltage, Cs, amplitude contrast).

    Returns
    -------
    ndarray (n, s, s) float32
        The phase-flipped images (:func:`~cdae_lite.simulation.ctf.phase_flip`).

    Raises
    ------
    ValueError
        A number of rows other than the number of images, no defocus column, or images that
        :func:`~cdae_lite.images.check_images` refuses.
    """
    x = check_images(images)
    if len(particles) != len(x):
        raise ValueError(f"{len(particles)} STAR rows for {len(x)} images")
    params, per_image = star_ctf_params(particles, optics)
    return phase_flip(x, pixel_size_A, params, **per_image)


def prepare(images, pixel_size_A: float, particles: pd.DataFrame | None = None, optics: dict | None = None,
            size: int | None = 64, flip: bool = True, radius_px: float | None = None) -> tuple[np.ndarray, float]:
    """Normalise, phase-flip (when the STAR rows carry a CTF) and downsample a stack of particles.

    Parameters
    ----------
    images : array (n, s, s)
        Raw particles.
    pixel_size_A : float
        Their pixel size, Angstrom.
    particles : pandas.DataFrame, optional
        The stack's particles table (from :func:`cdae_lite.io.star.read_star`), one row per image.
    optics : dict, optional
        The stack's optics values.
    size : int, optional
        Box after Fourier resampling, pixels (None keeps it).
    flip : bool
        Phase-flip when the rows carry defocus values.
    radius_px : float, optional
        Radius outside which the background is normalised to zero mean and unit std, pixels
        (default 0.9 times half the box; :func:`~cdae_lite.images.normalize_background`).

    Returns
    -------
    images : ndarray (n, size, size) float32
        The prepared particles.
    pixel_size_A : float
        Their new pixel size, Angstrom.

    Raises
    ------
    ValueError
        Images that :func:`~cdae_lite.images.check_images` refuses, a radius that leaves too little
        background, or STAR rows that do not match the images.
    """
    x = normalize_background(images, radius_px)
    if flip and particles is not None and "rlnDefocusU" in particles:
        x = phase_flip_star(x, pixel_size_A, particles, optics or {})
    if size is not None and size != x.shape[-1]:
        new_px = pixel_size_A * x.shape[-1] / size
        x = resample_images(x, size)
        return x, new_px
    return x, pixel_size_A
