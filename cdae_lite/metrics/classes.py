"""How close are a classification's class averages to the true views? FRC resolution after alignment.

A 2D classification is judged twice: by its labels (:func:`~cdae_lite.metrics.clustering_scores`) and by
its class averages, which is what a practitioner looks at. :func:`~cdae_lite.metrics.class_average_resolution`
pairs each class with a true view (the matching of :func:`~cdae_lite.metrics.matched_scores`), turns and shifts the
class average onto that view's clean projection, and reads where their Fourier ring correlation (FRC)
falls below 0.5 and below 0.143, the two thresholds read in cryo-EM.
"""

from __future__ import annotations

import numpy as np
import torch

from cdae_lite.images import check_images, rotate_images
from cdae_lite.metrics.clustering import matched_scores
from cdae_lite.metrics.quality import frc, frc_resolution


def _turned(image: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """``image`` (s, s) at each of ``angles`` (degrees), centred on its mean: (len(angles), s, s) float64."""
    rot = rotate_images(torch.from_numpy(np.repeat(image[None].astype(np.float32), len(angles), 0)),
                        torch.from_numpy(np.asarray(angles, np.float32))).numpy().astype(np.float64)
    return rot - rot.mean(axis=(1, 2), keepdims=True)


def _align_onto(image: np.ndarray, template: np.ndarray, n_angles: int, max_shift_px: int) -> np.ndarray:
    """``image`` turned and shifted onto ``template`` (s, s): the best normalised cross-correlation over
    ``n_angles`` in-plane angles and whole-pixel shifts up to ``max_shift_px`` along each axis, then refined
    to 0.5 degrees and 0.25 pixels (shifts applied in Fourier space). Returns (s, s) float64."""
    s = image.shape[-1]
    ft = np.conj(np.fft.fft2(template.astype(np.float64) - template.mean()))
    coarse = np.arange(n_angles) * 360.0 / n_angles
    cc = np.fft.ifft2(np.fft.fft2(_turned(image, coarse)) * ft[None]).real  # cc[a, dy, dx]: turned image at +d
    d = np.fft.fftfreq(s, 1.0 / s)
    near = (np.abs(d)[:, None] <= max_shift_px) & (np.abs(d)[None, :] <= max_shift_px)
    cc[:, ~near] = -np.inf
    a, iy, ix = np.unravel_index(np.argmax(cc), cc.shape)
    fine = coarse[a] + np.arange(-2.5, 2.75, 0.5) * (360.0 / n_angles) / 5.0
    fr = np.fft.fft2(_turned(image, fine))  # (A, s, s)
    step = np.arange(-0.75, 0.8, 0.25)
    sy, sx = (d[iy] + step)[:, None], (d[ix] + step)[None, :]
    ky, kx = np.fft.fftfreq(s)[:, None], np.fft.fftfreq(s)[None, :]
    # undo a displacement (sy, sx): multiply by exp(+2 pi i (ky sy + kx sx)); (Y, X, s, s) phase ramps
    ramps = np.exp(2j * np.pi * (ky[None, None] * sy[:, :, None, None] + kx[None, None] * sx[:, :, None, None]))
    score = np.einsum("ahw,yxhw->ayx", fr * ft[None], ramps).real
    a2, y2, x2 = np.unravel_index(np.argmax(score), score.shape)
    return np.fft.ifft2(fr[a2] * ramps[y2, x2]).real


def class_average_resolution(averages, templates, labels_true, labels_pred, pixel_size_A: float,
                             n_angles: int = 72, max_shift_px: int = 4) -> dict:
    """FRC resolution (Angstrom) of each true view's class average, after aligning it to the view.

    Each class is paired with a true view as in :func:`~cdae_lite.metrics.matched_scores`; its average is
    turned over ``n_angles`` in-plane angles and shifted by whole pixels to the best correlation with
    the view's clean projection, and the FRC between the two is read at 0.5 and at 0.143.

    Parameters
    ----------
    averages : array (k, size, size)
        One average per class label ``0 .. k-1`` (any units; the FRC ignores scale), e.g. the ``averages``
        of :func:`~cdae_lite.cluster.ml2d.ml2d_classify` or :func:`~cdae_lite.cluster.methods.class_averages`.
    templates : array (v, size, size)
        The clean projection of each true view ``0 .. v-1`` (without CTF).
    labels_true : array_like (n,) int
        Every image's true view.
    labels_pred : array_like (n,) int
        Every image's class, ``0 .. k-1``.
    pixel_size_A : float
        Pixel size, Angstrom.
    n_angles : int
        In-plane angles tried, evenly spaced over 360 degrees.
    max_shift_px : int
        Largest shift tried along each axis, pixels.

    Returns
    -------
    dict
        ``resolution_05_A`` and ``resolution_0143_A``: ndarray (v,) float64, Angstrom, per true view
        (NaN for a view that no class is matched to; ``2 * pixel_size_A``, Nyquist, where the FRC never
        falls below the threshold); ``matched``: the number of views with a class; ``nyquist_A``.

    Raises
    ------
    ValueError
        Averages and templates of different sizes, a label outside ``averages``, or a pixel size that is
        not positive.
    """
    avg, tpl = check_images(averages, "averages"), check_images(templates, "templates")
    if avg.shape[1:] != tpl.shape[1:]:
        raise ValueError(f"averages are {avg.shape[-1]} px, templates {tpl.shape[-1]} px")
    if not pixel_size_A > 0:
        raise ValueError(f"pixel size {pixel_size_A} A: must be positive")
    pred = np.asarray(labels_pred)
    if pred.size and (pred.min() < 0 or pred.max() >= len(avg)):
        raise ValueError(f"labels run from {pred.min()} to {pred.max()}, but there are {len(avg)} averages")
    s = avg.shape[-1]
    res = {t: np.full(len(tpl), np.nan) for t in (0.5, 0.143)}
    mapping = matched_scores(labels_true, pred)["mapping"]
    for cls, view in mapping.items():
        curve = frc(_align_onto(avg[cls], tpl[view], n_angles, max_shift_px)[None], tpl[view][None])
        for t in res:
            res[t][view] = s * pixel_size_A / max(float(frc_resolution(curve, t)[0]), 1.0)
    return {"resolution_05_A": res[0.5], "resolution_0143_A": res[0.143], "matched": len(mapping),
            "nyquist_A": 2 * pixel_size_A}
