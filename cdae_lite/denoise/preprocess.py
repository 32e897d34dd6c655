"""Preparing real particle images the way practitioners do before 2D classification.

- :func:`~cdae_lite.images.normalize_background`: RELION's normalisation: subtract the mean and divide by the standard
  deviation of the background, the pixels outside a circle around the particle;
- :func:`~cdae_lite.images.resample_images`: Fourier cropping (downsampling) or padding, which keeps the physical box
  and changes the pixel size (``new_px = px * old_size / new_size``);
- :func:`star_pixel_size`, :func:`star_ctf`: microscope parameters from RELION STAR files (3.0 or 3.1);
- :func:`phase_flip_star`: CTF phase flipping with each particle's own defocus.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdae_lite.images import check_images, normalize_background, resample_images
from cdae_lite.simulation.ctf import CTFParams, phase_flip


def star_pixel_size(particles: pd.DataFrame, optics: dict) -> float | None:
    """Pixel size in Angstrom from a STAR file: ``rlnImagePixelSize`` (RELION 3.1 optics), or
    ``rlnDetectorPixelSize`` (micrometres) x 1e4 / ``rlnMagnification`` (RELION 3.0); None if absent."""
    for src in (optics, particles.iloc[0].to_dict() if len(particles) else {}):
        if "rlnImagePixelSize" in src:
            return float(src["rlnImagePixelSize"])
        if "rlnDetectorPixelSize" in src and "rlnMagnification" in src:
            return float(src["rlnDetectorPixelSize"]) * 1e4 / float(src["rlnMagnification"])
    return None


def star_ctf(particles: pd.DataFrame, optics: dict) -> tuple[CTFParams, dict]:
    """Shared CTF parameters and per-particle defocus arrays from a STAR file.

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


def phase_flip_star(images, pixel_size_A: float, particles: pd.DataFrame, optics: dict) -> np.ndarray:
    """Phase-flip each particle with the CTF its STAR row describes."""
    x = check_images(images)
    if len(particles) != len(x):
        raise ValueError(f"{len(particles)} STAR rows for {len(x)} images")
    params, per_image = star_ctf(particles, optics)
    return phase_flip(x, pixel_size_A, params, **per_image)


def prepare(images, pixel_size_A: float, particles: pd.DataFrame | None = None, optics: dict | None = None,
            size: int | None = 64, flip: bool = True, radius_px: float | None = None) -> tuple[np.ndarray, float]:
    """Normalise, phase-flip (when the STAR rows carry a CTF) and downsample a stack of particles.

    Parameters
    ----------
    images : array (n, s, s) -- raw particles.
    pixel_size_A : float -- their pixel size.
    particles, optics : the stack's STAR tables (from :func:`cdae_lite.io.star.read_star`), optional.
    size : int -- box after Fourier downsampling (None keeps it).
    flip : bool -- phase-flip when defocus values are known.

    Returns
    -------
    (images (n, size, size) float32, new pixel size in Angstrom)
    """
    x = normalize_background(images, radius_px)
    if flip and particles is not None and "rlnDefocusU" in particles:
        x = phase_flip_star(x, pixel_size_A, particles, optics or {})
    if size is not None and size != x.shape[-1]:
        new_px = pixel_size_A * x.shape[-1] / size
        x = resample_images(x, size)
        return x, new_px
    return x, pixel_size_A
