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
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn

from cdae_lite.denoise.loop import BatchSource, History, train_loop
from cdae_lite.distributed import from_rank0
from cdae_lite.images import check_images
from cdae_lite.runtime import seed_everything


@dataclass(frozen=True)
class FreshNoiseConfig:
    """How :func:`fit_fresh_noise` trains.

    Attributes
    ----------
    snr_min, snr_max : float
        SNRs drawn log-uniformly per image and batch (variance definition).
    high_snr_fraction, high_snr_max : float
        Share of images whose SNR is drawn log-uniformly in ``[snr_max, high_snr_max]`` instead (0:
        none). Averages of many images, such as the stack-aware mode hands the network (31 images at
        SNR 0.1: about 3), need it.
    coloured_fraction : float
        Share of images whose noise is coloured (power law ``f^-alpha``, ``alpha`` uniform in [0, 1.5])
        instead of white.
    batch_size : int
        Images per step.
    lr : float
        Peak learning rate of Adam, decayed along a cosine to 1 % of it over the run.
    minutes : float
        Training time; the run stops at whichever of ``minutes`` and ``max_images`` comes first.
    max_images : int
        Images seen (0: no limit); when set, the learning-rate schedule follows the images seen, so a
        run that stops by images is deterministic.
    flips : bool
        Random mirror and 90-degree rotations of the clean images.
    seed : int
        Seeds the batches and the noise.
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
    seed: int = 0

    def __post_init__(self):
        if not 0 < self.snr_min <= self.snr_max:
            raise ValueError("need 0 < snr_min <= snr_max")
        if not 0 <= self.high_snr_fraction <= 1 or (self.high_snr_fraction and self.high_snr_max < self.snr_max):
            raise ValueError("need 0 <= high_snr_fraction <= 1 and high_snr_max >= snr_max")
        if not 0 <= self.coloured_fraction <= 1:
            raise ValueError("coloured_fraction must be in [0, 1]")
        if self.batch_size < 1 or self.lr <= 0 or self.minutes <= 0 or self.max_images < 0:
            raise ValueError("batch_size, lr and minutes must be positive, max_images 0 or positive")

    def as_dict(self) -> dict:
        """The config as a plain dict (for records).

        Returns
        -------
        dict
        """
        return asdict(self)


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
    """Noisy copies of clean images at per-image SNRs drawn log-uniformly.

    Noise variance is each clean image's variance divided by its SNR. SNRs are log-uniform in
    ``[snr_min, snr_max]``, or, for a share ``high_snr_fraction`` of the images, in
    ``[snr_max, high_snr_max]``.

    Parameters
    ----------
    clean : torch.Tensor
        float32 ``(n, s, s)``.
    snr_min, snr_max : float
        The SNR range (variance definition).
    coloured_fraction : float
        Share of the images whose noise is coloured (a random power law of spatial frequency).
    gen : torch.Generator
        Draws everything (CPU).
    high_snr_fraction, high_snr_max : float
        Share of the images drawn in ``[snr_max, high_snr_max]`` instead (0: none, and nothing drawn).

    Returns
    -------
    noisy : torch.Tensor
        float32 ``(n, s, s)``.
    snr : torch.Tensor
        ``(n,)``, each image's SNR.
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


def random_flips(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One random 90-degree rotation and, half the time, a mirror, the same for every image of a batch.

    Parameters
    ----------
    x : torch.Tensor
        ``(..., s, s)`` images.
    gen : torch.Generator
        Draws the rotation and the mirror.

    Returns
    -------
    torch.Tensor
        The same shape and dtype.
    """
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


class FreshNoise(BatchSource):
    """Clean images with new noise in every batch (:func:`add_fresh_noise`), Adam with a cosine schedule,
    stopped by time or images seen: the batches of :func:`fit_fresh_noise`.

    A subclass changes what a batch of clean images becomes by overriding :meth:`corrupt` (the
    paper's fixed noise or noisy targets, for an ablation).

    Parameters
    ----------
    clean : numpy.ndarray
        float32 ``(n, size, size)``, the clean training images (size a multiple of 8).
    config : FreshNoiseConfig
        The SNR range, noise colour, batch size, learning rate and stopping rule.
    """

    def __init__(self, clean: np.ndarray, config: FreshNoiseConfig = FreshNoiseConfig()):
        self.clean = torch.from_numpy(check_images(clean))
        self.config = config
        self.gen = seed_everything(config.seed)
        self.limit = config.max_images or None
        self.n_train, self.total = len(self.clean), self.limit or int(config.minutes * 60)
        self.unit = "img" if self.limit else "s"
        self._done, self._t0 = 0.0, time.perf_counter()

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(model.parameters(), lr=self.config.lr)

    def module(self, model: nn.Module) -> nn.Module:
        return _NormalizedStep(model)

    def batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        budget, seen = self.config.minutes * 60, 0
        self._t0 = time.perf_counter()
        while True:
            elapsed = from_rank0(time.perf_counter() - self._t0)  # rank 0's clock: the same steps everywhere
            if elapsed >= budget or (self.limit and seen >= self.limit):
                return
            self._done = seen / self.limit if self.limit else elapsed / budget  # by images when capped
            idx = torch.randint(0, len(self.clean), (self.config.batch_size,), generator=self.gen)
            yield self.corrupt(idx, self.clean[idx])
            seen += len(idx)

    def corrupt(self, idx: torch.Tensor, clean: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The training pair of a batch: noisy inputs and their targets, each ``(b, s, s)``.

        Parameters
        ----------
        idx : torch.Tensor
            int64 ``(b,)``, the batch's images in the bank.
        clean : torch.Tensor
            float32 ``(b, s, s)``, those images.

        Returns
        -------
        tuple of torch.Tensor
            The (flipped) clean images with fresh noise, and the clean images themselves.
        """
        c = self.config
        y = random_flips(clean, self.gen) if c.flips else clean
        return add_fresh_noise(y, c.snr_min, c.snr_max, c.coloured_fraction, self.gen, c.high_snr_fraction,
                               c.high_snr_max)[0], y

    def size(self, batch) -> int:
        return len(batch[0])

    def lr_factor(self) -> float:
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * self._done))

    def part(self, batch, lo, hi, device):
        part = slice(lo, hi) if hi > lo else slice(0, 1)
        xn, y = batch
        return xn[part, None].to(device).contiguous(memory_format=torch.channels_last), y[part, None].to(device)

    def loss(self, net, inputs, targets):
        out, m, s = net(inputs)
        return ((out - (targets - m) / s) ** 2).mean()  # the target in the input's normalised units

    def round_over(self, images: int) -> bool:
        return images >= 2000

    def after_step(self, bar, images: int) -> None:
        bar.update(images if self.limit else int(time.perf_counter() - self._t0) - bar.n)


def fit_fresh_noise(model: nn.Module, clean: np.ndarray, config: FreshNoiseConfig = FreshNoiseConfig(),
                    device=None, on_checkpoint: Callable[[History], None] | None = None,
                    checkpoint_minutes: float = 5.0, desc: str = "training",
                    source: Callable[[np.ndarray, FreshNoiseConfig], FreshNoise] = FreshNoise) -> History:
    """Train ``model`` (a :class:`~cdae_lite.denoise.models.Normalized` network) to map noisy images to
    ``clean`` ones, with new noise in every batch.

    Parameters
    ----------
    model : Normalized
        Trained in place, left in eval mode on ``device``.
    clean : numpy.ndarray
        float32 ``(n, size, size)``, the clean training images (size a multiple of 8).
    config : FreshNoiseConfig
    device : str or torch.device, optional
        Where to train.
    on_checkpoint : callable, optional
        Called with the history so far every ``checkpoint_minutes`` and at the end (to save partial
        results of a long run); on rank 0 only.
    checkpoint_minutes : float
    desc : str
        The progress bar's label.
    source : callable
        Makes the batch source from ``(clean, config)``: :class:`FreshNoise`, or a subclass.

    Returns
    -------
    History
        ``train_loss``: the mean normalised MSE of every 2,000 images or so, ``loss_images`` the images
        seen at each; ``images_seen``, ``seconds``, ``images_per_s``.

    The loop is :func:`~cdae_lite.denoise.loop.train_loop`: data-parallel under ``torchrun``, where
    every rank draws the same batch and noise and rank 0's clock decides the learning rate and when to
    stop, so all ranks take the same steps.
    """
    return train_loop(model, source(clean, config), device, desc, on_checkpoint, checkpoint_minutes)
