"""Stack-aware denoising (beyond the paper): average each particle with its aligned look-alikes, then denoise.

A stack holds many particles seen from nearly the same direction. Denoising one image on its own
is bounded by that image's noise; averaging it with ``K`` look-alikes first divides the noise
variance by ``K + 1``, which is what 2D classification in RELION or CL2D exploits with class averages.
This is the paper's idea (neighbour means, section 3.3) done with the tools we now have:

1. every image is denoised on its own (the single-image model), and look-alikes are searched among
   the *denoised* images, where neighbours are far purer than among the raw ones;
2. ``candidates`` nearest images in a feature space (the leading principal components of the
   denoised images; with ``align``, their rotation-invariant features instead) are aligned to the
   image (in-plane rotation over ``n_angles`` angles and shift, by FFT cross-correlation of the
   denoised images), and the ``neighbours`` with the highest correlation are kept;
3. the raw image and its aligned raw neighbours are averaged, and the average is denoised.

The output is an estimate of each particle that borrows from others: heterogeneity finer than the
neighbours' differences is averaged away, as in any class average. The whole stack is held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn as nn

from cdae_lite.denoise.inference import Symmetrized, predict
from cdae_lite.denoise.neighbours import knn, pca_features
from cdae_lite.images import check_images, normalise, rotate_images, rotation_invariant_features


@dataclass(frozen=True)
class StackAwareConfig:
    """How look-alikes are found and averaged.

    Attributes
    ----------
    neighbours : int
        Look-alikes averaged with each image (``K``; the noise variance drops by K + 1).
    candidates : int
        Nearest images in feature space that are aligned and ranked (>= neighbours; fewer when the
        stack is smaller).
    align : bool
        Search in-plane rotations and shifts (particles of real stacks are rotated in plane); without
        it, images are compared as they are (e.g. the paper's simulated views).
    n_angles : int
        Rotations tried, evenly over 360 degrees (10 degrees apart by default).
    max_shift_px : int or None
        Largest shift searched, pixels (default: box / 8).
    n_components : int
        Principal components of the feature space the candidates are found in (without ``align``).
    symmetrize : int
        The averages are denoised by the model averaged over this many flips and transposes
        (:class:`~cdae_lite.denoise.inference.Symmetrized`: 8, 4 or 2; 1 turns it off). It costs little
        beside the search; the default was chosen on the validation pseudo-proteins at SNR 1 and 3
        (what an average of about 31 images is), where the symmetrised shipped model scores higher
        than the plain one, never on a test protein.
    ctf_aware : bool
        Combine the look-alikes CTF-aware (:func:`aligned_average`): :func:`stack_denoise` then needs each
        image's CTF. Chosen on the validation pseudo-proteins of the realistic preset (CTF, defocus 1 to
        2.5 um), where it scored above the plain mean (``benchmarks/stack_neighbours.py --ctf-aware``).
    wiener : float
        The regulariser of the CTF-aware combination, per image (chosen there too).

    Raises
    ------
    ValueError
        Not 1 <= neighbours <= candidates, ``n_angles`` below 1, or ``symmetrize`` not 1, 2, 4 or 8.
    """

    neighbours: int = 30
    candidates: int = 100
    align: bool = True
    n_angles: int = 36
    max_shift_px: int | None = None
    n_components: int = 10
    symmetrize: int = 8
    ctf_aware: bool = False
    wiener: float = 3e-4

    def __post_init__(self):
        if self.neighbours < 1 or self.candidates < self.neighbours or self.n_angles < 1:
            raise ValueError("need 1 <= neighbours <= candidates and n_angles >= 1, got "
                             f"neighbours={self.neighbours}, candidates={self.candidates}, n_angles={self.n_angles}")
        if self.symmetrize not in (1, 2, 4, 8):
            raise ValueError(f"symmetrize must be 1, 2, 4 or 8, got {self.symmetrize}")


@dataclass
class Alignment:
    """Each query image's kept look-alikes: indices, rotation (degrees), shift (pixels) and correlation.

    Attributes
    ----------
    neighbours : ndarray (q, K) int64
        Indices in the stack of each query's ``K`` look-alikes, best first.
    angles_deg : ndarray (q, K) float32
        The rotation of each look-alike, degrees (0 without ``align``).
    shifts_px : ndarray (q, K, 2) int64
        Its circular shift ``(dy, dx)``, pixels (0 without ``align``).
    scores : ndarray (q, K) float32
        The correlation of the aligned denoised images (normalised images: mean of products).
    """

    neighbours: np.ndarray  # int64 (q, K)
    angles_deg: np.ndarray  # float32 (q, K)
    shifts_px: np.ndarray  # int64 (q, K, 2), (dy, dx)
    scores: np.ndarray  # float32 (q, K), correlation of the aligned denoised images


def _shift_mask(size: int, max_shift: int) -> torch.Tensor:
    d = torch.arange(size)
    d = torch.minimum(d, size - d)  # circular distance of a correlation lag from 0
    return (d[:, None] <= max_shift) & (d[None, :] <= max_shift)


def find_lookalikes(denoised, config: StackAwareConfig = StackAwareConfig(), queries=None,
                    seed: int = 0) -> Alignment:
    """Look-alikes of each query image among all ``denoised`` images (itself excluded).

    Parameters
    ----------
    denoised : array (n, s, s)
        The stack after single-image denoising (each image is normalised to zero mean, unit std).
    config : StackAwareConfig
        How many candidates and neighbours, and whether and how finely to align.
    queries : array of int, optional
        Indices of the images to find look-alikes for (default: all).
    seed : int
        Seeds the PCA of the feature space (without ``align``).

    Returns
    -------
    Alignment
        With ``align``, neighbour ``j`` of query ``i`` matches ``i`` after ``roll(image_j, -shift)``
        and a rotation by ``angle`` (:func:`~cdae_lite.images.rotate_images`); see :func:`aligned_average`.

    Raises
    ------
    ValueError
        The stack holds no more than ``config.neighbours`` images.
    """
    d = normalise(check_images(denoised, "denoised"))
    n, s = d.shape[0], d.shape[-1]
    if n <= config.neighbours:
        raise ValueError(f"stack-aware denoising with {config.neighbours} neighbours needs more than "
                         f"{config.neighbours} images; the stack has {n}")
    cfg = replace(config, candidates=min(config.candidates, n - 1))
    q = np.arange(n) if queries is None else np.asarray(queries, np.int64)
    feats = rotation_invariant_features(d) if cfg.align else pca_features(d, cfg.n_components, seed)
    cand = knn(feats, cfg.candidates)[q]
    dt = torch.from_numpy(d)
    k, a = cfg.neighbours, cfg.n_angles
    out = Alignment(np.empty((len(q), k), np.int64), np.zeros((len(q), k), np.float32),
                    np.zeros((len(q), k, 2), np.int64), np.empty((len(q), k), np.float32))
    if not cfg.align:
        for b in range(0, len(q), 64):
            c = torch.from_numpy(cand[b:b + 64])
            sc = torch.einsum("qcp,qp->qc", dt[c].reshape(len(c), cfg.candidates, -1),
                              dt[q[b:b + 64]].reshape(len(c), -1)) / (s * s)
            top = torch.topk(sc, k, dim=1)
            out.neighbours[b:b + 64] = np.take_along_axis(cand[b:b + 64], top.indices.numpy(), 1)
            out.scores[b:b + 64] = top.values.numpy()
        return out
    angles = torch.arange(a, dtype=torch.float32) * 360.0 / a
    allowed = _shift_mask(s, cfg.max_shift_px if cfg.max_shift_px is not None else s // 8).reshape(-1)
    with torch.no_grad():
        for t, i in enumerate(q):
            rq = rotate_images(dt[i].expand(a, s, s), -angles)  # the query turned back by each angle
            fc = torch.fft.rfft2(dt[torch.from_numpy(cand[t])])
            cc = torch.fft.irfft2(torch.fft.rfft2(rq).conj()[None] * fc[:, None], s=(s, s)) / (s * s)
            cc = cc.reshape(cfg.candidates, a, s * s).masked_fill(~allowed, -torch.inf)
            best_lag = cc.max(-1)
            score, best_angle = best_lag.values.max(-1)
            top = torch.topk(score, k).indices
            lag = best_lag.indices[top, best_angle[top]]
            out.neighbours[t] = cand[t][top.numpy()]
            out.angles_deg[t] = angles[best_angle[top]].numpy()
            out.shifts_px[t] = torch.stack([lag // s, lag % s], -1).numpy()
            out.scores[t] = score[top].numpy()
    return out


def _ctf_weighted(images: torch.Tensor, ctfs: torch.Tensor, wiener: float) -> torch.Tensor:
    """The Wiener combination of aligned images (first: the query) under their own CTFs (``fftshift``
    layout), brought to the query's CTF: ``c_0 * sum(c_j F_j) / (sum(c_j ** 2) + wiener * n)``."""
    f = torch.fft.fft2(images.double())
    c = torch.fft.ifftshift(ctfs.double(), dim=(-2, -1))
    est = c[0] * (c * f).sum(0) / ((c * c).sum(0) + wiener * len(c))
    return torch.fft.ifft2(est).real.float()


def aligned_average(images, alignment: Alignment, queries=None, ctfs=None, wiener: float | None = None) -> np.ndarray:
    """Each query image averaged with its aligned look-alikes (CTF-aware when their CTFs are given).

    Parameters
    ----------
    images : array (n, s, s)
        The raw images (the alignment was found on denoised ones).
    alignment : Alignment
        Each query's look-alikes, from :func:`find_lookalikes`.
    queries : array of int, optional
        The indices :func:`find_lookalikes` was given (default: all).
    ctfs : array (n, s, s), optional
        Each image's CTF, zero frequency at ``(s // 2, s // 2)`` (e.g.
        :func:`~cdae_lite.denoise.preprocess.star_ctfs`). With them, each look-alike's CTF turns with it
        and the images are combined in Fourier space, each frequency weighted by the CTFs (a Wiener
        filter), and brought to the query's own CTF: look-alikes under other defoci then add signal where
        a plain mean would blur it.
    wiener : float, optional
        With ``ctfs``: the regulariser per image (larger: smoother where the CTFs are weak; default
        ``StackAwareConfig().wiener``).

    Returns
    -------
    ndarray (q, s, s) float32
        The mean of each query image and its ``K`` look-alikes, each shifted and rotated onto it, in the
        images' units (noise variance divided by about ``K + 1``); with ``ctfs``, their CTF-weighted
        estimate of the query image (under its CTF).

    Raises
    ------
    ValueError
        Images that :func:`~cdae_lite.images.check_images` refuses.
    """
    x = torch.from_numpy(check_images(images))
    wiener = StackAwareConfig.wiener if wiener is None else wiener
    c = None if ctfs is None else torch.as_tensor(np.asarray(ctfs, np.float32))
    if c is not None and c.shape != x.shape:
        raise ValueError(f"ctfs of shape {tuple(c.shape)} for images of shape {tuple(x.shape)}")
    q = np.arange(len(x)) if queries is None else np.asarray(queries, np.int64)
    out = np.empty((len(q), x.shape[-1], x.shape[-1]), np.float32)
    for t, i in enumerate(q):
        idx = torch.from_numpy(alignment.neighbours[t])
        nb, cn = x[idx], None if c is None else c[idx]
        if alignment.shifts_px[t].any() or alignment.angles_deg[t].any():
            nb = torch.stack([torch.roll(im, (-int(dy), -int(dx)), (0, 1))
                              for im, (dy, dx) in zip(nb, alignment.shifts_px[t])])
            nb = rotate_images(nb, torch.from_numpy(alignment.angles_deg[t]))
            cn = None if cn is None else rotate_images(cn, torch.from_numpy(alignment.angles_deg[t]))  # a shift keeps it
        out[t] = (((x[i] + nb.sum(0)) / (len(nb) + 1)) if c is None else
                  _ctf_weighted(torch.cat([x[i][None], nb]), torch.cat([c[i][None], cn]), wiener)).numpy()
    return out


def _check_ctfs(config: StackAwareConfig, ctfs) -> None:
    if config.ctf_aware != (ctfs is not None):
        raise ValueError("CTF-aware stack-aware denoising needs each image's CTF: ctf_aware=True with ctfs, "
                         f"got ctf_aware={config.ctf_aware} and {'no ' if ctfs is None else ''}ctfs")


def stack_denoise(model: nn.Module, images, config: StackAwareConfig = StackAwareConfig(), queries=None,
                  device=None, batch_size: int = 256, ctfs=None) -> np.ndarray:
    """Stack-aware denoising: denoise, find aligned look-alikes, average the raw images, denoise the average
    (with the model symmetrised over ``config.symmetrize`` flips and transposes).

    Parameters
    ----------
    model : torch.nn.Module
        The single-image denoiser (e.g. the shipped general model).
    images : array (n, s, s)
        The whole stack, in the model's polarity (bright particles).
    config : StackAwareConfig
        How look-alikes are found and averaged.
    queries : array of int, optional
        Indices of the images to return (default: all); the whole stack is searched for each.
    device : str or torch.device, optional
        Where the model runs (default: :func:`~cdae_lite.runtime.get_device`).
    batch_size : int
        Images per forward pass.
    ctfs : array (n, s, s), optional
        Each image's CTF (``fftshift`` layout; :func:`~cdae_lite.denoise.preprocess.star_ctfs`), required
        with ``config.ctf_aware`` (and only then): the look-alikes are then combined CTF-aware
        (:func:`aligned_average`, ``config.wiener``).

    Returns
    -------
    ndarray (q, s, s) float32
        The denoised averages, in the images' units.

    Raises
    ------
    ValueError
        Images that :func:`~cdae_lite.images.check_images` refuses, a stack of no more than
        ``config.neighbours`` images, or ``ctfs`` without ``config.ctf_aware`` or the reverse.
    """
    averages, _ = stack_averages(model, images, config, queries, device, batch_size, ctfs)
    final = model if config.symmetrize == 1 else Symmetrized(model, config.symmetrize)
    return predict(final, averages, batch_size=batch_size, device=device)


def stack_averages(model: nn.Module, images, config: StackAwareConfig = StackAwareConfig(), queries=None,
                   device=None, batch_size: int = 256, ctfs=None) -> tuple[np.ndarray, Alignment]:
    """The averages :func:`stack_denoise` hands its model, and the alignment that made them.

    The same first steps as :func:`stack_denoise` (denoise every image, find aligned look-alikes among
    the denoised images, average the raw images), without the last one: other denoisers can then be
    given the very same averages (e.g. BM3D, for a like-for-like comparison).

    Parameters
    ----------
    model, images, config, queries, device, batch_size, ctfs
        As for :func:`stack_denoise`.

    Returns
    -------
    averages : ndarray (q, s, s) float32
        One per query, as :func:`aligned_average` makes them.
    alignment : Alignment
        Each query's look-alikes (e.g. to compute the averages' noise level).
    """
    x = check_images(images)
    _check_ctfs(config, ctfs)
    al = find_lookalikes(predict(model, x, batch_size=batch_size, device=device), config, queries)
    return aligned_average(x, al, queries, ctfs, config.wiener), al
