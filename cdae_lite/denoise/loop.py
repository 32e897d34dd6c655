"""One training loop for every network here: batches from a source, shared between data-parallel ranks.

A :class:`BatchSource` says where the batches come from (fixed pairs shuffled every epoch:
:class:`cdae_lite.denoise.train.Pairs`; clean images with fresh noise in every batch:
:class:`cdae_lite.denoise.synthetic.FreshNoise`), how a share of one is scored, which optimiser and
learning rate to use, when a round of the loss curve ends and when to stop. :func:`train_loop` does
the rest the same way for all: the data-parallel share of each batch, the weighted backward pass, the
step, the loss curve, the progress bar, partial saves and the :class:`History`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn

from cdae_lite.distributed import data_parallel, share, summed
from cdae_lite.runtime import get_device, progress


@dataclass
class History:
    """What happened during one training run (:func:`train_loop`): losses, time, throughput.

    Attributes
    ----------
    train_loss : list of float
        Mean training loss of each logged round: an epoch of :func:`~cdae_lite.denoise.train.fit`, about 2,000 images of
        :func:`~cdae_lite.denoise.synthetic.fit_fresh_noise`.
    val_loss : list of float
        Validation loss after each epoch (:func:`~cdae_lite.denoise.train.fit` with held-out pairs; empty otherwise).
    seconds : float
        Training time, s.
    images_per_s : float
        Training images per second.
    n_train, n_val : int
        Training images (pairs or clean images) and held-out pairs.
    device : str
        Where it trained.
    loss_images : list of int
        Images seen when each ``train_loss`` value was logged.
    images_seen : int
        Training images seen in all (each batch counts whole, whatever the data-parallel shares).
    """

    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    seconds: float = 0.0
    images_per_s: float = 0.0
    n_train: int = 0
    n_val: int = 0
    device: str = ""
    loss_images: list = field(default_factory=list)
    images_seen: int = 0

    def as_dict(self) -> dict:
        """The history as a plain dict (for records).

        Returns
        -------
        dict
        """
        return asdict(self)


class BatchSource:
    """Where :func:`train_loop` draws its batches from, how it scores them, and when it stops.

    Every rank of a data-parallel run holds the same source and draws the same whole batches; the
    loop gives each rank a contiguous share. A subclass implements :meth:`batches`, :meth:`part` and
    :meth:`loss`, and may override the others.

    Attributes
    ----------
    n_train, n_val : int
        Training and held-out images (for the :class:`History`).
    total, unit : int, str
        The progress bar's length and unit.
    """

    n_train: int = 0
    n_val: int = 0
    total: int = 0
    unit: str = "img"

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """The optimiser of ``model``'s parameters."""
        raise NotImplementedError

    def module(self, model: nn.Module) -> nn.Module:
        """The module the loop calls (and wraps in DistributedDataParallel); ``model`` itself by default."""
        return model

    def batches(self) -> Iterator[Any]:
        """Whole batches, the same on every rank, until the run is over."""
        raise NotImplementedError

    def size(self, batch: Any) -> int:
        """Images in a whole batch."""
        return len(batch)

    def lr_factor(self) -> float:
        """The learning rate of the step about to be taken, as a share of the peak one."""
        return 1.0

    def part(self, batch: Any, lo: int, hi: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets ``(hi - lo, 1, s, s)`` of images ``lo:hi`` of ``batch`` on ``device``."""
        raise NotImplementedError

    def loss(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The scalar loss of ``net`` on one share."""
        raise NotImplementedError

    def round_over(self, images: int) -> bool:
        """Whether the round that has seen ``images`` (whole batches) ends here and its loss is logged."""
        raise NotImplementedError

    def after_round(self, model: nn.Module, history: History, bar) -> None:
        """Called after each logged round (validation, progress bar); nothing by default."""

    def after_step(self, bar, images: int) -> None:
        """Called after each step with the images of its whole batch (progress bar)."""


def train_loop(model: nn.Module, source: BatchSource, device: str | torch.device | None = None,
               desc: str = "training", on_checkpoint: Callable[[History], None] | None = None,
               checkpoint_minutes: float = 5.0) -> History:
    """The training loop of every network here: draw, share, score, step, log.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place, left in eval mode on ``device``.
    source : BatchSource
        The batches, the loss, the optimiser and when to stop (pairs: :func:`~cdae_lite.denoise.train.fit`; fresh noise:
        :func:`~cdae_lite.denoise.synthetic.fit_fresh_noise`).
    device : str or torch.device, optional
        Where to train (default: CUDA when available).
    desc : str
        The progress bar's label.
    on_checkpoint : callable, optional
        Called with the history so far every ``checkpoint_minutes`` and at the end (on rank 0 only),
        to save partial results of a long run.
    checkpoint_minutes : float
        Minutes between two calls of ``on_checkpoint``.

    Returns
    -------
    History

    Data-parallel when a ``torch.distributed`` process group is initialised (``torchrun``): every rank
    draws the same whole batch and takes a contiguous share of it, the module is wrapped in
    :class:`~torch.nn.parallel.DistributedDataParallel`, and each share's loss is weighted by its size,
    so the averaged gradient is that of the whole batch; a round's loss is summed over the ranks.
    """
    dev = get_device(device)
    model.to(dev, memory_format=torch.channels_last)  # about a third faster for these convolutions
    rank, size = data_parallel()
    net = source.module(model)
    net = net if size == 1 else torch.nn.parallel.DistributedDataParallel(net)
    on_checkpoint = on_checkpoint if rank == 0 else None
    opt = source.optimizer(model)
    lr = [g["lr"] for g in opt.param_groups]
    hist = History(n_train=source.n_train, n_val=source.n_val, device=str(dev))
    bar = progress(source.total, desc, unit=source.unit, enabled=rank == 0)
    t0 = last = time.perf_counter()
    total, count, in_round = 0.0, 0, 0
    try:
        for batch in source.batches():
            if in_round == 0:
                model.train()
            for g, peak in zip(opt.param_groups, lr):
                g["lr"] = peak * source.lr_factor()
            n = source.size(batch)
            lo, hi = share(n, rank, size)
            xb, yb = source.part(batch, lo, hi, dev)  # an empty share still takes part (weight 0)
            loss = source.loss(net, xb, yb)
            opt.zero_grad(set_to_none=True)
            (loss * ((hi - lo) * size / n)).backward()  # weight 1 in one process
            opt.step()
            total, count, in_round = total + float(loss.detach()) * (hi - lo), count + hi - lo, in_round + n
            hist.images_seen += n
            source.after_step(bar, n)
            if source.round_over(in_round):
                total, count = summed(total, count)  # the round's loss over every rank's share
                hist.train_loss.append(total / max(count, 1))
                hist.loss_images.append(hist.images_seen)
                source.after_round(model, hist, bar)
                total, count, in_round = 0.0, 0, 0
            if on_checkpoint is not None and time.perf_counter() - last > checkpoint_minutes * 60:
                last = time.perf_counter()
                on_checkpoint(_timed(hist, last - t0))
    finally:
        bar.close()
        model.eval()
    _timed(hist, time.perf_counter() - t0)
    if on_checkpoint is not None:
        on_checkpoint(hist)
    return hist


def _timed(hist: History, seconds: float) -> History:
    """``hist`` with its time and throughput set for ``seconds`` of training."""
    hist.seconds = seconds
    hist.images_per_s = hist.images_seen / max(seconds, 1e-9)
    return hist
