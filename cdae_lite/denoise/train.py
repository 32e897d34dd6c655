"""Training: pre-training on simulated pairs and fine-tuning on neighbour means (paper 3.2 to 3.4).

Defaults follow the paper where it says something: RMSprop, mean-squared error, 20 epochs (4.4).
It does not give a batch size or learning rate; we use 64 and 1e-3 (Keras' RMSprop default, rho 0.9).
The loss is the MSE between output and target after both are divided by the input image's standard
deviation (:func:`normalized_mse`), so every image counts the same whatever its contrast.

On a CUDA GPU, training uses bfloat16 autocast (``TrainConfig.amp``). Every run is seeded; on the CPU
the same seed gives the same weights.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn as nn

from cdae_lite.denoise.inference import predict
from cdae_lite.denoise.models import AEConfig, Cascade, autoencoder, chain
from cdae_lite.distributed import data_parallel, share, summed
from cdae_lite.images import check_images
from cdae_lite.runtime import get_device, progress_enabled, seed_everything


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


@dataclass
class History:
    """What happened during one :func:`fit`: losses per epoch, time, throughput."""

    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    seconds: float = 0.0
    images_per_s: float = 0.0
    n_train: int = 0
    n_val: int = 0
    device: str = ""

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

    Returns ``(masked input, mask)``. A network trained to predict the original values at the masked
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


def fit(model: nn.Module, inputs, targets, config: TrainConfig = TrainConfig(),
        device: str | torch.device | None = None, desc: str = "training",
        blind_spot_fraction: float = 0.0) -> History:
    """Train ``model`` to map ``inputs`` to ``targets`` (both (n, size, size), data units).

    The model is trained in place and left in eval mode on ``device``. A ``config.val_fraction``
    share of the pairs (chosen with ``config.seed``) is held out for the validation loss.

    With ``blind_spot_fraction > 0`` the inputs are masked as in Noise2Void (:func:`blind_spot`) and
    the loss counts only the masked pixels; pass the noisy images as both inputs and targets.

    Data-parallel: when a ``torch.distributed`` process group is initialised (``torchrun``), every rank
    draws the same batches and takes a contiguous share of each, the model is wrapped in
    :class:`~torch.nn.parallel.DistributedDataParallel`, and each share's loss is weighted by its size,
    so the averaged gradient is that of the whole batch: without dropout or blind-spot masks (whose
    random draws then differ), the trained weights equal the single-process ones up to the order of
    floating-point sums.
    """
    from tqdm.auto import tqdm

    x, y = check_images(inputs, "inputs"), check_images(targets, "targets")
    if x.shape != y.shape:
        raise ValueError(f"inputs {x.shape} and targets {y.shape} differ in shape")
    if x.shape[-1] % 8:
        raise ValueError(f"image size {x.shape[-1]} must be a multiple of 8 to train the autoencoders")
    dev = get_device(device)
    seed_everything(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    n = x.shape[0]
    perm = torch.randperm(n, generator=gen)
    n_val = int(round(n * config.val_fraction)) if n > 10 else 0
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    # channels-last memory layout: about a third faster for these convolutions on CPU and GPU
    xt = torch.from_numpy(x)[:, None].to(dev).contiguous(memory_format=torch.channels_last)
    yt = torch.from_numpy(y)[:, None].to(dev).contiguous(memory_format=torch.channels_last)
    model.to(dev, memory_format=torch.channels_last)
    rank, size = data_parallel()
    net = model if size == 1 else torch.nn.parallel.DistributedDataParallel(model)
    opt = _optimizer(model, config)
    amp = config.amp and dev.type == "cuda"
    hist = History(n_train=len(tr_idx), n_val=n_val, device=str(dev))
    t0 = time.perf_counter()
    bar = tqdm(range(config.epochs), desc=desc, disable=not progress_enabled() or rank > 0, leave=False)
    for _ in bar:
        model.train()
        order = tr_idx[torch.randperm(len(tr_idx), generator=gen)]
        total, count = 0.0, 0
        for i in range(0, len(order), config.batch_size):
            whole = order[i:i + config.batch_size]
            lo, hi = share(len(whole), rank, size)
            b = (whole[lo:hi] if hi > lo else whole[:1]).to(dev)  # an empty share still takes part (weight 0)
            weight = (hi - lo) * size / len(whole)
            xb, yb = xt[b], yt[b]
            opt.zero_grad(set_to_none=True)
            if blind_spot_fraction > 0:
                xin, mask = blind_spot(xb, blind_spot_fraction, gen)
            else:
                xin, mask = xb, None
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp):
                out = net(xin)
            if mask is None:
                loss = normalized_mse(out.float(), yb, xb)
            else:
                s = xb.std(dim=(-2, -1), keepdim=True).clamp_min(1e-6)
                loss = ((((out.float() - yb) / s) ** 2) * mask).sum() / mask.sum().clamp_min(1)
            (loss * weight).backward()  # weight 1 in one process
            opt.step()
            total += loss.item() * (hi - lo)
            count += hi - lo
        total, count = summed(total, count)  # the epoch's loss over every rank's share
        hist.train_loss.append(total / max(count, 1))
        if n_val:
            hist.val_loss.append(evaluate_loss(model, x[val_idx.numpy()], y[val_idx.numpy()], dev))
        bar.set_postfix(loss=f"{hist.train_loss[-1]:.4f}", val=f"{hist.val_loss[-1]:.4f}" if n_val else "-")
    model.eval()
    hist.seconds = time.perf_counter() - t0
    hist.images_per_s = config.epochs * len(tr_idx) / max(hist.seconds, 1e-9)
    return hist


@torch.no_grad()
def evaluate_loss(model: nn.Module, inputs, targets, device=None, batch_size: int = 512) -> float:
    """Mean :func:`normalized_mse` of ``model`` (eval mode) over a stack."""
    x, y = check_images(inputs), check_images(targets)
    out = predict(model, x, batch_size=batch_size, device=device, check=False)
    s = x.reshape(len(x), -1).std(axis=1).clip(1e-6)[:, None, None]
    return float((((out - y) / s) ** 2).mean())


def pretrain_single(noisy, clean, ae: AEConfig = AEConfig(), cfg: TrainConfig = TrainConfig(),
                    device=None) -> tuple[nn.Module, History]:
    """The paper's *single DAE*: one autoencoder trained from the noisiest images straight to clean."""
    seed_everything(cfg.seed)
    model = autoencoder(ae)
    return model, fit(model, noisy, clean, cfg, device, desc="single DAE")


def ladder_pairs(steps: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Training pairs of a cascade from a ladder of stacks of the same particles, noisiest first.

    Block ``i`` learns ``steps[i] -> steps[i + 1]``; the last step is usually the clean stack.

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
    """
    seed_everything(cfg.seed)
    model = chain(ae, n_blocks)
    return model, fit(model, noisy, clean, cfg, device, desc="end-to-end cascade")
