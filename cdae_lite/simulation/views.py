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

    Returns
    -------
    numpy.ndarray (k, 3): ``(rot, tilt, psi)`` in degrees, ``psi = 0``.
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
