"""What each part of the general denoiser's recipe is worth: an ablation on particles it never saw.

Every variant changes one thing of the recipe (:class:`~cdae_lite.denoise.recipe.GeneralRecipe`)
and is trained from the same seed for the same number of images seen (the learning rate follows the
images seen, so each run is deterministic and independent of the machine's speed), on a bank smaller
than the shipped model's. All are scored on the same images as BM3D with its sigma factor tuned on
the training protein (:mod:`cdae_lite.paper.general_eval`): the three test proteins in the paper's
and the realistic preset, and the held-out apoferritin, which is reported but never used to choose.

The rows: the recipe; fixed noise (one realisation per image, the paper's way); noisy targets (the
clean image plus noise at 4x the input's SNR, the paper's first rung); one training structure
(RuBisCO only, as many images); one particle size (every structure 40 px across); two other networks
(a U-Net half as wide, the paper's autoencoder without output dropout); twice the training; the
recipe with the label-free calibration; and the shipped model (far longer training on a larger bank).
The sentences the book prints from the record come from :mod:`cdae_lite.paper.ablation_verdicts`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import torch

from cdae_lite.denoise.models import AEConfig, GeneralUNetConfig, autoencoder, general_unet, n_parameters
from cdae_lite.denoise.recipe import FIRST_STAGE, GeneralRecipe
from cdae_lite.denoise.synthetic import FreshNoise, fit_fresh_noise
from cdae_lite.paper.general_eval import (DenoiserEvaluation, calibrated, evaluation_stacks, margins,
                                          score_denoisers, tuned_bm3d)
from cdae_lite.paper.general_noise import FixedNoise, NoisyTargets
from cdae_lite.paper.profiles import ProfiledConfig
from cdae_lite.runtime import seed_everything
from cdae_lite.simulation.bank import clean_bank

#: The row every other is compared with.
RECIPE = "recipe"
#: The row of the shipped model: another network trained far longer, not a one-factor change of the recipe.
SHIPPED = "shipped model"

#: The recipe's network averaged over the 8 flips and transposes at test time (no training of its own).
SYMMETRIZED = f"{RECIPE}, symmetrised x8 at test time"


@dataclass(frozen=True)
class GeneralAblation(ProfiledConfig):
    """The ablation's shared budget (``python -m cdae_lite.paper general-ablation``).

    Attributes
    ----------
    recipe : GeneralRecipe -- the reference recipe: the shipped model's first stage on a smaller bank
        (``images_per_structure``) with a budget of images seen (``train.max_images``).
    longer : int -- how many times more images the "longer training" row sees.
    evaluation : DenoiserEvaluation -- the scored images (every image of a small stack per set).
    speed_images : int -- images denoised to time each network's inference (one batch of 256).
    seeds : tuple of int -- training seeds: every row is trained once per seed (``recipe.bank.seed + k``
        initialises the network, ``recipe.train.seed + k`` draws its noise and batches; the bank stays
        the same), and each effect is the mean of the paired differences to the recipe of the same seed.
    """

    recipe: GeneralRecipe = replace(FIRST_STAGE, bank=replace(FIRST_STAGE.bank, images_per_structure=150),
                                    train=replace(FIRST_STAGE.train, minutes=600.0, max_images=16000))
    longer: int = 2
    evaluation: DenoiserEvaluation = DenoiserEvaluation(images_per_view=16, n_images=64)
    speed_images: int = 256
    seeds: tuple = (0, 1, 2)

    def __post_init__(self):
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and at least one, got {list(self.seeds)}")

    @classmethod
    def quick_overrides(cls) -> dict:
        return {"recipe": replace(FIRST_STAGE, bank=replace(FIRST_STAGE.bank, n_phantoms=2, images_per_structure=12),
                                  net=GeneralUNetConfig((8, 16, 16, 16)),
                                  train=replace(FIRST_STAGE.train, minutes=600.0, max_images=256)),
                "evaluation": DenoiserEvaluation.quick(images_per_view=2), "speed_images": 16, "seeds": (0,)}

    smoke_overrides = quick_overrides  # the smoke path trains the quick ablation


def variants(cfg: GeneralAblation) -> dict[str, tuple[GeneralRecipe, Callable[[], torch.nn.Module], Callable]]:
    """``{row: (recipe variant, network factory, batch source)}``: the recipe and each single change of it.

    The batch source is :class:`~cdae_lite.denoise.synthetic.FreshNoise` (the recipe's) but for the
    rows that undo its noise (:class:`~cdae_lite.paper.general_noise.FixedNoise`,
    :class:`~cdae_lite.paper.general_noise.NoisyTargets`).
    """
    r = cfg.recipe
    b = r.bank
    n_structures = len(b.maps) + b.n_phantoms
    u_net = (lambda net: lambda: general_unet(net))
    return {
        RECIPE: (r, u_net(r.net), FreshNoise),
        "fixed noise": (r, u_net(r.net), FixedNoise),
        "noisy targets (4x SNR)": (r, u_net(r.net), partial(NoisyTargets, factor=4.0)),
        "RuBisCO only": (replace(r, bank=replace(b, maps=("rubisco",), n_phantoms=0,
                                                 images_per_structure=b.images_per_structure * n_structures)),
                         u_net(r.net), FreshNoise),
        "one particle size (40 px)": (replace(r, bank=replace(b, scales=1, diameter_px=(40.0, 40.0))), u_net(r.net),
                                      FreshNoise),
        "U-Net half as wide": (r, u_net(GeneralUNetConfig(tuple(max(1, c // 2) for c in r.net.channels))), FreshNoise),
        "paper's autoencoder (no output dropout)": (r, lambda: autoencoder(AEConfig(output_dropout=False)), FreshNoise),
        f"{cfg.longer}x the training": (replace(r, train=replace(r.train, max_images=r.train.max_images * cfg.longer)),
                                       u_net(r.net), FreshNoise),
    }


def images_per_second(model: torch.nn.Module, n: int, size: int, device=None) -> float:
    """Inference speed of ``model`` on ``n`` random images of ``size`` pixels (after one warm-up batch)."""
    from cdae_lite.denoise.inference import predict

    x = np.random.default_rng(0).normal(size=(n, size, size)).astype(np.float32)
    predict(model, x[:8], device=device)
    t = time.perf_counter()
    predict(model, x, device=device)
    return n / (time.perf_counter() - t)


def mean_over_test_proteins(diff: dict) -> dict:
    """``{preset: mean over the test proteins}`` of ``{(protein, preset): dB}``; the held-out set is left out."""
    per: dict = {}
    for (protein, preset), v in diff.items():
        if "held out" not in protein:
            per.setdefault(preset, []).append(v)
    return {preset: float(np.mean(v)) for preset, v in per.items()}


def effects(rows: list[dict], reference: str = RECIPE) -> list[dict]:
    """Per row and preset: the mean PSNR difference to ``reference`` over the three test proteins (the
    held-out set apart), and the held-out set's difference, dB (from :func:`~cdae_lite.paper.general_eval.margins`)."""
    out = []
    for m in dict.fromkeys(r["method"] for r in rows):
        diff = margins(rows, m, reference)
        for preset, mean in mean_over_test_proteins(diff).items():
            held = [v for (p, s), v in diff.items() if s == preset and "held out" in p]
            out.append({"method": m, "preset": preset, "test_proteins_db": mean,
                        "held_out_db": float(held[0]) if held else float("nan")})
    return out


def _spread(values: list[float]) -> dict:
    """Mean, sample standard deviation (0 for one value) and count of ``values``."""
    v = np.asarray(values, float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}


def seeded_effects(rows: list[dict], reference: str = RECIPE) -> list[dict]:
    """:func:`effects` of rows trained with several seeds (key ``"seed"``; rows without one, such as
    the shipped model, take part in every seed's comparison): per row and preset, the mean over seeds of
    the paired difference to the reference of the same seed, with its standard deviation over seeds
    (``*_std``), the per-seed values (``test_proteins_db_seeds``) and ``n_seeds``."""
    seeds = sorted({r["seed"] for r in rows if r.get("seed") is not None})
    fixed = [r for r in rows if r.get("seed") is None]
    per_seed = ([effects([r for r in rows if r.get("seed") == k] + fixed, reference) for k in seeds]
                or [effects(rows, reference)])
    out = []
    for first in per_seed[0]:
        same = [e for es in per_seed for e in es if (e["method"], e["preset"]) == (first["method"], first["preset"])]
        test, held = _spread([e["test_proteins_db"] for e in same]), _spread([e["held_out_db"] for e in same])
        out.append({"method": first["method"], "preset": first["preset"], "test_proteins_db": test["mean"],
                    "held_out_db": held["mean"], "test_proteins_db_std": test["std"], "held_out_db_std": held["std"],
                    "test_proteins_db_seeds": [e["test_proteins_db"] for e in same], "n_seeds": test["n"]})
    return out


def run_ablation(cfg: GeneralAblation, shipped: torch.nn.Module | None = None, device=None,
                 on_row: Callable[[dict], None] | None = None) -> dict:
    """Train every variant once per seed of ``cfg.seeds``, score it with BM3D on the same images;
    ``on_row(partial result)`` after each.

    ``shipped``: the shipped general denoiser, scored as one more row when given. Returns
    ``bm3d_sigma_factor``, ``seeds``, ``rows`` (per set, method and seed,
    :func:`~cdae_lite.metrics.image_scores`; ``seed`` is None for raw, BM3D and the shipped model),
    ``margins_db`` (each row minus BM3D, mean over seeds), ``effects`` (:func:`seeded_effects`: each
    row minus the recipe of the same seed) and ``training`` (per variant and seed: parameters, bank
    images, images seen, minutes, inference images/s, loss curve).
    """
    bm3d, tuning = tuned_bm3d(cfg.evaluation, device)
    stacks = evaluation_stacks(cfg.evaluation, device=device)
    ev = cfg.evaluation
    result = {"bm3d_sigma_factor": bm3d.sigma_factor, "bm3d_tuning": tuning.to_dict("records"), "rows": [],
              "training": [], "seeds": list(cfg.seeds)}

    references = ("raw", "BM3D (tuned)")  # scored once, with the first row

    def add(denoisers: dict, seed: int | None) -> None:
        rows = score_denoisers(denoisers, stacks, ev)
        rows = [r for r in rows if not (result["rows"] and r["method"] in references)]
        result["rows"] += [{**r, "seed": None if r["method"] in references else seed} for r in rows]
        scored = [r for r in result["rows"] if r["method"] not in references]
        result["margins_db"] = {}  # each row minus BM3D, mean over the seeds scored so far
        for m in dict.fromkeys(r["method"] for r in scored):
            per = [margins([r for r in result["rows"] if r["method"] in references
                            or (r["method"] == m and r["seed"] == k)], m)
                   for k in dict.fromkeys(r["seed"] for r in scored if r["method"] == m)]
            result["margins_db"].update({f"{m} | {p} | {s}": float(np.mean([d[(p, s)] for d in per]))
                                         for (p, s) in per[0]})
        result["effects"] = seeded_effects(scored)
        if on_row is not None:
            on_row(result)

    from cdae_lite.denoise.inference import Symmetrized, predict

    def run(m):
        return lambda x, s: predict(m, x, device=device)

    banks: dict = {}
    for k in cfg.seeds:
        for name, (recipe, factory, source) in variants(cfg).items():
            if recipe.bank not in banks:
                banks[recipe.bank] = clean_bank(recipe.bank, device)[0]
            seed_everything(recipe.bank.seed + k)
            model = factory()
            hist = fit_fresh_noise(model, banks[recipe.bank], replace(recipe.train, seed=recipe.train.seed + k), device,
                                   desc=f"ablation: {name}, seed {k}", source=source)
            result["training"].append({"method": name, "seed": k, "parameters": n_parameters(model),
                                       "bank_images": len(banks[recipe.bank]), "images_seen": hist.images_seen,
                                       "minutes": hist.seconds / 60,
                                       "images_per_s_inference": images_per_second(model, cfg.speed_images,
                                                                                   recipe.bank.size, device),
                                       "loss": hist.train_loss, "loss_images": hist.loss_images})
            denoisers = {} if result["rows"] else {"BM3D (tuned)": lambda x, s: bm3d.denoise(x, sigma=s)}
            denoisers[name] = run(model)
            if name == RECIPE:
                denoisers[f"{RECIPE} + calibration"] = calibrated(model, device)
                denoisers[SYMMETRIZED] = run(Symmetrized(model, 8))
            add(denoisers, k)
    if shipped is not None:
        result["training"].append({"method": SHIPPED, "seed": None, "parameters": n_parameters(shipped),
                                   "images_per_s_inference": images_per_second(shipped, cfg.speed_images,
                                                                               cfg.recipe.bank.size, device)})
        add({SHIPPED: run(shipped)}, None)
    return result


def record_ablation(profile: str | None = None, device=None, out=None, notes: str = ""):
    """Run :func:`run_ablation` (the shipped model as the last row) and record
    ``results/<profile>/general_ablation.json``, rewritten after every row."""
    from cdae_lite.denoise.checkpoint import load_denoiser
    from cdae_lite.paper.results import record
    from cdae_lite.paper.profiles import get_profile

    profile_name = profile or get_profile()
    cfg = GeneralAblation.quick() if profile_name == "quick" else GeneralAblation()
    names = [(n, k) for k in cfg.seeds for n in variants(cfg)] + [(SHIPPED, None)]

    def save(partial: dict):
        done = {(t["method"], t["seed"]) for t in partial["training"]}
        pending = [f"{n} (seed {k})" if k is not None else n for n, k in names if (n, k) not in done]
        return record("general_ablation", profile_name, cfg.as_dict(), partial,
                      [cfg.recipe.bank.seed + k for k in cfg.seeds], device, out,
                      (notes + (f" Rows {pending} had not finished when this file was written." if pending else "")
                       ).strip())

    return save(run_ablation(cfg, load_denoiser("general")[0], device, on_row=save))
