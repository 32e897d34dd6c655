"""The classification ceiling: every image classified with the true view templates (perfect references).

Beside any 2D classification's F1, :func:`~cdae_lite.cluster.ceiling.template_ceiling` gives what a
perfect set of references would reach on the same images (each image's CTF, all in-plane rotations and shifts).
"""

from __future__ import annotations

import numpy as np
import torch

from cdae_lite.cluster.fourier import _Band, _check_stack, _prepare, _rotated, _scores
from cdae_lite.images import check_images


def template_ceiling(images, templates, ctf=None, n_angles: int = 72, max_shift_px: float | None = None,
                     shift_step_px: float = 1.0, max_freq: float = 1.0, device=None,
                     max_elements: int = 1 << 22) -> np.ndarray:
    """Labels from the true view templates: what perfect references would give (the classification ceiling).

    Each image takes the template of highest CTF-weighted normalised correlation
    ``Re<C_i S_t R_a T_k, X_i> / |C_i R_a T_k|`` over all in-plane rotations (``n_angles``) and shifts
    (up to ``max_shift_px``), i.e. the maximum likelihood with a free per-image amplitude; the
    templates are the clean projections of each view (without CTF), each image's CTF is applied to them.

    Parameters
    ----------
    images : array (n, size, size)
        The particles, any units.
    templates : array (k, size, size)
        One clean projection per view (without CTF), the same size as the images.
    ctf : array (n, size, size), optional
        Each image's CTF, as for :func:`~cdae_lite.cluster.ml2d.ml2d_classify`; None: no CTF.
    n_angles, max_shift_px, shift_step_px : int, float or None, float
        The rotations and shifts searched, as in :func:`~cdae_lite.cluster.ml2d.ml2d_classify`.
    max_freq : float
        Highest frequency compared, a fraction of Nyquist in (0, 1].
    device : str or torch.device, optional
        Where to compute (default CPU).
    max_elements : int
        Scores held in memory at once.

    Returns
    -------
    ndarray (n,) int64
        The index of the best template of each image.

    Raises
    ------
    ValueError
        Images or templates that :func:`~cdae_lite.images.check_images` refuses, fewer than 2 images,
        ``len(templates)`` above the number of images, constant images, templates of another size, or a
        CTF of the wrong shape.
    """
    tpl = check_images(templates, "templates")
    x = _check_stack(images, len(tpl))
    if tpl.shape[1:] != x.shape[1:]:
        raise ValueError(f"templates are {tpl.shape[1]} px, images {x.shape[1]} px: resample one of them")
    dev = torch.device(device or "cpu")
    s, k = x.shape[-1], len(tpl)
    band = _Band(s, max_freq, s / 24 if max_shift_px is None else max_shift_px, shift_step_px, dev)
    xf, cf = _prepare(x, ctf, "full", band, dev)
    angles = torch.arange(n_angles, device=dev, dtype=torch.float32) * (360.0 / n_angles)
    rf = _rotated(torch.as_tensor(tpl, device=dev), angles, band)
    batch = max(1, max_elements // (len(band.shifts) * k * n_angles))
    out = []
    for st in range(0, len(x), batch):
        cross, norm = _scores(xf[st: st + batch], cf[st: st + batch], rf, band)
        score = (cross / norm.clamp_min(1e-12).sqrt()[:, None]).amax(1)  # (B, KA)
        out.append(score.reshape(len(score), k, n_angles).amax(2).argmax(1))
    return torch.cat(out).cpu().numpy().astype(np.int64)
