"""Fine-tuning a pre-trained model on unlabelled images with neighbour-mean targets (paper, 3.3)."""

from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass, field, replace

import numpy as np
import torch.nn as nn

from cdae_lite.denoise.inference import predict
from cdae_lite.denoise.models import Cascade
from cdae_lite.denoise.targets import TargetConfig, find_neighbourhoods, neighbourhood_means, neighbourhood_purity
from cdae_lite.denoise.train import TrainConfig, fit
from cdae_lite.images import check_images, evenly_spaced
from cdae_lite.runtime import ProfiledConfig


@dataclass(frozen=True)
class FineTuneConfig(ProfiledConfig):
    """The paper's fine-tuning (3.3): k nearest neighbours' mean images as targets.

    Attributes
    ----------
    k : int -- neighbours per image (the paper's 30).
    n_components : int -- PCA components of the feature space the neighbours are found in (10: purer
        neighbours than 50 at SNR 0.1, where most components carry only noise).
    refresh_neighbours : bool -- beyond the paper: find neighbours again on each block's input (the
        previous block's output) instead of on the raw images only.
    clusters : int | None -- beyond the paper: search neighbours only inside the image's k-means
        cluster (this many clusters); see :mod:`cdae_lite.denoise.targets`.
    min_k : int | None -- beyond the paper: keep the first ``min_k`` neighbours and the rest of the
        ``k`` only within ``distance_factor`` times the ``min_k``-th one's distance.
    distance_factor : float -- the threshold's factor.
    train : TrainConfig -- epochs etc. for each block.
    """

    k: int = 30
    n_components: int = 10
    refresh_neighbours: bool = False
    clusters: int | None = None
    min_k: int | None = None
    distance_factor: float = 1.2
    train: TrainConfig = TrainConfig(epochs=10, lr=5e-4)

    @classmethod
    def quick_overrides(cls) -> dict:
        return {"train": TrainConfig(epochs=10, lr=5e-4)}


@dataclass
class FineTuneReport:
    """Per block: training history, neighbour purity (when labels are known), targets used."""

    histories: list = field(default_factory=list)
    purity: list = field(default_factory=list)
    neighbours: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    targets: np.ndarray | None = None


def finetune(model: nn.Module, images, config: FineTuneConfig = FineTuneConfig(), labels=None,
             device=None) -> tuple[Cascade, FineTuneReport]:
    """Fine-tune a cascade (or a single network) on unlabelled images, block by block.

    Every image's target is the mean of its ``k`` nearest neighbours among the raw images (itself
    excluded; the neighbourhoods can be changed by the config's fields beyond the paper); blocks are fine-tuned in order, each on the previous fine-tuned block's output
    (paper, Algorithm 1). ``labels`` are used only to report neighbour purity. The input model is not
    changed: a fine-tuned copy is returned.
    """
    x = check_images(images)
    model = copy.deepcopy(model if isinstance(model, Cascade) else Cascade([model]))
    report = FineTuneReport()
    tcfg = TargetConfig(config.k, config.n_components, config.clusters, config.min_k, config.distance_factor,
                        seed=config.train.seed)
    cur = x
    for i, block in enumerate(model.blocks):
        if i == 0 or config.refresh_neighbours:  # the neighbours are searched in the current block's input
            hoods = find_neighbourhoods(cur, tcfg, device=device)
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

    Reads the stack as :func:`cdae_lite.io.blocks.opened_stack` does (``.gz`` included; a cubic file flagged as
    a 3D map only with ``as_stack``). Dark particles (``invert``, default: detected by
    :func:`~cdae_lite.images.needs_inversion`, as :func:`~cdae_lite.denoise.stream.denoise_file` does)
    are negated first, so that the model is fine-tuned on the bright particles it will be given when the
    stack is denoised. Returns the fine-tuned copy; ``model`` is left unchanged.

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
    print(f"fine-tuning on {len(x)} images ({epochs} epochs per block)...", file=sys.stderr)
    return finetune(model, x, cfg, device=device)[0]
