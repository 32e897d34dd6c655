"""Images rotated in plane: alignment-aware 2D classification.

:func:`~cdae_lite.images.rotation_invariant_features` (re-exported here) starts it.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.decomposition import PCA

from cdae_lite.cluster.methods import check_k, kmeans
from cdae_lite.images import check_images, normalise, rotation_invariant_features


def rotate(images, angles_deg) -> np.ndarray:
    """Rotate each image about its centre pixel, bilinear, zero fill.

    Parameters
    ----------
    images : array (n, s, s)
        The images, any units.
    angles_deg : array (n,)
        Each image's rotation, degrees (the convention of :func:`~cdae_lite.images.rotate_images`).

    Returns
    -------
    ndarray (n, s, s) float32
        The rotated images.

    Raises
    ------
    ValueError
        Images that :func:`~cdae_lite.images.check_images` refuses.
    """
    from cdae_lite.images import rotate_images

    x = torch.from_numpy(check_images(images))
    return rotate_images(x, torch.as_tensor(np.asarray(angles_deg, np.float32))).numpy()


def _lowpass(refs: np.ndarray, sigma_px: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(refs, sigma=(0, sigma_px, sigma_px)) if sigma_px > 0 else refs


def _best_rotation(xm: torch.Tensor, refs: np.ndarray, angles: np.ndarray, mask: np.ndarray):
    """Correlation of every masked image ``xm`` (n, s*s) with every reference (k, s, s) at every rotation:
    the best reference (n,), its angle in degrees (n,) and the correlation (n,)."""
    n_angles = len(angles)
    rot = np.stack([rotate(refs, np.full(len(refs), a)) for a in angles], 1) * mask  # (k, A, s, s)
    r = torch.from_numpy(rot.reshape(len(refs) * n_angles, -1))
    r = r - r.mean(1, keepdim=True)
    r = r / r.norm(dim=1, keepdim=True).clamp_min(1e-9)
    score = xm @ r.T  # (n, k * A)
    best = score.argmax(1).numpy()
    return best // n_angles, angles[best % n_angles], score.max(1).values.numpy()


def _first_references(x: np.ndarray, xm: torch.Tensor, labels: np.ndarray, k: int, angles: np.ndarray,
                      mask: np.ndarray, seed: int) -> np.ndarray:
    """Initial references (k, s, s) float32: each class's members aligned to its most typical member and
    averaged; an empty class takes a random image (seeded)."""
    n, s = x.shape[0], x.shape[-1]
    refs = np.zeros((k, s, s), np.float32)
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if len(members) == 0:
            refs[c] = x[np.random.default_rng(seed + c).integers(n)]
            continue
        seed_img = x[members[np.argmax(xm[members] @ xm[members].mean(0))]][None]
        rot = np.stack([rotate(seed_img, [a])[0] for a in angles])
        sc = xm[members] @ torch.from_numpy((rot * mask).reshape(len(angles), -1)).T
        a_best = angles[sc.argmax(1).numpy()]
        refs[c] = rotate(x[members], -a_best).mean(0)
    return refs


def align_classify(images, k: int, n_iter: int = 8, n_angles: int = 36, seed: int = 0,
                   lowpass_px: float = 1.0, mask_radius: float | None = None, reference_denoiser=None):
    """Reference-free 2D classification with rotational alignment.

    1. Start from k-means on :func:`~cdae_lite.images.rotation_invariant_features`.
    2. Each class reference is its members' average after aligning every member to the member
       nearest the class centre (over ``n_angles`` rotations).
    3. Iterate: every image takes the (reference, rotation) of highest correlation; references are
       re-averaged from their rotated members and low-passed (``lowpass_px``) to resist noise.

    With ``reference_denoiser`` (a function of a stack of images, e.g. the general model's
    :func:`~cdae_lite.denoise.inference.predict`), the references are denoised by it instead of
    low-passed (the learned counterpart of RELION's regularisation of its references).

    Parameters
    ----------
    images : array (n, s, s)
        The particles, any units (each image is normalised to zero mean, unit std).
    k : int
        The number of classes, 1 <= k <= n.
    n_iter : int
        Alignment iterations after the first references.
    n_angles : int
        In-plane rotations searched, ``360 / n_angles`` degrees apart.
    seed : int
        Seeds k-means, the PCA and the images that restart empty classes.
    lowpass_px : float
        Standard deviation of the Gaussian low-pass of the references, pixels (0: none).
    mask_radius : float, optional
        Radius of the circular mask the correlations see, pixels (default ``s / 2 - 1``).
    reference_denoiser : callable, optional
        Maps the references, an array (k, s, s), to denoised ones of the same shape; replaces the low-pass.

    Returns
    -------
    labels : ndarray (n,) int64
        The class of each image.
    references : ndarray (k, s, s) float32
        The final class references (averages of the aligned members, normalised images' units).
    angles_deg : ndarray (n,) float64
        The rotation (degrees) that aligns each image to its reference; rotating the image by minus
        this angle with :func:`rotate` matches it to the reference.

    Raises
    ------
    ValueError
        Images that :func:`~cdae_lite.images.check_images` refuses, or ``k`` outside 1..n.
    """
    x = normalise(images)
    n, s = x.shape[0], x.shape[-1]
    check_k(n, k)
    yy, xx = np.indices((s, s)) - s // 2
    mask = (np.hypot(xx, yy) <= (mask_radius or s / 2 - 1)).astype(np.float32)
    angles = np.arange(n_angles) * 360.0 / n_angles
    labels = kmeans(PCA(n_components=min(20, n), random_state=seed).fit_transform(rotation_invariant_features(x)),
                    k, seed)
    xm = torch.from_numpy(x * mask).reshape(n, -1)
    refs = _first_references(x, xm, labels, k, angles, mask, seed)
    ang = np.zeros(n)
    for _ in range(n_iter):
        refs = _lowpass(refs, lowpass_px) if reference_denoiser is None else normalise(reference_denoiser(refs))
        labels, ang, _ = _best_rotation(xm, refs, angles, mask)
        new = np.zeros_like(refs)
        for c in range(k):
            m = labels == c
            if m.any():
                new[c] = rotate(x[m], -ang[m]).mean(0)
            else:  # an empty class restarts from a random image (seeded)
                new[c] = x[np.random.default_rng(seed + c).integers(n)]
        refs = new
    return labels.astype(np.int64), refs, ang
