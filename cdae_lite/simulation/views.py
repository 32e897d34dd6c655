"""Choosing view directions that look different, whatever their in-plane rotation."""

from __future__ import annotations

import numpy as np
import torch

from cdae_lite.images import rotate_images
from cdae_lite.simulation.projection import Projector, check_map
from cdae_lite.simulation.rotations import fibonacci_directions


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

    Parameters
    ----------
    volume : numpy.ndarray
        ``(n, n, n)`` map, indexed ``[z, y, x]``.
    k : int, optional
        Number of views, at least 2.
    n_candidates : int, optional
        Candidate directions on the hemisphere.
    size : int, optional
        The map is resampled to this box, voxels, before projecting the candidates (speed).
    device : str, optional
        Where the candidates are projected.

    Returns
    -------
    numpy.ndarray
        ``(k, 3)``: ``(rot, tilt, psi)`` in degrees, ``psi = 0``, rounded to 0.01.
    """
    from cdae_lite.simulation.maps import resample

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


def hemisphere_views(n: int) -> np.ndarray:
    """``n`` view directions spread evenly over a hemisphere (Fibonacci lattice), in-plane angle 0.

    Parameters
    ----------
    n : int -- number of views, >= 1.

    Returns
    -------
    numpy.ndarray (n, 3), float64: ``(rot, tilt, psi)`` in degrees (RELION ZYZ), tilt in [0, 90].
    """
    out = np.zeros((n, 3))
    out[:, :2] = fibonacci_directions(n, hemisphere=True)
    return np.round(out, 2)


def resolve_views(views_deg: np.ndarray | None, n_views: int | None, default) -> np.ndarray:
    """The view directions of a simulation, from explicit directions, a number of views, or a default.

    * ``views_deg`` given: they are the views (their number is the number of views); an ``n_views``
      that differs is an error.
    * only ``n_views``: the first ``n_views`` of ``default`` when it holds that many, otherwise
      ``default`` itself when it is a function of the number of views (e.g. choosing distinct views
      of a map), otherwise :func:`~cdae_lite.simulation.views.hemisphere_views` (``n_views`` directions
      spread over a hemisphere).
    * neither: ``default`` (an array, or a function called with None).

    Parameters
    ----------
    views_deg : array (m, 3) or None -- explicit ``(rot, tilt, psi)`` in degrees.
    n_views : int or None -- the number of views asked for.
    default : array (m, 3) or callable ``n -> array (n, 3)``.

    Returns
    -------
    numpy.ndarray (n, 3), float64, degrees.

    Raises
    ------
    ValueError
        ``n_views`` < 1, or ``n_views`` disagrees with the number of explicit directions.
    """
    if n_views is not None and n_views < 1:
        raise ValueError(f"the number of views must be >= 1, got {n_views}")
    if views_deg is not None:
        views = np.asarray(views_deg, np.float64).reshape(-1, 3)
        if n_views is not None and n_views != len(views):
            raise ValueError(f"{n_views} views asked for but {len(views)} view directions given: "
                             "give one of the two, or make them agree")
        return views
    if callable(default):
        return np.asarray(default(n_views), np.float64).reshape(-1, 3)
    views = np.asarray(default, np.float64).reshape(-1, 3)
    if n_views is None:
        return views
    return views[:n_views] if n_views <= len(views) else hemisphere_views(n_views)


def parse_views(text: str) -> np.ndarray:
    """Parse explicit view directions.

    Parameters
    ----------
    text : str -- ``'rot,tilt,psi;rot,tilt,psi'``, degrees (RELION ZYZ).

    Returns
    -------
    numpy.ndarray (n, 3), float64, degrees.

    Raises
    ------
    ValueError
        Text that is not a list of numeric triples.
    """
    try:
        arr = np.array([[float(x) for x in v.split(",")] for v in text.split(";") if v.strip()], float)
    except ValueError as exc:
        raise ValueError(f"--views-deg must look like 'rot,tilt,psi;rot,tilt,psi', got {text!r}") from exc
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"--views-deg must list (rot, tilt, psi) triples, got {text!r}")
    return arr
