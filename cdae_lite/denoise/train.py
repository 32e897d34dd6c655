"""Training: pre-training on simulated pairs and fine-tuning on neighbour means (paper 3.2 to 3.4).

Defaults follow the paper where it says something: RMSprop, mean-squared error, 20 epochs (4.4).
It does not give a batch size or learning rate; we use 64 and 1e-3 (Keras' RMSprop default, rho 0.9).
The loss is the MSE between output and target after both are divided by the input image's standard
deviation (:func:`normalized_mse`), so every image counts the same whatever its contrast.

On a CUDA GPU, training uses bfloat16 autocast (``TrainConfig.amp``). Every run is seeded; on the CPU
the same seed gives the same weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn as nn

from cdae_lite.denoise.inference import predict
from cdae_lite.denoise.loop import BatchSource, History, train_loop
from cdae_lite.denoise.models import AEConfig, Cascade, autoencoder, chain
from cdae_lite.images import check_images
from cdae_lite.runtime import seed_everything


@dataclass(frozen=True)
class TrainConfig:
    """How to train one network.

    Attributes
    ----------
    epochs : int -- passes over the training pairs.
    batch_size : int
    lr : float -- learning rate.
    optimizer : ``"rmsprop"`` (the paper's) or ``"adam"``.
    weight_decay : float
    val_fraction : float -- share of the pairs held out to report a validation loss.
    amp : bool -- bfloat16 autocast on CUDA (ignored on the CPU).
    seed : int
    """

    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "rmsprop"
    weight_decay: float = 0.0
    val_fraction: float = 0.1
    amp: bool = True
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs, batch_size and lr must be positive")
        if self.optimizer not in ("rmsprop", "adam"):
            raise ValueError("optimizer must be 'rmsprop' or 'adam'")
        if not 0 <= self.val_fraction < 1:
            raise ValueError("val_fraction must be in [0, 1)")

    def as_dict(self) -> dict:
        return asdict(self)


def normalized_mse(output: torch.Tensor, target: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """MSE after dividing output and target by each input image's standard deviation."""
    s = inputs.std(dim=(-2, -1), keepdim=True).clamp_min(1e-6)
    return (((output - target) / s) ** 2).mean()


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=cfg.lr, alpha=0.9, eps=1e-7,
                                   weight_decay=cfg.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def blind_spot(x: torch.Tensor, fraction: float, gen: torch.Generator, radius: int = 2):
    """Noise2Void's masking: replace a random ``fraction`` of pixels by a random neighbour's value.

    Parameters
    ----------
    x : torch.Tensor
        ``(b, c, h, w)`` images.
    fraction : float
        Share of the pixels masked.
    gen : torch.Generator
        Draws the mask and the neighbours (CPU: the same on every device).
    radius : int
        The neighbour is at most this many pixels away on each axis.

    Returns
    -------
    masked : torch.Tensor
        ``x`` with the masked pixels replaced.
    mask : torch.Tensor
        bool, the shape of ``x``: the masked pixels.

    A network trained to predict the original values at the masked
    pixels from their surroundings cannot copy a pixel's own noise, only the signal its neighbours
    share; it learns to denoise from noisy images alone, if the noise is independent between pixels.
    """
    b, _, h, w = x.shape
    mask = torch.rand(x.shape, generator=gen) < fraction  # drawn on the CPU: same on every device
    dy = torch.randint(-radius, radius + 1, x.shape, generator=gen)
    dx = torch.randint(-radius, radius + 1, x.shape, generator=gen)
    dx = torch.where((dx == 0) & (dy == 0), torch.ones_like(dx), dx)
    # periodic wrap at the borders: a non-zero offset smaller than the image never lands on the
    # pixel itself (particle images have background at their borders)
    yy = (torch.arange(h).view(1, 1, h, 1) + dy) % h
    xx = (torch.arange(w).view(1, 1, 1, w) + dx) % w
    flat = x.reshape(b, -1)
    lin = (yy * w + xx).reshape(b, -1).to(x.device)
    shuffled = torch.gather(flat, 1, lin).reshape(x.shape)
    mask = mask.to(x.device)
    return torch.where(mask, shuffled, x), mask


class Pairs(BatchSource):
    """Fixed ``(input, target)`` pairs, shuffled every epoch, a share held out: the batches of :func:`fit`.

    Parameters
    ----------
    inputs, targets : numpy.ndarray
        float32 ``(n, size, size)`` pairs, ``size`` a multiple of 8.
    config : TrainConfig
        Epochs, batch, optimiser, held-out share and seed (``seed_everything(config.seed)`` on creation).
    blind_spot_fraction : float
        Above 0, Noise2Void's masked loss (:func:`blind_spot`).

    Raises
    ------
    ValueError
        Pairs of different shapes, or a size that is not a multiple of 8.
    """

    def __init__(self, inputs, targets, config: TrainConfig, blind_spot_fraction: float = 0.0):
        x, y = check_images(inputs, "inputs"), check_images(targets, "targets")
        if x.shape != y.shape:
            raise ValueError(f"inputs {x.shape} and targets {y.shape} differ in shape")
        if x.shape[-1] % 8:
            raise ValueError(f"image size {x.shape[-1]} must be a multiple of 8 to train the autoencoders")
        self.x, self.y, self.config, self.fraction = x, y, config, blind_spot_fraction
        self.gen = seed_everything(config.seed)
        perm = torch.randperm(len(x), generator=self.gen)
        self.n_val = int(round(len(x) * config.val_fraction)) if len(x) > 10 else 0
        self.val_idx, self.tr_idx = perm[:self.n_val], perm[self.n_val:]
        self.n_train, self.total, self.unit = len(self.tr_idx), config.epochs, "epoch"
        self.dev, self._last = None, False

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return _optimizer(model, self.config)

    def batches(self) -> Iterator[torch.Tensor]:
        for _ in range(self.config.epochs):
            order = self.tr_idx[torch.randperm(len(self.tr_idx), generator=self.gen)]
            starts = range(0, len(order), self.config.batch_size)
            for i in starts:
                self._last = i == starts[-1]
                yield order[i:i + self.config.batch_size]

    def part(self, batch, lo, hi, device):
        if self.dev != device:  # the pairs move to the device once, channels-last
            self.dev = device
            self.xt, self.yt = (torch.from_numpy(a)[:, None].to(device).contiguous(memory_format=torch.channels_last)
                                for a in (self.x, self.y))
        b = (batch[lo:hi] if hi > lo else batch[:1]).to(device)
        return self.xt[b], self.yt[b]

    def loss(self, net, inputs, targets):
        if self.fraction > 0:
            xin, mask = blind_spot(inputs, self.fraction, self.gen)
        else:
            xin, mask = inputs, None
        with torch.autocast(device_type=inputs.device.type, dtype=torch.bfloat16,
                            enabled=self.config.amp and inputs.device.type == "cuda"):
            out = net(xin)
        if mask is None:
            return normalized_mse(out.float(), targets, inputs)
        s = inputs.std(dim=(-2, -1), keepdim=True).clamp_min(1e-6)
        return ((((out.float() - targets) / s) ** 2) * mask).sum() / mask.sum().clamp_min(1)

    def round_over(self, images: int) -> bool:
        return self._last

    def after_round(self, model, history, bar) -> None:
        if self.n_val:
            idx = self.val_idx.numpy()
            history.val_loss.append(evaluate_loss(model, self.x[idx], self.y[idx], self.dev))
        bar.set_postfix(loss=f"{history.train_loss[-1]:.4f}",
                        val=f"{history.val_loss[-1]:.4f}" if self.n_val else "-")
        bar.update(1)


def fit(model: nn.Module, inputs, targets, config: TrainConfig = TrainConfig(),
        device: str | torch.device | None = None, desc: str = "training",
        blind_spot_fraction: float = 0.0) -> History:
    """Train ``model`` to map ``inputs`` to ``targets`` (both (n, size, size), data units).

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place, left in eval mode on ``device``.
    inputs, targets : numpy.ndarray
        float32 ``(n, size, size)`` pairs, ``size`` a multiple of 8.
    config : TrainConfig
        Epochs, batch, optimiser, held-out share (chosen with ``config.seed``), seed.
    device : str or torch.device, optional
        Where to train.
    desc : str
        The progress bar's label.
    blind_spot_fraction : float
        Above 0, the inputs are masked as in Noise2Void (:func:`blind_spot`) and the loss counts only
        the masked pixels; pass the noisy images as both inputs and targets.

    Returns
    -------
    History
        One training loss per epoch, and a validation loss per epoch when pairs were held out.

    The loop is :func:`train_loop` (data-parallel under ``torchrun``): without dropout or blind-spot
    masks (whose random draws then differ), the trained weights equal the single-process ones up to
    the order of floating-point sums.
    """
    return train_loop(model, Pairs(inputs, targets, config, blind_spot_fraction), device, desc)


@torch.no_grad()
def evaluate_loss(model: nn.Module, inputs, targets, device=None, batch_size: int = 512) -> float:
    """Mean :func:`normalized_mse` of ``model`` (eval mode) over a stack."""
    x, y = check_images(inputs), check_images(targets)
    out = predict(model, x, batch_size=batch_size, device=device, check=False)
    s = x.reshape(len(x), -1).std(axis=1).clip(1e-6)[:, None, None]
    return float((((out - y) / s) ** 2).mean())


def pretrain_single(noisy, clean, ae: AEConfig = AEConfig(), cfg: TrainConfig = TrainConfig(),
                    device=None) -> tuple[nn.Module, History]:
    """The paper's *single DAE*: one autoencoder trained from the noisiest images straight to clean.

    Parameters
    ----------
    noisy, clean : numpy.ndarray
        float32 ``(n, s, s)`` pairs.
    ae : AEConfig
    cfg : TrainConfig
    device : str or torch.device, optional

    Returns
    -------
    tuple
        ``(model, History)``.
    """
    seed_everything(cfg.seed)
    model = autoencoder(ae)
    return model, fit(model, noisy, clean, cfg, device, desc="single DAE")


def ladder_pairs(steps: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Training pairs of a cascade from a ladder of stacks of the same particles, noisiest first.

    Block ``i`` learns ``steps[i] -> steps[i + 1]``; the last step is usually the clean stack.

    Parameters
    ----------
    steps : list of numpy.ndarray
        Stacks ``(n, s, s)`` of the same particles, SNR rising.

    Returns
    -------
    list of tuple
        ``(input, target)`` per block.

    Raises
    ------
    ValueError
        Fewer than two steps, or steps of different shapes.

    Examples
    --------
    >>> a, b, c = (np.zeros((2, 8, 8)) + i for i in range(3))
    >>> [(float(x[0, 0, 0]), float(y[0, 0, 0])) for x, y in ladder_pairs([a, b, c])]
    [(0.0, 1.0), (1.0, 2.0)]
    """
    if len(steps) < 2:
        raise ValueError("a ladder needs at least two stacks: the input and a target")
    if any(np.shape(s) != np.shape(steps[0]) for s in steps):
        raise ValueError("every stack of a ladder must hold as many images, of the same size, as the input")
    return [(steps[i], steps[i + 1]) for i in range(len(steps) - 1)]


def pretrain_cdae(pairs: list[tuple[np.ndarray, np.ndarray]], ae: AEConfig = AEConfig(),
                  cfg: TrainConfig = TrainConfig(), device=None) -> tuple[Cascade, list[History]]:
    """CDAE's pre-training: block ``i`` learns ``pairs[i] = (input, target)``, independently.

    For the paper: ``[(snr 0.1, snr 0.4), (snr 0.4, snr 0.6), (snr 0.6, clean)]`` of the same particles.
    The blocks are trained one after the other (each could run in parallel: none depends on another).
    Block ``i`` is seeded with ``cfg.seed + i``.

    Parameters
    ----------
    pairs : list of tuple
        ``(input, target)`` float32 ``(n, s, s)`` per block (:func:`ladder_pairs`).
    ae, cfg : AEConfig, TrainConfig
        Each block's architecture and training.
    device : str or torch.device, optional

    Returns
    -------
    tuple
        ``(Cascade, list of History)``, one history per block.
    """
    model = Cascade([autoencoder(ae) for _ in pairs])
    hists = []
    for i, ((xin, yout), block) in enumerate(zip(pairs, model.blocks)):
        seed_everything(cfg.seed + i)
        block.load_state_dict(autoencoder(ae).state_dict())  # fresh, seeded initialisation
        hists.append(fit(block, xin, yout, replace(cfg, seed=cfg.seed + i), device, desc=f"CDAE block {i + 1}"))
    return model, hists


def pretrain_end_to_end(noisy, clean, ae: AEConfig = AEConfig(), cfg: TrainConfig = TrainConfig(),
                        n_blocks: int = 3, device=None) -> tuple[nn.Module, History]:
    """Capacity control: CDAE's three autoencoders (same parameters) trained end to end, noisy to clean.

    It differs from CDAE only in its training (no intermediate SNR targets, one normalisation at the
    input; see :func:`cdae_lite.denoise.models.chain`), so comparing the two tells whether the cascade's gain
    comes from the progressive targets or from its size.

    Parameters
    ----------
    noisy, clean, ae, cfg
        As in :func:`pretrain_single`.
    n_blocks : int
        Autoencoders chained.
    device : str or torch.device, optional

    Returns
    -------
    tuple
        ``(model, History)``.
    """
    seed_everything(cfg.seed)
    model = chain(ae, n_blocks)
    return model, fit(model, noisy, clean, cfg, device, desc="end-to-end cascade")
