"""Rotations in RELION's ZYZ Euler convention.

RELION describes an orientation by three angles in degrees: ``rot`` (first rotation about z),
``tilt`` (about the new y) and ``psi`` (in-plane, about the new z). The matrix ``A`` built from them
maps coordinates of the 3D map into the frame of the image: a point ``r_map`` of the map lands at
``r_img = A @ r_map`` and the image is the sum along the image's z axis. The viewing direction, in map
coordinates, is therefore the last row of ``A``: ``(sin(tilt) cos(rot), sin(tilt) sin(rot),
cos(tilt))``. ``rot = tilt = psi = 0`` looks down the map's z axis.

All functions take and return NumPy arrays in float64 (angles in degrees).
"""

from __future__ import annotations

import numpy as np


def euler_to_matrix(rot_deg: np.ndarray | float, tilt_deg: np.ndarray | float,
                    psi_deg: np.ndarray | float) -> np.ndarray:
    """RELION's ``Euler_angles2matrix``: angles in degrees to rotation matrices.

    Parameters
    ----------
    rot_deg, tilt_deg, psi_deg : float or array of shape (n,)
        Euler angles in degrees (broadcast against each other).

    Returns
    -------
    numpy.ndarray
        Shape ``(n, 3, 3)`` (or ``(3, 3)`` for scalar input), float64: the matrices ``A``.
    """
    a, b, g = (np.deg2rad(np.asarray(x, dtype=np.float64)) for x in (rot_deg, tilt_deg, psi_deg))
    a, b, g = np.broadcast_arrays(a, b, g)
    ca, cb, cg = np.cos(a), np.cos(b), np.cos(g)
    sa, sb, sg = np.sin(a), np.sin(b), np.sin(g)
    cc, cs, sc, ss = cb * ca, cb * sa, sb * ca, sb * sa
    m = np.empty(a.shape + (3, 3))
    m[..., 0, 0] = cg * cc - sg * sa
    m[..., 0, 1] = cg * cs + sg * ca
    m[..., 0, 2] = -cg * sb
    m[..., 1, 0] = -sg * cc - cg * sa
    m[..., 1, 1] = -sg * cs + cg * ca
    m[..., 1, 2] = sg * sb
    m[..., 2, 0] = sc
    m[..., 2, 1] = ss
    m[..., 2, 2] = cb
    return m


def matrix_to_euler(matrices: np.ndarray) -> np.ndarray:
    """Inverse of :func:`euler_to_matrix` (RELION's ``Euler_matrix2angles``).

    Parameters
    ----------
    matrices : array of shape (n, 3, 3) or (3, 3)

    Returns
    -------
    numpy.ndarray
        Shape ``(n, 3)`` (or ``(3,)``): ``rot, tilt, psi`` in degrees, tilt in [0, 180]. At
        ``tilt = 0`` or ``180`` only ``rot + psi`` is defined; ``rot`` is then set to 0.
    """
    m = np.asarray(matrices, dtype=np.float64)
    single = m.ndim == 2
    m = m.reshape(-1, 3, 3)
    abs_sb = np.hypot(m[:, 0, 2], m[:, 1, 2])
    regular = abs_sb > 16 * np.finfo(np.float32).eps
    out = np.empty((m.shape[0], 3))
    # general case: sin(tilt) > 0, so the signs of the entries give rot and psi directly
    out[:, 0] = np.where(regular, np.arctan2(m[:, 2, 1], m[:, 2, 0]), 0.0)
    out[:, 1] = np.where(regular, np.arctan2(abs_sb, m[:, 2, 2]), np.where(m[:, 2, 2] > 0, 0.0, np.pi))
    # degenerate case (tilt 0 or 180): rot is set to 0 and psi carries rot + psi (or psi - rot)
    psi_deg0 = np.arctan2(-m[:, 1, 0], m[:, 0, 0])
    psi_deg180 = np.arctan2(m[:, 1, 0], -m[:, 0, 0])
    out[:, 2] = np.where(regular, np.arctan2(m[:, 1, 2], -m[:, 0, 2]),
                         np.where(m[:, 2, 2] > 0, psi_deg0, psi_deg180))
    out = np.rad2deg(out)
    return out[0] if single else out


def viewing_direction(rot_deg: np.ndarray | float, tilt_deg: np.ndarray | float) -> np.ndarray:
    """Unit viewing direction(s) in map coordinates ``(x, y, z)``.

    Parameters
    ----------
    rot_deg, tilt_deg : float or numpy.ndarray
        RELION's first two Euler angles, degrees, numbers or ``(n,)``.

    Returns
    -------
    numpy.ndarray
        ``(n, 3)`` float64, or ``(3,)`` for numbers.
    """
    a, b = np.deg2rad(np.asarray(rot_deg, float)), np.deg2rad(np.asarray(tilt_deg, float))
    return np.stack([np.sin(b) * np.cos(a), np.sin(b) * np.sin(a), np.cos(b)], axis=-1)


def axis_angle_matrix(axes: np.ndarray, angles_deg: np.ndarray) -> np.ndarray:
    """Active rotation matrices about unit axes (Rodrigues' formula).

    Parameters
    ----------
    axes : numpy.ndarray
        ``(n, 3)`` rotation axes (normalised here), or one ``(3,)``.
    angles_deg : numpy.ndarray
        ``(n,)`` rotation angles, degrees (counter-clockwise about the axis).

    Returns
    -------
    numpy.ndarray
        ``(n, 3, 3)`` float64.
    """
    k = np.asarray(axes, float).reshape(-1, 3)
    k = k / np.linalg.norm(k, axis=1, keepdims=True)
    t = np.deg2rad(np.asarray(angles_deg, float)).reshape(-1)
    kx = np.zeros((k.shape[0], 3, 3))
    kx[:, 0, 1], kx[:, 0, 2] = -k[:, 2], k[:, 1]
    kx[:, 1, 0], kx[:, 1, 2] = k[:, 2], -k[:, 0]
    kx[:, 2, 0], kx[:, 2, 1] = -k[:, 1], k[:, 0]
    eye = np.eye(3)[None]
    return eye + np.sin(t)[:, None, None] * kx + (1 - np.cos(t))[:, None, None] * (kx @ kx)


def jitter(matrices: np.ndarray, sigma_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Perturb orientations by small random rotations.

    Each matrix ``A`` becomes ``A @ R`` where ``R`` rotates the map about a uniformly random axis by
    an angle drawn from a normal distribution with standard deviation ``sigma_deg``. The viewing
    direction then moves by about ``sigma_deg`` degrees (RMS over the two tilting axes).

    Parameters
    ----------
    matrices : numpy.ndarray
        ``(n, 3, 3)`` rotation matrices (RELION's ``A``).
    sigma_deg : float
        Standard deviation of the perturbation angle in degrees; 0 returns a copy.
    rng : numpy.random.Generator
        Source of the axes and angles (seeded by the caller).

    Returns
    -------
    numpy.ndarray
        ``(n, 3, 3)`` float64.
    """
    m = np.asarray(matrices, float).reshape(-1, 3, 3)
    if sigma_deg <= 0:
        return m.copy()
    axes = rng.normal(size=(m.shape[0], 3))
    angles = rng.normal(scale=sigma_deg, size=m.shape[0])
    return m @ axis_angle_matrix(axes, angles)


def fibonacci_directions(n: int, hemisphere: bool = False) -> np.ndarray:
    """Nearly uniform directions on the sphere (a Fibonacci lattice).

    With ``hemisphere=True`` only tilts in [0, 90] are returned (for a projection, the opposite
    direction gives the mirror image, so a hemisphere covers all distinct views up to mirroring).

    Parameters
    ----------
    n : int
        Number of directions, at least 1.
    hemisphere : bool, optional
        Only the upper hemisphere.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` float64 ``(rot, tilt)`` in degrees, rot in [-180, 180), tilt in [0, 180] (or [0, 90]).
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    i = np.arange(n) + 0.5
    z = 1 - i / n if hemisphere else 1 - 2 * i / n
    tilt = np.rad2deg(np.arccos(np.clip(z, -1, 1)))
    rot = (np.rad2deg(np.pi * (1 + 5**0.5) * i) + 180.0) % 360.0 - 180.0
    return np.stack([rot, tilt], axis=1)
