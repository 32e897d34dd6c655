"""Fine-tuning a pre-trained model on unlabelled images with neighbour-mean targets (paper, 3.3)."""

from __future__ import annotations

import copy
import logging
import os
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch.nn as nn

from cdae_lite.denoise.inference import predict
from cdae_lite.denoise.models import Cascade
from cdae_lite.denoise.targets import TargetConfig, find_neighbourhoods, neighbourhood_means, neighbourhood_purity
from cdae_lite.denoise.train import TrainConfig, fit
from cdae_lite.images import check_images, evenly_spaced

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FineTuneConfig(TargetConfig):
    """The paper's fine-tuning (3.3): the targets' :class:`~cdae_lite.denoise.targets.TargetConfig`
    (its fields, inherited) and how each block is trained on them.

    The defaults are the paper's: the mean of each image's ``k = 30`` nearest neighbours as its target,
    neighbours found once, on the raw images. ``seed`` seeds the neighbour search (PCA, k-means) and
    ``train.seed`` the training; :meth:`~cdae_lite.paper.configs.CDAEExperiment.with_seed` sets both.

    Attributes
    ----------
    k, n_components, clusters, min_k, distance_factor, seed
        The targets' fields (:class:`~cdae_lite.denoise.targets.TargetConfig`); ``n_components``
        defaults to 10 (purer neighbours than 50 at SNR 0.1, where most components carry only noise).
    refresh_neighbours : bool
        Beyond the paper: find neighbours again on each block's input (the previous block's output)
        instead of on the raw images only.
    train : TrainConfig
        Epochs, learning rate, batch size and training seed of each block (block ``i`` trains with
        seed ``train.seed + i``).
    """

    refresh_neighbours: bool = False
    train: TrainConfig = TrainConfig(epochs=10, lr=5e-4)

    def as_dict(self) -> dict:
        """The config as plain nested dicts (for records and cache keys).

        Returns
        -------
        dict
            Field name to value (``train`` as a dict too).
        """
        return asdict(self)


@dataclass
class FineTuneReport:
    """What :func:`finetune` did, block by block.

    Attributes
    ----------
    histories : list of History
        Each block's training history.
    purity : list of float
        Each block's mean neighbour purity (only when labels were given).
    neighbours : list of numpy.ndarray
        Each block's neighbour indices, int64 (n, k).
    kept : list of numpy.ndarray
        Each block's kept neighbours, bool (n, k).
    targets : numpy.ndarray or None
        The first block's targets, float32 (n, size, size), in the images' units.
    """

    histories: list = field(default_factory=list)
    purity: list = field(default_factory=list)
    neighbours: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    targets: np.ndarray | None = None


def finetune(model: nn.Module, images, config: FineTuneConfig = FineTuneConfig(), labels=None,
             device=None) -> tuple[Cascade, FineTuneReport]:
    """Fine-tune a cascade (or a single network) on unlabelled images, block by block.

    Every image's target is the mean of its ``k`` nearest neighbours among the raw images (itself
    excluded; the config's fields beyond the paper change the neighbourhoods); blocks are fine-tuned
    in order, each on the previous fine-tuned block's output (paper, Algorithm 1). The input model is
    not changed: a fine-tuned copy is returned.

    Parameters
    ----------
    model : torch.nn.Module
        A pre-trained :class:`~cdae_lite.denoise.models.Cascade`, or one network (fine-tuned as a
        cascade of one block).
    images : array (n, size, size)
        The unlabelled images, in data units.
    config : FineTuneConfig
        Targets and training.
    labels : array (n,), optional
        True views, used only to report neighbour purity.
    device : str or torch.device, optional
        Where the search and the training run.

    Returns
    -------
    tuple
        ``(fine-tuned Cascade, FineTuneReport)``.
    """
    x = check_images(images)
    model = copy.deepcopy(model if isinstance(model, Cascade) else Cascade([model]))
    report = FineTuneReport()
    cur = x
    for i, block in enumerate(model.blocks):
        if i == 0 or config.refresh_neighbours:  # the neighbours are searched in the current block's input
            hoods = find_neighbourhoods(cur, config, device=device)
            targets = neighbourhood_means(x, hoods)  # but the raw images are averaged
        if i == 0:
            report.targets = targets
        report.neighbours.append(hoods.indices)
        report.kept.append(hoods.keep)
        if labels is not None:
            report.purity.append(float(neighbourhood_purity(hoods, labels).mean()))
        cfg = replace(config.train, seed=config.train.seed + i)
        report.histories.append(fit(block, cur, targets, cfg, device, desc=f"fine-tune block {i + 1}"))
        cur = predict(block, cur, device=device)
    return model, report


def fine_tune_on_file(model: nn.Module, path: str | os.PathLike, n_images: int = 10000, epochs: int = 10,
                      device=None, as_stack: bool = False, invert: bool | None = None) -> nn.Module:
    """The paper's fine-tuning on up to ``n_images`` images spread evenly over a stack file.

    Reads the stack as :func:`cdae_lite.io.blocks.opened_stack` does (``.gz`` included; a cubic file
    flagged as a 3D map only with ``as_stack``). Dark particles (``invert``, default: detected by
    :func:`~cdae_lite.images.needs_inversion`, as :func:`~cdae_lite.denoise.stream.denoise_file` does)
    are negated first, so that the model is fine-tuned on the bright particles it will be given when
    the stack is denoised.

    Parameters
    ----------
    model : torch.nn.Module
        The pre-trained model; left unchanged.
    path : str or PathLike
        The stack (MRC, ``.mrcs``, ``.gz`` ...).
    n_images : int
        Most images read, spread evenly over the stack.
    epochs : int
        Epochs per block (learning rate 5e-4, the paper's fine-tuning otherwise).
    device : str or torch.device, optional
        Where the fine-tuning runs.
    as_stack : bool
        Read a cubic file as a stack of images, not as a 3D map.
    invert : bool, optional
        Negate the images first; None: when they look dark.

    Returns
    -------
    torch.nn.Module
        The fine-tuned copy (a :class:`~cdae_lite.denoise.models.Cascade`).

    Raises
    ------
    ValueError
        The stack holds no more than ``k`` images, or any reading error of the stack.
    """
    from cdae_lite.images import needs_inversion
    from cdae_lite.io.blocks import opened_stack

    with opened_stack(path, allow_volume=as_stack) as (_, _, data):
        x = np.asarray(data[evenly_spaced(data.shape[0], n_images)], dtype=np.float32)
    cfg = FineTuneConfig(train=TrainConfig(epochs=epochs, lr=5e-4))
    if len(x) <= cfg.k:
        raise ValueError(f"fine-tuning needs more than k = {cfg.k} images; the stack has {len(x)}")
    if needs_inversion(x, invert)[0]:
        x = -x
    log.info("fine-tuning on %d images (%d epochs per block)...", len(x), epochs)
    return finetune(model, x, cfg, device=device)[0]
