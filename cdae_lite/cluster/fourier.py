"""Band-limited Fourier correlations of a stack with rotated and shifted references.

The machinery that :func:`~cdae_lite.cluster.ml2d.ml2d_classify` and
:func:`~cdae_lite.cluster.ceiling.template_ceiling` share (private to them): the Fourier coefficients of
a band of frequencies (rfft2 layout, DC excluded, up to a fraction of Nyquist) and the phase ramps of a
grid of shifts, so that the correlation of every image with every rotated reference at every shift is a
matrix product; the images' and CTFs' coefficients; the checks of a stack.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from cdae_lite.cluster.methods import check_k
from cdae_lite.images import check_images, rotate_images


class _Band:
    """The Fourier coefficients in the likelihood (rfft2 layout) and the shifts searched."""

    def __init__(self, size: int, max_freq: float, max_shift_px: float, shift_step_px: float, device):
        fy = torch.fft.fftfreq(size, device=device)
        fx = torch.fft.rfftfreq(size, device=device)
        fyy, fxx = torch.meshgrid(fy, fx, indexing="ij")
        r = torch.sqrt(fxx**2 + fyy**2)
        keep = ((r <= 0.5 * max_freq + 1e-9) & (r > 0)).flatten()
        self.size, self.idx = size, torch.nonzero(keep).flatten()
        self.fx, self.fy = fxx.flatten()[self.idx], fyy.flatten()[self.idx]
        edge = (self.fx == 0) | (self.fx == 0.5)  # columns without a mirrored partner in rfft2
        self.w = torch.where(edge, 1.0, 2.0)
        self.ring = torch.round(r.flatten()[self.idx] * size).long()
        steps = np.arange(-max_shift_px, max_shift_px + 1e-9, shift_step_px) if max_shift_px > 0 else np.zeros(1)
        grid = np.array([(x, y) for y in steps for x in steps if x * x + y * y <= max_shift_px**2 + 1e-9])
        self.shifts = grid.reshape(-1, 2)
        t = torch.as_tensor(self.shifts, dtype=torch.float32, device=device)
        self.phase = torch.exp(-2j * math.pi * (t[:, :1] * self.fx[None] + t[:, 1:] * self.fy[None]))  # (T, F)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Real images (m, s, s) to their band coefficients (m, F), complex64."""
        return torch.fft.rfft2(x, norm="ortho").flatten(1)[:, self.idx]

    def inverse(self, f: torch.Tensor) -> torch.Tensor:
        """Band coefficients (m, F) to real images (m, s, s) (zero outside the band)."""
        s = self.size
        full = torch.zeros(f.shape[0], s * (s // 2 + 1), dtype=f.dtype, device=f.device)
        full[:, self.idx] = f
        return torch.fft.irfft2(full.reshape(-1, s, s // 2 + 1), s=(s, s), norm="ortho")

    def ring_mean(self, v: torch.Tensor) -> torch.Tensor:
        """Average of ``v`` (m, F) over each frequency ring, broadcast back to (m, F)."""
        nr = int(self.ring.max()) + 1
        sums = torch.zeros(v.shape[0], nr, dtype=v.dtype, device=v.device).index_add_(1, self.ring, v)
        counts = torch.bincount(self.ring, minlength=nr).clamp_min(1).to(v.dtype)
        return (sums / counts)[:, self.ring]


def _check_stack(images, k: int) -> np.ndarray:
    x = check_images(images)
    if len(x) < 2:
        raise ValueError(f"2D classification needs at least 2 images, got {len(x)}")
    check_k(len(x), k)
    flat = x.reshape(len(x), -1)
    const = flat.std(axis=1) == 0
    if const.any():
        raise ValueError(f"{int(const.sum())} constant image(s) (first: {int(np.flatnonzero(const)[0])}): "
                         "they hold no particle; remove them first")
    return x


def _prepare(x: np.ndarray, ctf, ctf_mode: str, band: _Band, device):
    """Band coefficients of the images (zero mean, stack scaled to unit std) and of their CTFs."""
    if ctf_mode not in ("full", "flip"):
        raise ValueError(f"ctf_mode must be 'full' or 'flip', got {ctf_mode!r}")
    t = torch.as_tensor(x, device=device)
    t = t - t.mean(dim=(1, 2), keepdim=True)
    t = t / t.std().clamp_min(1e-12)
    n, s = x.shape[0], x.shape[-1]
    if ctf is None:
        c = torch.ones(n, len(band.idx), device=device)
    else:
        c = torch.as_tensor(np.asarray(ctf, np.float32), device=device)
        if c.shape != (n, s, s) or not torch.isfinite(c).all():
            raise ValueError(f"ctf must be finite, of shape {(n, s, s)} (one CTF per image), got {tuple(c.shape)}")
        c = torch.fft.ifftshift(c, dim=(-2, -1))[..., : s // 2 + 1].flatten(1)[:, band.idx]
        c = torch.sign(c) if ctf_mode == "flip" else c
    return band.forward(t), c


def _rotated(refs: torch.Tensor, angles: torch.Tensor, band: _Band) -> torch.Tensor:
    """Band coefficients of every reference at every angle, (k * A, F), index ``k * A + a``."""
    k, a = refs.shape[0], len(angles)
    rot = rotate_images(refs.repeat_interleave(a, 0), angles.repeat(k))
    return band.forward(rot)


def _scores(xb, cb, rf, band: _Band):
    """Cross terms (B, T, KA) and reference norms (B, KA) of a batch of images."""
    z = (torch.conj(xb) * (cb * band.w))[:, None, :] * band.phase[None]  # (B, T, F)
    b, t, f = z.shape
    cross = z.real.reshape(b * t, f) @ rf.real.T - z.imag.reshape(b * t, f) @ rf.imag.T
    norm = (cb**2 * band.w) @ (rf.real**2 + rf.imag**2).T
    return cross.reshape(b, t, -1), norm
