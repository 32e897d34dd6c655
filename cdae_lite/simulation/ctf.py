"""The contrast transfer function (CTF) of the microscope: model, application, phase flipping.

Convention (RELION's, with positive contrast for positive density)::

    CTF(k) = -sin(chi(k)) * exp(-B k^2 / 4)
    chi(k) = -pi * lambda * dz(theta) * k^2 + (pi / 2) * Cs * lambda^3 * k^4 - phi - arctan(A / sqrt(1 - A^2))

with ``k`` the spatial frequency in 1/Angstrom, ``lambda`` the relativistic electron wavelength in
Angstrom, ``Cs`` the spherical aberration in Angstrom (``cs_mm * 1e7``), ``A`` the amplitude contrast,
``phi`` an extra phase shift (phase plate) and the astigmatic defocus (positive = underfocus)::

    dz(theta) = (dU + dV) / 2 + (dU - dV) / 2 * cos(2 * (theta - theta_ast))

At ``k = 0`` the CTF equals ``A`` (for ``phi = 0``), and without aberration (``Cs = 0, A = 0``) its zeros
fall at ``k^2 = n / (lambda * dz)``.

Functions take NumPy arrays or torch tensors and return the same kind.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class CTFParams:
    """Microscope and defocus parameters of one image (RELION's STAR labels in brackets).

    Attributes
    ----------
    defocus_u_A, defocus_v_A : float
        Defocus along the two astigmatism axes, Angstrom, positive = underfocus (rlnDefocusU/V).
    defocus_angle_deg : float
        Angle of the U axis from the image x axis, degrees (rlnDefocusAngle).
    voltage_kV : float
        Acceleration voltage (rlnVoltage).
    cs_mm : float
        Spherical aberration, mm (rlnSphericalAberration).
    amplitude_contrast : float
        Fraction of amplitude contrast, 0 to 1 (rlnAmplitudeContrast).
    b_factor_A2 : float
        Envelope ``exp(-B k^2 / 4)``, Angstrom^2 (rlnCtfBfactor).
    phase_shift_deg : float
        Extra phase shift, degrees (rlnPhaseShift).
    """

    defocus_u_A: float = 15000.0
    defocus_v_A: float = 15000.0
    defocus_angle_deg: float = 0.0
    voltage_kV: float = 300.0
    cs_mm: float = 2.7
    amplitude_contrast: float = 0.1
    b_factor_A2: float = 0.0
    phase_shift_deg: float = 0.0

    def __post_init__(self):
        if self.voltage_kV <= 0:
            raise ValueError("voltage_kV must be positive")
        if not 0 <= self.amplitude_contrast < 1:
            raise ValueError("amplitude_contrast must be in [0, 1)")
        if self.cs_mm < 0:
            raise ValueError("cs_mm must be >= 0")

    def as_dict(self) -> dict:
        return asdict(self)


def electron_wavelength_A(voltage_kV: float) -> float:
    """Relativistic de Broglie wavelength of electrons (0.0197 A at 300 kV).

    Parameters
    ----------
    voltage_kV : float
        Accelerating voltage, kV.

    Returns
    -------
    float
        Wavelength, Angstrom.
    """
    v = voltage_kV * 1e3
    return 12.2642598 / np.sqrt(v * (1 + 0.978466e-6 * v))


def ctf_1d(freq_per_A: np.ndarray, defocus_A: float, voltage_kV: float = 300.0, cs_mm: float = 2.7,
           amplitude_contrast: float = 0.1, b_factor_A2: float = 0.0,
           phase_shift_deg: float = 0.0) -> np.ndarray:
    """The CTF along one radial line (no astigmatism), as in a textbook figure.

    Parameters
    ----------
    freq_per_A : array
        Spatial frequencies in 1/Angstrom.
    defocus_A : float
        Defocus in Angstrom (positive = underfocus).

    Returns
    -------
    numpy.ndarray
        CTF values, same shape as ``freq_per_A``.
    """
    k = np.asarray(freq_per_A, dtype=np.float64)
    lam = electron_wavelength_A(voltage_kV)
    cs = cs_mm * 1e7
    w = np.arctan(amplitude_contrast / np.sqrt(1 - amplitude_contrast**2))
    chi = (-np.pi * lam * defocus_A * k**2 + 0.5 * np.pi * cs * lam**3 * k**4
           - np.deg2rad(phase_shift_deg) - w)
    return -np.sin(chi) * np.exp(-b_factor_A2 * k**2 / 4)


def _to_tensor(x, device=None) -> torch.Tensor:
    return torch.as_tensor(np.array(x, np.float64) if not torch.is_tensor(x) else x,
                           dtype=torch.float64, device=device)


def ctf_2d(size: int, pixel_size_A: float, defocus_u_A, defocus_v_A=None, defocus_angle_deg=0.0,
           voltage_kV: float = 300.0, cs_mm: float = 2.7, amplitude_contrast: float = 0.1,
           b_factor_A2: float = 0.0, phase_shift_deg: float = 0.0,
           device: str | torch.device | None = None) -> torch.Tensor:
    """2D CTF images, one per defocus value, with zero frequency at pixel ``(size//2, size//2)``.

    Parameters
    ----------
    size : int
        Box size in pixels.
    pixel_size_A : float
        Angstrom per pixel.
    defocus_u_A, defocus_v_A, defocus_angle_deg : float or array (n,)
        Astigmatic defocus per image (``defocus_v_A`` defaults to ``defocus_u_A``).

    Returns
    -------
    torch.Tensor
        Shape ``(n, size, size)``, float32 (``fftshift`` layout).
    """
    if size < 2 or pixel_size_A <= 0:
        raise ValueError("size must be >= 2 and pixel_size_A > 0")
    du = _to_tensor(defocus_u_A, device).reshape(-1)
    dv = du if defocus_v_A is None else _to_tensor(defocus_v_A, device).reshape(-1)
    ang = _to_tensor(defocus_angle_deg, device).reshape(-1)
    du, dv, ang = torch.broadcast_tensors(du, dv, ang)
    f = (torch.arange(size, device=du.device, dtype=torch.float64) - size // 2) / (size * pixel_size_A)
    ky, kx = torch.meshgrid(f, f, indexing="ij")
    k2 = kx**2 + ky**2
    theta = torch.atan2(ky, kx)
    dz = 0.5 * (du + dv)[:, None, None] + 0.5 * (du - dv)[:, None, None] * torch.cos(
        2 * (theta[None] - torch.deg2rad(ang)[:, None, None]))
    lam = electron_wavelength_A(voltage_kV)
    cs = cs_mm * 1e7
    w = float(np.arctan(amplitude_contrast / np.sqrt(1 - amplitude_contrast**2)))
    chi = (-np.pi * lam * dz * k2[None] + 0.5 * np.pi * cs * lam**3 * k2[None] ** 2
           - np.deg2rad(phase_shift_deg) - w)
    return (-torch.sin(chi) * torch.exp(-b_factor_A2 * k2[None] / 4)).to(torch.float32)


def _filter(images, transfer: torch.Tensor):
    """Multiply the centred 2D Fourier transform of each image by ``transfer`` (n or 1, s, s)."""
    is_np = not torch.is_tensor(images)
    x = torch.as_tensor(np.asarray(images, np.float32)) if is_np else images
    if x.ndim != 3 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"images must have shape (n, size, size), got {tuple(x.shape)}")
    t = transfer.to(x.device)
    ft = torch.fft.fftshift(torch.fft.fft2(torch.fft.ifftshift(x, dim=(-2, -1))), dim=(-2, -1))
    out = torch.fft.fftshift(torch.fft.ifft2(torch.fft.ifftshift(ft * t, dim=(-2, -1))),
                             dim=(-2, -1)).real.to(torch.float32)
    return out.numpy() if is_np else out


def apply_ctf(images, pixel_size_A: float, params: CTFParams | list[CTFParams] | None = None,
              **per_image):
    """Convolve images with the CTF (multiply their Fourier transforms).

    Parameters
    ----------
    images : array or tensor (n, size, size)
    pixel_size_A : float
    params : CTFParams, optional
        Shared microscope parameters (voltage, Cs, amplitude contrast, B-factor) and default defocus.
    **per_image
        Arrays of shape (n,) overriding ``defocus_u_A``, ``defocus_v_A``, ``defocus_angle_deg`` per image.

    Returns
    -------
    array or tensor (n, size, size), float32, of the same kind as ``images``.
    """
    transfer = _ctf_for(images, pixel_size_A, params, per_image)
    return _filter(images, transfer)


def phase_flip(images, pixel_size_A: float, params: CTFParams | None = None, **per_image):
    """Correct the CTF's phase reversals: multiply each image's transform by ``sign(CTF)``.

    Amplitudes are left as they are (the usual first step of CTF correction, as in the paper's
    pre-processing).

    Parameters
    ----------
    images : numpy.ndarray or torch.Tensor
        ``(n, size, size)`` images.
    pixel_size_A : float
        Pixel size, Angstrom.
    params : CTFParams, optional
        Microscope parameters and default defocus (default: ``CTFParams()``).
    **per_image
        Arrays of shape ``(n,)`` overriding ``defocus_u_A``, ``defocus_v_A`` (Angstrom) or
        ``defocus_angle_deg`` (degrees) per image, as in :func:`apply_ctf`.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``(n, size, size)`` float32, of the same kind as ``images``.
    """
    transfer = torch.sign(_ctf_for(images, pixel_size_A, params, per_image))
    return _filter(images, transfer)


def _ctf_for(images, pixel_size_A, params, per_image) -> torch.Tensor:
    params = params or CTFParams()
    unknown = set(per_image) - {"defocus_u_A", "defocus_v_A", "defocus_angle_deg"}
    if unknown:
        raise TypeError(f"unexpected per-image CTF arguments: {sorted(unknown)}")
    size = int(images.shape[-1])
    du = per_image.get("defocus_u_A", params.defocus_u_A)
    # without an explicit V defocus, per-image U defocus means no astigmatism
    dv = per_image.get("defocus_v_A", du if "defocus_u_A" in per_image else params.defocus_v_A)
    return ctf_2d(size, pixel_size_A, du, dv,
                  per_image.get("defocus_angle_deg", params.defocus_angle_deg),
                  params.voltage_kV, params.cs_mm, params.amplitude_contrast, params.b_factor_A2,
                  params.phase_shift_deg,
                  device=images.device if torch.is_tensor(images) else None)


def radial_average(image2d: np.ndarray) -> np.ndarray:
    """Rotational average of a centred 2D array over rings of one pixel.

    Parameters
    ----------
    image2d : numpy.ndarray
        ``(size, size)``, its centre at pixel ``size // 2`` (a power spectrum, a CTF).

    Returns
    -------
    numpy.ndarray
        ``(size // 2,)`` float64: the mean over each ring, radius 0 to ``size // 2 - 1`` pixels (rounded).
    """
    a = np.asarray(image2d, np.float64)
    n = a.shape[0]
    y, x = np.indices(a.shape) - n // 2
    r = np.round(np.hypot(x, y)).astype(int)
    sums = np.bincount(r.ravel(), a.ravel())
    counts = np.bincount(r.ravel())
    return (sums / np.maximum(counts, 1))[: n // 2]


def power_spectrum(images) -> np.ndarray:
    """Mean power spectrum ``|FFT|^2`` of a stack, centred.

    Parameters
    ----------
    images : array_like
        ``(n, size, size)`` or one ``(size, size)`` image.

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` float64, zero frequency at pixel ``size // 2``.
    """
    x = np.asarray(images, np.float64)
    if x.ndim == 2:
        x = x[None]
    ft = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1))), axes=(-2, -1))
    return (np.abs(ft) ** 2).mean(axis=0)
