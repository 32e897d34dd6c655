"""The simulation config: the paper's protocol (section 4.1) and its realistic variant."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class SimulationConfig:
    """How to simulate a protein's images: the paper's protocol (section 4.1) and options beyond it.

    The defaults are the paper's: 4 views, 1000 images per view, 64 px images, training protein at
    SNR 0.1, 0.4 and 0.6 (plus the clean images), test proteins at SNR 0.1, exact view directions,
    no in-plane rotation, no shifts, no CTF. :meth:`realistic` turns on what real data has and the
    paper's data had not. (The paper's quick profile, a CPU's scale, is in :mod:`cdae_lite.paper.profiles`.)

    Attributes
    ----------
    image_size : int -- box size, pixels (the map is resampled to it).
    n_views : int -- view directions per protein (the shipped proteins have 4).
    images_per_view : int
    train_snrs, test_snr : SNRs (variance definition, see :mod:`cdae_lite.simulation.noise`).
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

    def realistic(self, jitter_deg: float = 5.0, max_shift_px: float | None = None) -> "SimulationConfig":
        """The same scale with angular jitter, in-plane rotation, shifts and a CTF (defocus spread).

        Parameters
        ----------
        jitter_deg : float
            Standard deviation of each view's random tilt, degrees.
        max_shift_px : float, optional
            Largest shift on each axis, pixels (default: ``image_size / 32``, 2 px at 64 px).

        Returns
        -------
        SimulationConfig
            This config with jitter, in-plane rotation, shifts and a CTF turned on.
        """
        shift = self.image_size / 32 if max_shift_px is None else max_shift_px
        return replace(self, jitter_deg=jitter_deg, inplane_rotation=True, max_shift_px=shift, ctf=True)

    def as_dict(self) -> dict:
        """The config as a plain dict (for records and cache keys).

        Returns
        -------
        dict
            Field name to value.
        """
        return asdict(self)