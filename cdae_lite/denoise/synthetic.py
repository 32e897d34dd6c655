"""Training a denoiser on clean images with fresh noise in every batch (beyond the paper).

The paper pre-trains on fixed pairs (one noise realisation per image, one SNR per block). A network
that sees the same noise again learns it; one that sees a new realisation every time can only learn
the signal. Here every batch draws, for each clean image, an SNR log-uniformly in
``[snr_min, snr_max]`` (variance definition, :mod:`cdae_lite.simulation.noise`) and Gaussian noise
of that level, white or, for a fraction of the images, coloured (a random power law of spatial
frequency, as detector and ice noise are not white). The target is the clean image itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from cdae_lite.distributed import data_parallel, from_rank0, share, summed
from cdae_lite.images import check_images
from cdae_lite.runtime import ProfiledConfig, get_device, progress, seed_everything


@dataclass(frozen=True)
class FreshNoiseConfig(ProfiledConfig):
    """How :func:`fit_fresh_noise` trains.

    Attributes
    ----------
    snr_min, snr_max : float -- SNRs drawn log-uniformly per image and batch.
    high_snr_fraction, high_snr_max : float -- share of images whose SNR is drawn log-uniformly in
        ``[snr_max, high_snr_max]`` instead (0: none). Averages of many images, such as the
        stack-aware mode hands the network (31 images at SNR 0.1: about 3), need it.
    coloured_fraction : float -- share of images whose noise is coloured (power law ``f^-alpha``,
        ``alpha`` uniform in [0, 1.5]) instead of white.
    batch_size, lr : int, float -- Adam with a cosine decay of the learning rate to 1 % over the run.
    minutes : float -- training time; the run stops at whichever of ``minutes`` and ``max_images``
        comes first. max_images : int -- images seen (0: no limit); when set, the learning-rate
        schedule follows the images seen, so a run that stops by images is deterministic.
    flips : bool -- random mirror and 90-degree rotations of the clean images.
    fixed_noise : bool -- ablation: one noise realisation per image, drawn once (the paper's way).
    target_snr_factor : float -- ablation: 0 (default) trains towards the clean image; a positive
        factor trains towards a noisy target, the clean image plus independent white noise at that
        many times the input's SNR (the paper's ladder of noisy targets, 4x and 6x).
    seed : int
    """

    snr_min: float = 0.02
    snr_max: float = 0.3
    high_snr_fraction: float = 0.0
    high_snr_max: float = 3.0
    coloured_fraction: float = 0.25
    batch_size: int = 32
    lr: float = 1e-3
    minutes: float = 60.0
    max_images: int = 0
    flips: bool = True
    fixed_noise: bool = False
    target_snr_factor: float = 0.0
    seed: int = 0

    @classmethod
    def quick_overrides(cls) -> dict:
        return {"minutes": 0.5}

    @classmethod
    def smoke_overrides(cls) -> dict:
        return {"minutes": 0.05}

    def __post_init__(self):
        if not 0 < self.snr_min <= self.snr_max:
            raise ValueError("need 0 < snr_min <= snr_max")
        if not 0 <= self.high_snr_fraction <= 1 or (self.high_snr_fraction and self.high_snr_max < self.snr_max):
            raise ValueError("need 0 <= high_snr_fraction <= 1 and high_snr_max >= snr_max")
        if not 0 <= self.coloured_fraction <= 1:
            raise ValueError("coloured_fraction must be in [0, 1]")
        if self.batch_size < 1 or self.lr <= 0 or self.minutes <= 0:
            raise ValueError("batch_size, lr and minutes must be positive")
        if self.target_snr_factor < 0:
            raise ValueError("target_snr_factor must be 0 (clean targets) or positive")


def _coloured(shape: tuple, alpha: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Unit-variance Gaussian noise (n, s, s) whose power falls as ``f^-alpha[i]``."""
    n, s = shape[0], shape[-1]
    white = torch.randn(shape, generator=gen)
    fy = torch.fft.fftfreq(s)[:, None]
    fx = torch.fft.rfftfreq(s)[None, :]
    f = torch.sqrt(fy**2 + fx**2).clamp_min(1.0 / s)
    filt = f[None] ** (-alpha[:, None, None] / 2)
    out = torch.fft.irfft2(torch.fft.rfft2(white) * filt, s=(s, s))
    return out / out.flatten(1).std(1)[:, None, None]


def _log_uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    u = torch.rand(n, generator=gen)
    return torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))


def add_fresh_noise(clean: torch.Tensor, snr_min: float, snr_max: float, coloured_fraction: float,
                    gen: torch.Generator, high_snr_fraction: float = 0.0,
                    high_snr_max: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy copies of clean images ``(n, s, s)`` at per-image SNRs drawn log-uniformly.

    Returns ``(noisy, snr)``: float32 ``(n, s, s)`` and the SNRs ``(n,)``. Noise variance is each
    clean image's variance divided by its SNR. SNRs are log-uniform in ``[snr_min, snr_max]``, or,
    for a share ``high_snr_fraction`` of the images, in ``[snr_max, high_snr_max]``.
    """
    n = clean.shape[0]
    snr = _log_uniform(n, snr_min, snr_max, gen)
    if high_snr_fraction > 0:  # drawn only when asked, so that runs without it keep their noise
        high = torch.rand(n, generator=gen) < high_snr_fraction
        snr = torch.where(high, _log_uniform(n, snr_max, high_snr_max, gen), snr)
    sigma = torch.sqrt(clean.flatten(1).var(1) / snr)
    noise = torch.randn(clean.shape, generator=gen)
    coloured = torch.rand(n, generator=gen) < coloured_fraction
    if coloured.any():
        alpha = torch.rand(int(coloured.sum()), generator=gen) * 1.5
        noise[coloured] = _coloured(noise[coloured].shape, alpha, gen)
    return clean + noise * sigma[:, None, None], snr


def noisy_target(clean: torch.Tensor, snr: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """``clean`` ``(n, s, s)`` plus independent white Gaussian noise at per-image SNRs ``snr`` ``(n,)``
    (variance definition): a noisy training target instead of the clean image."""
    sigma = torch.sqrt(clean.flatten(1).var(1) / snr)
    return clean + torch.randn(clean.shape, generator=gen) * sigma[:, None, None]


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    k = int(torch.randint(0, 4, (1,), generator=gen))
    x = torch.rot90(x, k, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if bool(torch.rand(1, generator=gen) < 0.5) else x


class _NormalizedStep(nn.Module):
    """``model.normalized_forward`` as a module's forward, so that DistributedDataParallel can wrap it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.normalized_forward(x)


def fit_fresh_noise(model: nn.Module, clean: np.ndarray, config: FreshNoiseConfig = FreshNoiseConfig(),
                    device=None, on_checkpoint: Callable[[dict], None] | None = None,
                    checkpoint_minutes: float = 5.0, desc: str = "training") -> dict:
    """Train ``model`` (a :class:`~cdae_lite.denoise.models.Normalized` network) to map noisy images to
    ``clean`` ones, with new noise in every batch.

    Parameters
    ----------
    model : Normalized -- trained in place.
    clean : float32 ``(n, size, size)`` -- the clean training images (size a multiple of 8).
    config : FreshNoiseConfig. device : where to train.
    on_checkpoint : called with the history so far every ``checkpoint_minutes`` and at the end (to
        save partial results of a long run).

    Returns
    -------
    dict -- ``loss`` (mean normalised MSE per logged step), ``images`` (images seen at each log),
    ``minutes``, ``images_seen``, ``images_per_s``.

    Data-parallel under ``torchrun`` (an initialised process group): every rank draws the same batch
    and noise and takes a contiguous share of it; gradients are averaged by
    :class:`~torch.nn.parallel.DistributedDataParallel` with each share weighted by its size, and
    rank 0's clock decides the learning rate and when to stop, so all ranks take the same steps.
    ``on_checkpoint`` is called on rank 0 only.
    """
    x_all = torch.from_numpy(check_images(clean))
    dev = get_device(device)
    gen = seed_everything(config.seed)
    model.to(dev, memory_format=torch.channels_last).train()  # faster convolutions on CPUs and GPUs
    rank, size = data_parallel()
    step = _NormalizedStep(model)
    net = step if size == 1 else torch.nn.parallel.DistributedDataParallel(step)
    if rank > 0:
        on_checkpoint = None
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    fixed = None
    if config.fixed_noise:
        fixed = add_fresh_noise(x_all, config.snr_min, config.snr_max, config.coloured_fraction, gen,
                                config.high_snr_fraction, config.high_snr_max)[0]
    budget = config.minutes * 60
    limit = config.max_images or None
    hist = {"loss": [], "images": [], "minutes": 0.0, "images_seen": 0, "images_per_s": 0.0}
    t0 = last_ckpt = time.perf_counter()
    seen, run_loss, run_n = 0, 0.0, 0
    bar = progress(limit or int(budget), desc, unit="img" if limit else "s", enabled=rank == 0)
    try:
        while True:
            elapsed = from_rank0(time.perf_counter() - t0)  # rank 0's clock: the same steps everywhere
            if elapsed >= budget or (limit and seen >= limit):
                break
            done = seen / limit if limit else elapsed / budget  # by images when capped: deterministic
            for g in opt.param_groups:
                g["lr"] = config.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * done)))
            idx = torch.randint(0, len(x_all), (config.batch_size,), generator=gen)
            y = x_all[idx]
            if fixed is not None:
                xn = fixed[idx]
            else:
                if config.flips:
                    y = _augment(y, gen)
                xn, snr = add_fresh_noise(y, config.snr_min, config.snr_max, config.coloured_fraction, gen,
                                          config.high_snr_fraction, config.high_snr_max)
                if config.target_snr_factor:
                    y = noisy_target(y, snr * config.target_snr_factor, gen)
            lo, hi = share(len(idx), rank, size)
            part = slice(lo, hi) if hi > lo else slice(0, 1)  # an empty share still takes part (weight 0)
            xb = xn[part, None].to(dev).contiguous(memory_format=torch.channels_last)
            yb = y[part, None].to(dev)
            out, m, s = net(xb)
            loss = ((out - (yb - m) / s) ** 2).mean()  # the clean target in the input's normalised units
            opt.zero_grad(set_to_none=True)
            (loss * ((hi - lo) * size / len(idx))).backward()  # weight 1 in one process
            opt.step()
            seen += len(idx)
            run_loss, run_n = run_loss + summed(float(loss.detach()) * (hi - lo))[0], run_n + len(idx)
            bar.update(len(idx) if limit else int(time.perf_counter() - t0) - bar.n)
            if run_n >= 2000:
                hist["loss"].append(run_loss / run_n)
                hist["images"].append(seen)
                run_loss, run_n = 0.0, 0
            now = time.perf_counter()
            if on_checkpoint is not None and now - last_ckpt > checkpoint_minutes * 60:
                last_ckpt = now
                hist.update(minutes=(now - t0) / 60, images_seen=seen, images_per_s=seen / (now - t0))
                on_checkpoint(hist)
    finally:
        bar.close()
        model.eval()
    now = time.perf_counter()
    hist.update(minutes=(now - t0) / 60, images_seen=seen, images_per_s=seen / max(now - t0, 1e-9))
    if on_checkpoint is not None:
        on_checkpoint(hist)
    return hist
