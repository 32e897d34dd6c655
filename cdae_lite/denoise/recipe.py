"""The shipped general denoiser's recipe (``data/weights/denoiser_general.pt``): one config, one command.

``cdae-lite train --recipe general -o model.pt`` runs :data:`GENERAL`, the defaults of
:class:`GeneralRecipe`. The shipped model was made in **two stages**, and the recipe says so: a
recipe for the second stage whose ``init`` is the recipe of the first.

1. :data:`FIRST_STAGE`, from random weights: a bank (:class:`~cdae_lite.simulation.bank.BankConfig`)
   of 25,800 clean projections of 43 structures (RuBisCO, the 70S ribosome, TRPV1 and 40
   pseudo-proteins, bank seed 0), fresh noise at SNR log-uniform in 0.02-0.3 (a quarter coloured),
   Adam at 1e-3 with a cosine decay, 75 minutes.
2. :data:`GENERAL`, continued from the first stage's weights: a new bank of 49,800 clean projections
   of 83 structures (the same maps and 80 pseudo-proteins, bank seed 50), a quarter of the images at
   SNR 0.3-3 (the cleaner averages of ``--stack-aware``), Adam at 3e-4, 90 minutes.

Each stage writes a checkpoint whose ``record`` holds its recipe, its bank's composition, its loss
curve, the gain on the training protein (which tells ``cdae-lite denoise`` whether to calibrate) and
its provenance; a continuation keeps the record and SHA-256 of the checkpoint it started from under
``record["init"]``. Training stops by time (``minutes``), so a rerun on another machine sees another
number of images; ``max_images`` stops it by images instead, deterministically.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from cdae_lite.denoise.checkpoint import save_model
from cdae_lite.denoise.loop import History
from cdae_lite.denoise.models import GeneralUNetConfig, general_unet
from cdae_lite.denoise.synthetic import FreshNoiseConfig, fit_fresh_noise
from cdae_lite.distributed import is_main, world
from cdae_lite.runtime import command_line, device_name, git_commit, seed_everything
from cdae_lite.simulation.bank import BankConfig, clean_bank

log = logging.getLogger(__name__)

#: The architecture name the recipe's checkpoints are saved under.
ARCHITECTURE = "general_unet"


def _first_stage() -> "GeneralRecipe":
    return FIRST_STAGE


@dataclass(frozen=True)
class GeneralRecipe:
    """One stage of the general denoiser's training; the defaults are the shipped model's last stage.

    Attributes
    ----------
    bank : BankConfig
        The clean training images (default: 83 structures x 600, bank seed 50).
    net : GeneralUNetConfig
        The U-Net's widths (default: 32, 64, 128, 128; 762,084 parameters).
    train : FreshNoiseConfig
        The fresh-noise schedule and optimiser: SNR ranges, high-SNR and coloured shares, batch,
        peak learning rate (Adam, cosine decay to 1 %), minutes, seed of the noise and batches (and
        of the weights when the stage starts from random ones). Default: SNR 0.02-0.3 with a quarter
        at 0.3-3, a quarter coloured, 32 images per step, 3e-4, 90 minutes, seed 50.
    init : GeneralRecipe, str or None
        Where the weights start: another recipe (trained first, in the same run: default
        :data:`FIRST_STAGE`), a checkpoint (a path, or ``"general"`` for the shipped model), or
        None (random weights seeded with ``train.seed``).
    """

    bank: BankConfig = BankConfig()
    net: GeneralUNetConfig = GeneralUNetConfig()
    train: FreshNoiseConfig = FreshNoiseConfig(high_snr_fraction=0.25, lr=3e-4, minutes=90.0, seed=50)
    init: GeneralRecipe | str | None = field(default_factory=_first_stage)

    def as_dict(self) -> dict:
        """The recipe as plain nested dicts (for records); an ``init`` recipe nests.

        Returns
        -------
        dict
        """
        return asdict(self)


#: The shipped model's first stage: 43 structures, fresh noise at SNR 0.02-0.3, Adam at 1e-3, 75 minutes.
FIRST_STAGE = GeneralRecipe(bank=BankConfig(n_phantoms=40, seed=0), train=FreshNoiseConfig(lr=1e-3, minutes=75.0),
                            init=None)

#: The shipped general denoiser: :data:`FIRST_STAGE`, then continued on a new bank (the defaults).
GENERAL = GeneralRecipe()

#: The recipes ``cdae-lite train --recipe NAME`` knows.
RECIPES = {"general": GENERAL}


def stages(recipe: GeneralRecipe) -> list[GeneralRecipe]:
    """The stages a recipe trains, first to last (its chain of ``init`` recipes, then itself).

    Parameters
    ----------
    recipe : GeneralRecipe

    Returns
    -------
    list of GeneralRecipe
    """
    chain = [recipe]
    while isinstance(chain[0].init, GeneralRecipe):
        chain.insert(0, chain[0].init)
    return chain


def training_gain(model: torch.nn.Module, size: int = 64, n_images: int = 64, snr: float = 0.1, seed: int = 12347,
                  device=None) -> float:
    """Mean gain of ``model`` on the *training* protein (RuBisCO, paper preset, SNR ``snr``).

    ``cdae-lite denoise`` reads this number from a checkpoint's record to decide whether to calibrate
    the model by default.

    Parameters
    ----------
    model : torch.nn.Module
        A denoiser of ``(n, 1, s, s)`` images.
    size, n_images, snr, seed : int, int, float, int
        The simulated stack: box (pixels), images (4 views), SNR and seed.
    device : str or torch.device, optional

    Returns
    -------
    float
        The mean least-squares gain of the output against the clean images (1: contrast kept).
    """
    from cdae_lite.denoise.inference import predict
    from cdae_lite.metrics import gain
    from cdae_lite.simulation.config import SimulationConfig
    from cdae_lite.simulation.proteins import training_protein
    from cdae_lite.simulation.stacks import simulate_protein

    sim = SimulationConfig(image_size=size, images_per_view=max(1, n_images // 4), seed=seed)
    s = simulate_protein(training_protein(), sim, snrs=(snr,), device=device)
    return float(np.nanmean(gain(predict(model, s.noisy[snr], device=device), s.clean)))


def _init_record(path: Path, meta: dict) -> dict:
    """What a continuation keeps of the checkpoint it started from: its name, SHA-256, record and images seen."""
    from cdae_lite.io.files import sha256

    old = {k: v for k, v in meta["record"].items() if k not in ("bank", "history")}
    return {"path": str(path.name), "sha256": sha256(path), "record": old,
            "images_seen": meta["record"].get("history", {}).get("images_seen")}


def initial_model(recipe: GeneralRecipe, previous: tuple[torch.nn.Module, Path] | None = None
                  ) -> tuple[torch.nn.Module, dict | None]:
    """The network a stage starts from, and what its record keeps of where it came from.

    Parameters
    ----------
    recipe : GeneralRecipe
        The stage.
    previous : tuple, optional
        ``(model, checkpoint path)`` of the stage before (when ``recipe.init`` is a recipe).

    Returns
    -------
    model : torch.nn.Module
        A :func:`~cdae_lite.denoise.models.general_unet`: new (seeded with ``recipe.train.seed``), or
        loaded.
    init : dict or None
        None for random weights, else the starting checkpoint's name, SHA-256, record and images seen.

    Raises
    ------
    ValueError
        If the checkpoint holds another architecture or other widths than ``recipe.net``.
    """
    from cdae_lite.denoise.checkpoint import load_denoiser, load_model

    if recipe.init is None:
        seed_everything(recipe.train.seed)
        return general_unet(recipe.net), None
    if isinstance(recipe.init, GeneralRecipe):
        if previous is None:
            raise ValueError("a recipe that starts from another recipe needs that stage's model")
        model, path = previous
        return model, (_init_record(path, load_model(path)[1]) if is_main() else None)
    model, meta, path = load_denoiser(recipe.init)
    if meta["architecture"] != ARCHITECTURE or tuple(meta["config"]["channels"]) != tuple(recipe.net.channels):
        raise ValueError(f"init {path} holds a {meta['architecture']} {meta['config']}, not the {ARCHITECTURE} "
                         f"{recipe.net}")
    return model, _init_record(path, meta)


def history_record(history: History) -> dict:
    """The loss curve as a general denoiser's record stores it.

    Parameters
    ----------
    history : History

    Returns
    -------
    dict
        ``loss`` (mean normalised MSE per logged round), ``images`` (images seen at each), ``minutes``,
        ``images_seen``, ``images_per_s``.
    """
    return {"loss": list(history.train_loss), "images": list(history.loss_images), "minutes": history.seconds / 60,
            "images_seen": history.images_seen, "images_per_s": history.images_per_s}


def train_stage(recipe: GeneralRecipe, out: str | Path, device=None,
                previous: tuple[torch.nn.Module, Path] | None = None) -> tuple[torch.nn.Module, Path]:
    """Train one stage: make its bank, train on it with fresh noise, write the checkpoint with its record.

    Parameters
    ----------
    recipe : GeneralRecipe
        The stage (its ``init``: see :func:`initial_model`).
    out : str or Path
        The checkpoint, rewritten every 5 minutes while training (``record["complete"]`` says whether
        the run finished), so a stopped run keeps its progress.
    device : str or torch.device, optional
    previous : tuple, optional
        ``(model, path)`` of the stage before, when ``recipe.init`` is a recipe.

    Returns
    -------
    tuple
        ``(model, path)``: the trained network (eval mode) and the checkpoint.

    Under ``torchrun`` (with the process group joined by the caller) the training is data-parallel and
    rank 0 writes the checkpoint.
    """
    t0 = time.perf_counter()
    path = Path(out)
    model, init = initial_model(recipe, previous)  # before the bank: a wrong checkpoint fails at once
    bank, rows = clean_bank(recipe.bank, device)
    record = {"init": init, "what": "general denoiser (beyond the paper): see cdae_lite.denoise.recipe.GeneralRecipe",
              "config": recipe.as_dict(), "bank": rows, "bank_images": int(len(bank)),
              "bank_seconds": time.perf_counter() - t0,
              "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "device": device_name(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "commit": git_commit(), "command": command_line(), "complete": False}

    def save(history: History) -> None:
        save_model(path, model, ARCHITECTURE, asdict(recipe.net), {**record, "history": history_record(history)},
                   overwrite=True)

    log.info("training %s: %d clean images, %.1f min at most", path.name, len(bank), recipe.train.minutes)
    history = fit_fresh_noise(model, bank, recipe.train, device, on_checkpoint=save,
                              desc=f"general denoiser ({path.name})")
    if is_main():  # under torchrun every rank trained the same weights; rank 0 measures and writes them
        record.update(gain=training_gain(model, recipe.bank.size, device=device), complete=True,
                      seconds=time.perf_counter() - t0, processes=world()[1])
        save(history)
    return model, path


def stage_path(out: str | Path, index: int, n_stages: int) -> Path:
    """Where stage ``index`` (from 0) of ``n_stages`` writes: ``out`` for the last, ``<stem>.stage<k><suffix>`` before.

    Parameters
    ----------
    out : str or Path
    index, n_stages : int

    Returns
    -------
    Path

    >>> stage_path("w/model.pt", 0, 2).as_posix(), stage_path("w/model.pt", 1, 2).as_posix()
    ('w/model.stage1.pt', 'w/model.pt')
    """
    out = Path(out)
    return out if index == n_stages - 1 else out.with_name(f"{out.stem}.stage{index + 1}{out.suffix}")


def train_recipe(recipe: GeneralRecipe | str, out: str | Path, device=None, minutes: float | None = None,
                 init: str | None = None, overwrite: bool = False) -> Path:
    """Train a recipe, every stage in turn, each continuing from the one before; write the last to ``out``.

    Parameters
    ----------
    recipe : GeneralRecipe or str
        E.g. :data:`GENERAL`, the shipped model's, or its name in :data:`RECIPES` (``"general"``).
    out : str or Path
        The final checkpoint; earlier stages write beside it (:func:`stage_path`).
    device : str or torch.device, optional
    minutes : float, optional
        The whole run's training time, shared among the stages in the recipe's proportions (default:
        each stage's own ``train.minutes``).
    init : str, optional
        A checkpoint (path or ``"general"``) to continue from instead: only the last stage is
        trained, starting from it.
    overwrite : bool
        Whether ``out`` may exist already (checked before any training).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    KeyError
        An unknown recipe name.
    FileExistsError, ValueError
        ``out`` exists (without ``overwrite``) or is the ``init`` file.
    """
    from cdae_lite.io.files import check_target

    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise KeyError(f"no recipe {recipe!r}: the recipes are {', '.join(RECIPES)}")
        recipe = RECIPES[recipe]
    check_target(out, overwrite, protect=(init,))  # before hours of training, not after
    if init is not None:
        recipe = replace(recipe, init=init)
    chain = stages(recipe)
    scale = minutes / sum(s.train.minutes for s in chain) if minutes else 1.0
    previous = None
    for i, stage in enumerate(chain):
        stage = replace(stage, train=replace(stage.train, minutes=stage.train.minutes * scale))
        previous = train_stage(stage, stage_path(out, i, len(chain)), device, previous)
    return Path(out)
