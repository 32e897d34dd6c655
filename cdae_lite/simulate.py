"""Simulated cryo-EM particle stacks: the paper's protocol and a realistic variant.

A protein is imaged from ``n_views`` directions, ``images_per_view`` images each. Every image is a
projection of the 3D map (:mod:`cdae_lite.projection`), optionally shifted, rotated in plane and
convolved with a CTF (:mod:`cdae_lite.ctf`); these are the *clean* images. Noisy versions at several
SNRs are made from the **same** clean images with independent noise (:mod:`cdae_lite.noise`), so an
image at SNR 0.1 and its partner at SNR 0.4 show the same particle in the same pose: the paired data
the cascade is pre-trained on. The view index is the label used to score clustering.

Clean images are scaled so that their mean variance over the stack is 1 (a convention; every SNR is
a ratio and every learned model normalises its input).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .config import SimulationConfig, get_device
from .ctf import CTFParams, apply_ctf
from .io import image_names, read_stack, read_star, write_stack, write_star
from .noise import noise_sigma
from .projection import Projector, check_map
from .rotations import euler_to_matrix, fibonacci_directions, jitter, matrix_to_euler


def _rng(seed: int, stream: int) -> np.random.Generator:
    """An independent random stream per purpose, so enabling one option never changes another's draws."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(stream)]))


def _snr_stream(snr: float) -> int:
    return 1_000_000 + int(round(snr * 1e6))


# ---------------------------------------------------------------------------------- view choice
def rotate_images(images: torch.Tensor, angles_deg: torch.Tensor) -> torch.Tensor:
    """Rotate images (n, s, s) about their centre pixel by ``angles_deg`` (n,), bilinear, zero fill."""
    n, s = images.shape[0], images.shape[-1]
    t = torch.deg2rad(angles_deg.to(images.dtype))
    c, si = torch.cos(t), torch.sin(t)
    theta = torch.zeros(n, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = c, -si, si, c
    # align_corners=False maps pixel centres; shift so that pixel s//2 is the centre for even s
    off = (1.0 / s) if s % 2 == 0 else 0.0
    theta[:, 0, 2] = off * (1 - c) + off * si
    theta[:, 1, 2] = off * (1 - c) - off * si
    grid = F.affine_grid(theta, (n, 1, s, s), align_corners=False)
    return F.grid_sample(images[:, None], grid, align_corners=False, padding_mode="zeros")[:, 0]


def invariant_similarity(images: np.ndarray, n_angles: int = 36, mirror: bool = True) -> np.ndarray:
    """Correlation of every pair of images, maximised over in-plane rotations (and mirroring).

    Two views that are symmetry mates, or differ only by an in-plane rotation, score close to 1.

    Parameters
    ----------
    images : array (n, size, size)

    Returns
    -------
    numpy.ndarray (n, n) with entries in [-1, 1] (the diagonal is 1).
    """
    x = torch.as_tensor(np.asarray(images, np.float32))
    n = x.shape[0]

    def normalise(a):
        a = a - a.mean(dim=(-2, -1), keepdim=True)
        return a / a.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]

    ref = normalise(x).flatten(1)
    angles = torch.arange(n_angles) * (360.0 / n_angles)
    best = torch.full((n, n), -1.0)
    variants = [x, torch.flip(x, dims=(-1,))] if mirror else [x]
    for v in variants:
        for a in angles:
            r = normalise(rotate_images(v, torch.full((n,), float(a)))).flatten(1)
            best = torch.maximum(best, ref @ r.T)
    best = torch.maximum(best, best.T)
    best.fill_diagonal_(1.0)
    return best.numpy()


def distinct_views(volume: np.ndarray, k: int = 4, n_candidates: int = 200, size: int = 32,
                   device: str | None = None) -> np.ndarray:
    """Choose ``k`` view directions whose projections differ most, symmetry mates excluded.

    Candidate directions cover a hemisphere evenly (the other half gives mirror images). Two views
    are compared by :func:`invariant_similarity`, so views related by the particle's symmetry or by
    an in-plane rotation count as the same view. Greedy farthest-point selection: start from the
    least similar pair, then repeatedly add the candidate whose highest similarity to the chosen
    views is lowest.

    Returns
    -------
    numpy.ndarray (k, 3): ``(rot, tilt, psi)`` in degrees, ``psi = 0``.
    """
    from .maps import resample

    vol = check_map(volume)
    small = resample(vol, size) if vol.shape[0] != size else vol
    dirs = fibonacci_directions(n_candidates, hemisphere=True)
    proj = Projector(small, device=device).project_euler(dirs[:, 0], dirs[:, 1], np.zeros(len(dirs)))
    sim = invariant_similarity(proj)
    i, j = np.unravel_index(np.argmin(sim), sim.shape)
    chosen = [int(i), int(j)]
    while len(chosen) < k:
        worst = sim[:, chosen].max(axis=1)
        worst[chosen] = np.inf
        chosen.append(int(np.argmin(worst)))
    out = np.zeros((k, 3))
    out[:, :2] = dirs[chosen[:k]]
    return np.round(out, 2)


# ----------------------------------------------------------------------------------- the stack
@dataclass
class SimulatedStack:
    """Images of one protein: clean, noisy at several SNRs (paired), labels and metadata.

    Attributes
    ----------
    clean : array (n, size, size), float32 -- noise-free images (after the CTF when there is one).
    noisy : dict float -> array (n, size, size) -- the same images with noise at each SNR.
    labels : array (n,), int64 -- view index, 0 ... n_views - 1.
    meta : pandas.DataFrame -- one row per image (STAR labels; see :mod:`cdae_lite.io`).
    pixel_size_A : float
    name : str -- the protein's name.
    config : SimulationConfig
    """

    clean: np.ndarray
    noisy: dict
    labels: np.ndarray
    meta: pd.DataFrame
    pixel_size_A: float
    name: str
    config: SimulationConfig
    optics: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.clean.shape[0])

    @property
    def snrs(self) -> list[float]:
        return sorted(self.noisy)

    def star(self, snr: float | None) -> pd.DataFrame:
        """The particles table for the stack at ``snr`` (``None`` for the clean stack)."""
        df = self.meta.copy()
        df["cdaeSNR"] = np.inf if snr is None else float(snr)
        return df

    def save(self, directory: str | os.PathLike, snrs: list[float] | None = None,
             clean: bool = False, overwrite: bool = False) -> list[Path]:
        """Write ``<name>_snr<snr>.mrcs`` + ``.star`` for each SNR (and the clean stack on request)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        todo = [(s, self.noisy[s]) for s in (self.snrs if snrs is None else snrs)]
        if clean:
            todo.append((None, self.clean))
        for snr, imgs in todo:
            stem = f"{self.name}_clean" if snr is None else f"{self.name}_snr{snr:g}"
            mrcs = directory / f"{stem}.mrcs"
            df = self.star(snr)
            df.insert(0, "rlnImageName", image_names(len(df), mrcs.name))
            if snr is not None:
                df["cdaeNoiseSigma"] = self.meta[f"cdaeNoiseSigma_{snr:g}"].to_numpy()
            df = df[[c for c in df.columns if not c.startswith("cdaeNoiseSigma_")]]
            write_stack(mrcs, imgs, self.pixel_size_A, overwrite=overwrite)
            write_star(directory / f"{stem}.star", df, self.optics, overwrite=overwrite)
            written += [mrcs, directory / f"{stem}.star"]
        return written


#: Images per block: noise is drawn block by block, so results do not depend on how a caller chunks.
BLOCK = 1024


@dataclass
class _Plan:
    """Every per-image random draw of a simulation, made up front (a few floats per image)."""

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


def _plan(volume, pixel_size_A, views_deg, config: SimulationConfig, snrs, device) -> _Plan:
    from .maps import resample

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
    mats = jitter(mats, config.jitter_deg, _rng(config.seed, 1))
    if config.inplane_rotation:
        psi = _rng(config.seed, 2).uniform(0, 360, n)
        mats = euler_to_matrix(0, 0, psi) @ mats  # an extra rotation about the image's z axis
    shifts = (_rng(config.seed, 3).uniform(-config.max_shift_px, config.max_shift_px, (n, 2))
              if config.max_shift_px > 0 else np.zeros((n, 2)))
    projector = Projector(vol, device=get_device(device))
    # scale: the exact views' projections get mean variance 1 (independent of n and of the options)
    ref = projector.project(euler_to_matrix(*views.T)).cpu().numpy()
    scale = float(np.sqrt(ref.reshape(k, -1).astype(np.float64).var(axis=1).mean()))
    defocus, params = None, None
    if config.ctf:
        rng = _rng(config.seed, 4)
        du = rng.uniform(*config.defocus_range_A, n)
        half_ast = rng.uniform(0, config.astigmatism_A, n) / 2
        ang = rng.uniform(0, 180, n)
        defocus = np.stack([du + half_ast, du - half_ast, ang], axis=1)
        params = CTFParams(voltage_kV=config.voltage_kV, cs_mm=config.cs_mm,
                           amplitude_contrast=config.amplitude_contrast, b_factor_A2=config.b_factor_A2)
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
              "rlnImageSize": size, "rlnImageDimensionality": 2}
    plan = _Plan(projector, mats, shifts, labels, defocus, params, scale, {}, float(pixel_size_A),
                 meta, optics)
    if config.noise_per == "stack":
        # the stack's mean clean variance, estimated on up to BLOCK images spread over the stack
        sample = _clean_block(plan, np.unique(np.linspace(0, n - 1, min(n, BLOCK)).astype(int)))
        var = float(sample.reshape(sample.shape[0], -1).astype(np.float64).var(axis=1).mean())
        plan.sigma_stack = {float(s): np.sqrt(var / s) for s in snrs}
    return plan


def _clean_block(plan: _Plan, idx: np.ndarray | slice) -> np.ndarray:
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


def simulate_blocks(volume: np.ndarray, pixel_size_A: float, views_deg: np.ndarray,
                    config: SimulationConfig, snrs: tuple[float, ...] = (0.1,),
                    device: str | torch.device | None = None):
    """Simulate block by block (``BLOCK`` images at a time), for stacks larger than memory.

    Returns ``(meta, optics, pixel_size_A, blocks)`` where ``blocks`` is a generator of
    ``(start, clean, {snr: noisy}, {snr: sigma})`` with arrays of at most ``BLOCK`` images.
    :func:`simulate` concatenates the same blocks, so both give identical images.
    """
    plan = _plan(volume, pixel_size_A, views_deg, config, snrs, device)
    n = len(plan.labels)

    def blocks():
        for b, start in enumerate(range(0, n, BLOCK)):
            stop = min(n, start + BLOCK)
            clean = _clean_block(plan, slice(start, stop))
            noisy, sigmas = {}, {}
            for snr in snrs:
                rng = _rng(config.seed, _snr_stream(snr) + 7919 * b)
                if config.noise_per == "stack":
                    sigma = np.full(stop - start, plan.sigma_stack[float(snr)])
                else:
                    sigma = noise_sigma(clean, snr)
                noise = rng.standard_normal(clean.shape, dtype=np.float32)
                noisy[float(snr)] = clean + noise * sigma[:, None, None].astype(np.float32)
                sigmas[float(snr)] = sigma
            yield start, clean, noisy, sigmas

    return plan.meta, plan.optics, plan.pixel_size_A, blocks()


def simulate(volume: np.ndarray, pixel_size_A: float, views_deg: np.ndarray,
             config: SimulationConfig, snrs: tuple[float, ...] = (0.1,), name: str = "protein",
             device: str | torch.device | None = None) -> SimulatedStack:
    """Simulate a labelled, paired stack of one protein.

    Parameters
    ----------
    volume : array (s, s, s) -- the map; resampled to ``config.image_size`` if needed.
    pixel_size_A : float -- the map's voxel size, Angstrom.
    views_deg : array (n_views, 3) -- view orientations ``(rot, tilt, psi)``, degrees.
    config : SimulationConfig -- scale, realism options and seed.
    snrs : tuple of float -- the SNRs to make noisy stacks at (each from the same clean images).
    name : str -- used in file names.
    device : where to project (default: CUDA if available).

    Returns
    -------
    SimulatedStack

    Examples
    --------
    >>> from cdae_lite.config import SimulationConfig
    >>> from cdae_lite.datasets import load_protein
    >>> p = load_protein("adk"); vol, px = p.volume(32)
    >>> s = simulate(vol, px, p.views_deg, SimulationConfig.quick(images_per_view=5), snrs=(0.1,))
    >>> s.noisy[0.1].shape, s.labels.tolist()[:6]
    ((20, 32, 32), [0, 0, 0, 0, 0, 1])
    """
    meta, optics, px, blocks = simulate_blocks(volume, pixel_size_A, views_deg, config, snrs, device)
    cleans, noisy, sigmas = [], {float(s): [] for s in snrs}, {float(s): [] for s in snrs}
    for _, clean, nb, sb in blocks:
        cleans.append(clean)
        for s in nb:
            noisy[s].append(nb[s])
            sigmas[s].append(sb[s])
    meta = meta.copy()
    for s in sigmas:
        meta[f"cdaeNoiseSigma_{s:g}"] = np.concatenate(sigmas[s])
    return SimulatedStack(clean=np.concatenate(cleans), noisy={s: np.concatenate(v) for s, v in noisy.items()},
                          labels=meta["cdaeView"].to_numpy(np.int64), meta=meta, pixel_size_A=float(px),
                          name=name, config=config, optics=optics)


def simulate_protein(protein, config: SimulationConfig, snrs: tuple[float, ...] | None = None,
                     device: str | torch.device | None = None) -> SimulatedStack:
    """Simulate a shipped protein (a :class:`~cdae_lite.datasets.Protein` or its name).

    ``snrs`` defaults to the protocol's: ``config.train_snrs`` for the training protein,
    ``(config.test_snr,)`` for a test protein.
    """
    from .datasets import Protein, load_protein

    p = protein if isinstance(protein, Protein) else load_protein(protein)
    if snrs is None:
        snrs = tuple(config.train_snrs) if p.role == "train" else (config.test_snr,)
    vol, px = p.volume(config.image_size)
    return simulate(vol, px, np.array(p.views_deg), config, snrs=snrs, name=p.name, device=device)


def load_particles(star_path: str | os.PathLike) -> tuple[np.ndarray, pd.DataFrame, dict, float | None]:
    """Read a STAR file and the one stack its ``rlnImageName`` column points to.

    Returns ``(images, particles, optics, pixel_size_A)`` with images ordered as the STAR rows.

    Raises
    ------
    ValueError
        If the STAR file names several stacks, or its row count differs from the stack's.
    """
    star_path = Path(star_path)
    particles, optics = read_star(star_path)
    if "rlnImageName" not in particles:
        raise ValueError(f"{star_path} has no rlnImageName column: which stack does it describe?")
    parts = particles["rlnImageName"].astype(str).str.split("@", n=1, expand=True)
    stacks = parts[1].unique()
    if len(stacks) != 1:
        raise ValueError(f"{star_path} names {len(stacks)} stacks; cdae-lite reads one stack per STAR file")
    images, px = read_stack(star_path.parent / stacks[0])
    idx = parts[0].astype(int).to_numpy() - 1
    if len(particles) != images.shape[0] or idx.min() < 0 or idx.max() >= images.shape[0]:
        raise ValueError(f"{star_path} has {len(particles)} rows but {stacks[0]} holds "
                         f"{images.shape[0]} images: they do not describe each other")
    px = float(optics.get("rlnImagePixelSize", px or 0)) or px
    return images[idx], particles, optics, px
