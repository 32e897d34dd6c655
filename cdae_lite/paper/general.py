"""The general denoiser on the paper's side: its profiles, its held-out structure, its validation bank.

The shipped general denoiser (``data/weights/denoiser_general.pt``) is made by the library's recipe,
:data:`cdae_lite.denoise.recipe.GENERAL` (``cdae-lite train --recipe general``; ``python -m
cdae_lite.paper general`` runs the same recipe at a profile's scale). What stays here is what the
experiments around it need:

- :func:`general_recipe`: the recipe at the quick profile (one small stage, for the book) or on the
  smoke path, from :data:`QUICK_OVERRIDES` and :data:`SMOKE_OVERRIDES`;
- :data:`HELD_OUT`: the structure kept out of training and of every choice (apoferritin), to report
  the denoiser's margin on; the three test proteins and their relatives are never in a bank either;
- :data:`VALIDATION`: the pseudo-proteins that choose between general denoisers
  (:mod:`cdae_lite.paper.general_select`);
- :func:`add_recorded_gain`: the gain on the training protein, written into a checkpoint's record.
"""

from __future__ import annotations

from dataclasses import replace

from cdae_lite.denoise.models import GeneralUNetConfig
from cdae_lite.denoise.recipe import FIRST_STAGE, GENERAL, GeneralRecipe, stages, training_gain
from cdae_lite.paper.profiles import get_profile, smoke
from cdae_lite.simulation.bank import BankConfig

#: The structure kept out of training and of every choice, to report the denoiser's margin on.
HELD_OUT = "maps/apoferritin_6z6u.mrc.gz"

#: The quick profile: the first stage alone on a small bank with a small network, stopped by images
#: (deterministic: the same numbers on any machine), a few seconds on 2 cores.
QUICK_OVERRIDES = {"bank": {"n_phantoms": 4, "images_per_structure": 60}, "net": GeneralUNetConfig((8, 16, 16, 16)),
                   "train": {"minutes": 1.0, "max_images": 12_000}}

#: The smoke path: the shipped network and box, the last stage alone from random weights, a few
#: structures and seconds of training.
SMOKE_OVERRIDES = {"bank": {"n_phantoms": 2, "images_per_structure": 12}, "train": {"minutes": 0.05}}

#: Structures for choosing between general denoisers (e.g. whether a longer run replaces the shipped one):
#: pseudo-proteins whose seeds (900-915) no training bank uses, so that no test protein and no held-out
#: structure takes part in the choice.
VALIDATION = BankConfig(maps=(), n_phantoms=16, images_per_structure=48, scales=3, diameter_px=(25.0, 50.0), seed=800)


def _overridden(recipe: GeneralRecipe, overrides: dict) -> GeneralRecipe:
    """One stage of ``recipe`` from random weights, its bank's and training's fields replaced by ``overrides``."""
    return replace(recipe, bank=replace(recipe.bank, **overrides.get("bank", {})),
                   train=replace(recipe.train, **overrides.get("train", {})),
                   net=overrides.get("net", recipe.net), init=None)


def general_recipe(profile: str | None = None) -> GeneralRecipe:
    """The general denoiser's recipe at a profile's scale.

    Parameters
    ----------
    profile : str, optional
        ``"quick"`` or ``"full"`` (default: :func:`~cdae_lite.paper.profiles.get_profile`'s).

    Returns
    -------
    GeneralRecipe
        Full: :data:`~cdae_lite.denoise.recipe.GENERAL`, the shipped model's two stages; on the smoke
        path its last stage alone with :data:`SMOKE_OVERRIDES`; quick: the first stage alone with
        :data:`QUICK_OVERRIDES`.
    """
    if get_profile(profile) == "quick":
        return _overridden(FIRST_STAGE, QUICK_OVERRIDES)
    return _overridden(GENERAL, SMOKE_OVERRIDES) if smoke() else GENERAL


def with_changes(recipe: GeneralRecipe, net: GeneralUNetConfig | None = None, seed: int | None = None,
                 n_phantoms: int | None = None, batch_size: int | None = None, **train) -> GeneralRecipe:
    """A recipe with the command line's changes: the hardware's (``net``, ``batch_size``) in every stage, the
    rest in the last one.

    Parameters
    ----------
    recipe : GeneralRecipe
    net : GeneralUNetConfig, optional
        The network of every stage (a continuation needs the same widths).
    seed : int, optional
        The last stage's bank and training seed.
    n_phantoms : int, optional
        The last stage's pseudo-proteins.
    batch_size : int, optional
        Images per step in every stage (larger on a GPU).
    **train
        Fields of the last stage's :class:`~cdae_lite.denoise.synthetic.FreshNoiseConfig` (``None`` values
        are ignored).

    Returns
    -------
    GeneralRecipe
    """
    chain = stages(recipe)
    out = None
    for i, stage in enumerate(chain):
        if net is not None:
            stage = replace(stage, net=net)
        if batch_size is not None:
            stage = replace(stage, train=replace(stage.train, batch_size=batch_size))
        if i == len(chain) - 1:
            bank = {k: v for k, v in {"seed": seed, "n_phantoms": n_phantoms}.items() if v is not None}
            fields = {k: v for k, v in {**train, "seed": seed}.items() if v is not None}
            stage = replace(stage, bank=replace(stage.bank, **bank), train=replace(stage.train, **fields))
        out = replace(stage, init=out) if i else stage
    return out


def add_recorded_gain(spec: str, device=None) -> str:
    """Measure the training-protein gain of a shipped model or checkpoint and write it into its record.

    Parameters
    ----------
    spec : str
        ``"general"``, ``"cdae"`` or a checkpoint path.
    device : str or torch.device, optional

    Returns
    -------
    str
        A one-line report. The checkpoint is rewritten atomically, weights unchanged, its record gaining
        ``gain`` (:func:`~cdae_lite.denoise.recipe.training_gain`) and ``gain_command``.
    """
    from cdae_lite.denoise.checkpoint import load_denoiser, save_model
    from cdae_lite.runtime import command_line

    model, meta, path = load_denoiser(spec)
    g = training_gain(model, device=device)
    save_model(path, model, meta["architecture"], meta["config"],
               {**meta["record"], "gain": g, "gain_command": command_line()}, overwrite=True)
    return f"{path}: gain {g:.3f} on the training protein (SNR 0.1, 64 px)"
