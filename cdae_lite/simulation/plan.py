"""Planning a simulation: every image's random draws (orientation, shift, defocus) made up front.

:func:`plan_simulation` draws them once, from independent random streams (:func:`random_stream`), so
that an option turned on never changes another's draws; :func:`clean_block` then makes any block of
clean images from the plan, so that :mod:`cdae_lite.simulation.stacks` writes stacks of any size block
by block with the same images as in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cdae_lite.images import evenly_spaced
from cdae_lite.runtime import get_device
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.ctf import CTFParams, apply_ctf
from cdae_lite.simulation.projection import Projector, check_map
from cdae_lite.simulation.rotations import euler_to_matrix, jitter, matrix_to_euler


def random_stream(seed: int, stream: int) -> np.random.Generator:
    """An independent random stream per purpose, so enabling one option never changes another's draws.

    Parameters
    ----------
    seed : int
        The simulation's seed.
    stream : int
        Which draws (1 orientation jitter, 2 in-plane angles, 3 shifts, 4 defocus, larger: noise).

    Returns
    -------
    numpy.random.Generator
        Seeded with ``SeedSequence([seed, stream])``.
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(stream)]))


#: Images per block: noise is drawn block by block, so results do not depend on how a caller chunks.
BLOCK = 1024


@dataclass
class SimulationPlan:
    """Every per-image random draw of a simulation, made up front (a few floats per image).

    Attributes
    ----------
    projector : Projector
        Projects the map, resampled to the image size.
    mats : numpy.ndarray
        ``(n, 3, 3)`` rotation matrix of each image (RELION's ``A``).
    shifts : numpy.ndarray
        ``(n, 2)`` in-plane shift of each image, pixels.
    labels : numpy.ndarray
        ``(n,)`` int view index of each image.
    defocus : numpy.ndarray or None
        ``(n, 3)`` defocus U, V (Angstrom) and astigmatism angle (degrees), ``None`` without CTF.
    ctf_params : CTFParams or None
        The shared microscope parameters, ``None`` without CTF.
    scale : float
        Clean images are divided by it (their mean variance over the exact views becomes 1).
    sigma_stack : dict
        ``{snr: sigma}`` of the noise when one sigma serves the stack (``noise_per="stack"``).
    pixel_size_A : float
        Pixel size of the images, Angstrom.
    meta : pandas.DataFrame
        One row per image (STAR labels).
    optics : dict
        The STAR optics group.
    """

    projector: Projector
    mats: np.ndarray
    shifts: np.ndarray
    labels: np.ndarray
    defocus: np.ndarray | None
    ctf_params: CTFParams | None
    scale: float
    sigma_stack: dict
    pixel_size_A: float
    meta: pd.DataFrame
    optics: dict


def plan_simulation(volume, pixel_size_A, views_deg, config: SimulationConfig, snrs, device) -> SimulationPlan:
    """Check the inputs and draw every image's orientation, shift and CTF, up front.

    Parameters
    ----------
    volume, pixel_size_A, views_deg, config
        As in :func:`~cdae_lite.simulation.stacks.simulate_blocks`; the first ``config.n_views`` views are used.
    snrs : tuple of float
        The SNRs, each > 0.
    device : str or torch.device or None
        Where to project.

    Returns
    -------
    SimulationPlan

    Raises
    ------
    ValueError
        Fewer views than ``config.n_views``, no SNR, or an SNR that is not a positive number.
    """
    from cdae_lite.simulation.maps import resample

    vol = check_map(volume)
    views = np.asarray(views_deg, np.float64).reshape(-1, 3)
    if len(views) < config.n_views:
        raise ValueError(f"{len(views)} views given, config asks for {config.n_views}")
    views = views[: config.n_views]
    if not snrs:
        raise ValueError("give at least one SNR")
    for snr in snrs:
        if not np.isfinite(snr) or snr <= 0:
            raise ValueError(f"SNR must be a positive number, got {snr}")
    size = config.image_size
    if vol.shape[0] != size:
        pixel_size_A = pixel_size_A * vol.shape[0] / size
        vol = resample(vol, size)
    k, m = config.n_views, config.images_per_view
    n = k * m
    labels = np.repeat(np.arange(k), m)
    mats = euler_to_matrix(views[labels, 0], views[labels, 1], views[labels, 2])
    mats = jitter(mats, config.jitter_deg, random_stream(config.seed, 1))
    if config.inplane_rotation:
        psi = random_stream(config.seed, 2).uniform(0, 360, n)
        mats = euler_to_matrix(0, 0, psi) @ mats  # an extra rotation about the image's z axis
    shifts = (random_stream(config.seed, 3).uniform(-config.max_shift_px, config.max_shift_px, (n, 2))
              if config.max_shift_px > 0 else np.zeros((n, 2)))
    projector = Projector(vol, device=get_device(device))
    # scale: the exact views' projections get mean variance 1 (independent of n and of the options)
    ref = projector.project(euler_to_matrix(*views.T)).cpu().numpy()
    scale = float(np.sqrt(ref.reshape(k, -1).astype(np.float64).var(axis=1).mean()))
    defocus, params = _draw_ctf(config, n)
    meta, optics = _star_rows(mats, shifts, labels, defocus, pixel_size_A, config)
    plan = SimulationPlan(projector, mats, shifts, labels, defocus, params, scale, {}, float(pixel_size_A),
                          meta, optics)
    if config.noise_per == "stack":
        # the stack's mean clean variance, estimated on up to BLOCK images spread over the stack
        sample = clean_block(plan, evenly_spaced(n, BLOCK))
        var = float(sample.reshape(sample.shape[0], -1).astype(np.float64).var(axis=1).mean())
        plan.sigma_stack = {float(s): np.sqrt(var / s) for s in snrs}
    return plan


def _draw_ctf(config: SimulationConfig, n: int) -> tuple[np.ndarray | None, CTFParams | None]:
    """Per-image defocus ``(n, 3)`` (U, V in Angstrom, angle in degrees) and the shared CTF parameters."""
    if not config.ctf:
        return None, None
    rng = random_stream(config.seed, 4)
    du = rng.uniform(*config.defocus_range_A, n)
    half_ast = rng.uniform(0, config.astigmatism_A, n) / 2
    ang = rng.uniform(0, 180, n)
    defocus = np.stack([du + half_ast, du - half_ast, ang], axis=1)
    params = CTFParams(voltage_kV=config.voltage_kV, cs_mm=config.cs_mm,
                       amplitude_contrast=config.amplitude_contrast, b_factor_A2=config.b_factor_A2)
    return defocus, params


def _star_rows(mats, shifts, labels, defocus, pixel_size_A: float,
               config: SimulationConfig) -> tuple[pd.DataFrame, dict]:
    """The STAR particles rows (one per image) and optics group of a plan."""
    eul = matrix_to_euler(mats)
    meta = pd.DataFrame({
        "rlnAngleRot": eul[:, 0], "rlnAngleTilt": eul[:, 1], "rlnAnglePsi": eul[:, 2],
        # RELION's origin is the shift that re-centres the particle: minus our displacement
        "rlnOriginXAngst": -shifts[:, 0] * pixel_size_A, "rlnOriginYAngst": -shifts[:, 1] * pixel_size_A,
        "rlnClassNumber": labels + 1, "cdaeView": labels, "rlnOpticsGroup": 1,
    })
    if defocus is not None:
        meta["rlnDefocusU"], meta["rlnDefocusV"], meta["rlnDefocusAngle"] = defocus.T
    optics = {"rlnOpticsGroup": 1, "rlnOpticsGroupName": "opticsGroup1",
              "rlnVoltage": config.voltage_kV, "rlnSphericalAberration": config.cs_mm,
              "rlnAmplitudeContrast": config.amplitude_contrast, "rlnImagePixelSize": pixel_size_A,
              "rlnImageSize": config.image_size, "rlnImageDimensionality": 2}
    return meta, optics


def clean_block(plan: SimulationPlan, idx: np.ndarray | slice) -> np.ndarray:
    """The clean images ``idx`` of a plan: projected, shifted, with their CTF, scaled.

    Parameters
    ----------
    plan : SimulationPlan
        The simulation's draws.
    idx : numpy.ndarray or slice
        Which images.

    Returns
    -------
    numpy.ndarray
        ``(b, size, size)`` float32.
    """
    mats, shifts = plan.mats[idx], plan.shifts[idx]
    b = mats.shape[0]
    # project each distinct (orientation, shift) once: the paper's protocol has only n_views of them
    key = np.concatenate([mats.reshape(b, 9), shifts], axis=1).round(9)
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    proj = plan.projector.project(uniq[:, :9].reshape(-1, 3, 3), uniq[:, 9:]).cpu().numpy()
    clean = proj[inverse.reshape(-1)]
    if plan.defocus is not None:
        d = plan.defocus[idx]
        clean = apply_ctf(clean, plan.pixel_size_A, plan.ctf_params, defocus_u_A=d[:, 0],
                          defocus_v_A=d[:, 1], defocus_angle_deg=d[:, 2])
    return (clean / plan.scale).astype(np.float32)
