"""Profiles, devices and seeds: the switches every experiment shares.

A *profile* chooses the scale of an experiment. ``full`` is the paper's scale (64 px images, 1000
images per view); ``quick`` runs the same code path on smaller images and fewer images so that a
chapter executes on two CPU cores in a minute or two. The profile is read from the environment
variable ``CDAE_PROFILE`` (``quick`` or ``full``); when it is unset, ``full`` is used on a machine with
a CUDA GPU and ``quick`` elsewhere.
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass, replace
from typing import Literal

import numpy as np
import torch

Profile = Literal["quick", "full"]
PROFILES: tuple[str, ...] = ("quick", "full")


def get_profile(profile: str | None = None) -> Profile:
    """Return the profile to run in.

    Parameters
    ----------
    profile : str, optional
        ``"quick"`` or ``"full"``. When omitted, the environment variable ``CDAE_PROFILE`` is read;
        when that is unset too, ``"full"`` on a CUDA machine and ``"quick"`` otherwise.

    Returns
    -------
    str
        ``"quick"`` or ``"full"``.

    Raises
    ------
    ValueError
        If the requested profile is not one of the two names.
    """
    if profile is None:
        profile = os.environ.get("CDAE_PROFILE", "").strip().lower() or None
    if profile is None:
        return "full" if torch.cuda.is_available() else "quick"
    profile = profile.strip().lower()
    if profile not in PROFILES:
        raise ValueError(
            f"unknown profile {profile!r}: use 'quick' (small, CPU-friendly) or 'full' (paper scale), "
            "e.g. CDAE_PROFILE=quick"
        )
    return profile  # type: ignore[return-value]


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Return the torch device to compute on.

    Parameters
    ----------
    device : str or torch.device, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``... When omitted, ``CDAE_DEVICE`` is read, and when that
        is unset CUDA is used if available, else the CPU.

    Raises
    ------
    ValueError
        If CUDA is requested on a machine without a CUDA GPU.
    """
    if device is None:
        device = os.environ.get("CDAE_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("a CUDA device was requested but torch sees no GPU here: use device='cpu'")
    return device


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch, and return a CPU ``torch.Generator`` seeded with ``seed``.

    The same seed gives the same numbers on the same machine and library versions. GPU kernels may
    still differ in the last bits between runs; the experiments record the device they ran on.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))
    return torch.Generator().manual_seed(int(seed))


def progress_enabled() -> bool:
    """Whether long loops show progress bars (``CDAE_PROGRESS=0`` turns them off)."""
    return os.environ.get("CDAE_PROGRESS", "1").strip() not in ("0", "false", "no", "off")


# ------------------------------------------------------------------------------------ simulation


@dataclass(frozen=True)
class SimulationConfig:
    """How to simulate a protein's images: the paper's protocol (section 4.1) and options beyond it.

    The defaults are the paper's: 4 views, 1000 images per view, 64 px images, training protein at
    SNR 0.1, 0.4 and 0.6 (plus the clean images), test proteins at SNR 0.1, exact view directions,
    no in-plane rotation, no shifts, no CTF. :meth:`quick` shrinks the scale for a CPU;
    :meth:`realistic` turns on what real data has and the paper's data had not.

    Attributes
    ----------
    image_size : int -- box size, pixels (the map is resampled to it).
    n_views : int -- view directions per protein (the shipped proteins have 4).
    images_per_view : int
    train_snrs, test_snr : SNRs (variance definition, see :mod:`cdae_lite.noise`).
    jitter_deg : float -- standard deviation of a random tilt of each view, degrees.
    inplane_rotation : bool -- random in-plane rotation (psi uniform in [0, 360)).
    max_shift_px : float -- shifts drawn uniformly in [-max, max] pixels on each axis.
    ctf : bool -- apply a CTF with a defocus drawn uniformly from ``defocus_range_A``.
    defocus_range_A, astigmatism_A, voltage_kV, cs_mm, amplitude_contrast, b_factor_A2 : CTF settings.
    noise_per : ``"image"`` or ``"stack"`` -- noise level set per image or once for the stack.
    seed : int -- seeds every random draw (views, shifts, defocus, noise).
    """

    image_size: int = 64
    n_views: int = 4
    images_per_view: int = 1000
    train_snrs: tuple[float, ...] = (0.1, 0.4, 0.6)
    test_snr: float = 0.1
    jitter_deg: float = 0.0
    inplane_rotation: bool = False
    max_shift_px: float = 0.0
    ctf: bool = False
    defocus_range_A: tuple[float, float] = (10000.0, 25000.0)
    astigmatism_A: float = 0.0
    voltage_kV: float = 300.0
    cs_mm: float = 2.7
    amplitude_contrast: float = 0.1
    b_factor_A2: float = 0.0
    noise_per: str = "image"
    seed: int = 0

    def __post_init__(self):
        if self.image_size < 8 or self.image_size % 8:
            raise ValueError("image_size must be a multiple of 8 (the autoencoder pools three times)")
        if self.n_views < 1 or self.images_per_view < 1:
            raise ValueError("n_views and images_per_view must be >= 1")
        if any(s <= 0 for s in (*self.train_snrs, self.test_snr)):
            raise ValueError("SNRs must be > 0")
        if self.noise_per not in ("image", "stack"):
            raise ValueError("noise_per must be 'image' or 'stack'")

    @classmethod
    def quick(cls, **overrides) -> "SimulationConfig":
        """CPU scale: 32 px images, 150 images per view; the same code path."""
        return cls(**{"image_size": 32, "images_per_view": 150, **overrides})

    @classmethod
    def full(cls, **overrides) -> "SimulationConfig":
        """The paper's scale (the defaults)."""
        return cls(**overrides)

    @classmethod
    def for_profile(cls, profile: str | None = None, **overrides) -> "SimulationConfig":
        """:meth:`quick` or :meth:`full` according to :func:`get_profile`."""
        return cls.quick(**overrides) if get_profile(profile) == "quick" else cls.full(**overrides)

    def realistic(self, jitter_deg: float = 5.0, max_shift_px: float | None = None) -> "SimulationConfig":
        """The same scale with angular jitter, in-plane rotation, shifts and a CTF (defocus spread)."""
        shift = self.image_size / 32 if max_shift_px is None else max_shift_px
        return replace(self, jitter_deg=jitter_deg, inplane_rotation=True, max_shift_px=shift, ctf=True)

    def as_dict(self) -> dict:
        return asdict(self)
