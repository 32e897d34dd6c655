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


def _test_means(diff: dict) -> dict:
    """``{preset: mean over the test proteins}`` of ``{(protein, preset): dB}``; the held-out set is left out."""
    per: dict = {}
    for (protein, preset), v in diff.items():
        if "held out" not in protein:
            per.setdefault(preset, []).append(v)
    return {preset: float(np.mean(v)) for preset, v in per.items()}


def collapsed_methods(rows: list[dict]) -> tuple[list[str], list[str]]:
    """``(on a test protein, on the held-out set only)``: methods whose output collapsed (rows' ``collapsed``).
    Verdicts rest on the test proteins, so the first lose theirs; the second only the held-out column's.

    >>> collapsed_methods([{"protein": "adk", "method": "a", "collapsed": True},
    ...                    {"protein": "apoferritin (held out)", "method": "b", "collapsed": True}])
    (['a'], ['b'])
    """
    test = sorted({r["method"] for r in rows if r.get("collapsed") and "held out" not in r["protein"]})
    return test, sorted({r["method"] for r in rows if r.get("collapsed")} - set(test))


def effects(rows: list[dict], reference: str = RECIPE) -> list[dict]:
    """Per row and preset: the mean PSNR difference to ``reference`` over the three test proteins (the
    held-out set apart), and the held-out set's difference, dB (from :func:`~cdae_lite.paper.general_eval.margins`)."""
    out = []
    for m in dict.fromkeys(r["method"] for r in rows):
        diff = margins(rows, m, reference)
        for preset, mean in _test_means(diff).items():
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
        result["training"].append({"method": "shipped model", "seed": None, "parameters": n_parameters(shipped),
                                   "images_per_s_inference": images_per_second(shipped, cfg.speed_images,
                                                                               cfg.recipe.bank.size, device)})
        add({"shipped model": run(shipped)}, None)
    return result


def record_ablation(profile: str | None = None, device=None, out=None, notes: str = ""):
    """Run :func:`run_ablation` (the shipped model as the last row) and record
    ``results/<profile>/general_ablation.json``, rewritten after every row."""
    from cdae_lite.denoise.checkpoint import load_denoiser
    from cdae_lite.paper.results import record
    from cdae_lite.paper.profiles import get_profile

    profile_name = profile or get_profile()
    cfg = GeneralAblation.quick() if profile_name == "quick" else GeneralAblation()
    names = [(n, k) for k in cfg.seeds for n in variants(cfg)] + [("shipped model", None)]

    def save(partial: dict):
        done = {(t["method"], t["seed"]) for t in partial["training"]}
        pending = [f"{n} (seed {k})" if k is not None else n for n, k in names if (n, k) not in done]
        return record("general_ablation", profile_name, cfg.as_dict(), partial,
                      [cfg.recipe.bank.seed + k for k in cfg.seeds], device, out,
                      (notes + (f" Rows {pending} had not finished when this file was written." if pending else "")
                       ).strip())

    return save(run_ablation(cfg, load_denoiser("general")[0], device, on_row=save))


def overall_effect(effects_: list[dict], method: str) -> tuple[float, float, int]:
    """A row's effect averaged over the presets: (mean over seeds, its standard error, seeds), dB.

    Per seed the test-protein effects of the presets are averaged; the standard error is the standard
    deviation of those per-seed means over the square root of their number (0 for one seed).

    >>> e = [{"method": "a", "preset": "paper", "test_proteins_db": 0.5, "test_proteins_db_seeds": [0.4, 0.6]},
    ...      {"method": "a", "preset": "realistic", "test_proteins_db": 0.3, "test_proteins_db_seeds": [0.2, 0.4]}]
    >>> tuple(round(v, 2) for v in overall_effect(e, "a"))
    (0.4, 0.1, 2)
    """
    es = [e for e in effects_ if e["method"] == method]
    if not es:
        raise KeyError(f"no effect recorded for {method!r}")
    seeds = np.mean([e.get("test_proteins_db_seeds", [e["test_proteins_db"]]) for e in es], axis=0)
    se = float(seeds.std(ddof=1) / np.sqrt(seeds.size)) if seeds.size > 1 else 0.0
    return float(seeds.mean()), se, int(seeds.size)


def ablation_verdicts(effects_: list[dict], reference: str = RECIPE, decimals: int = 1,
                      collapsed=()) -> list[str]:
    """Sentences computed from :func:`effects` or :func:`seeded_effects`: each row's effect against
    ``reference`` (mean over the test proteins, per preset, and on the held-out set), then which
    changes cost and which help.

    A difference that rounds to zero at ``decimals`` is called no change. With several seeds each
    effect is given as mean ± standard deviation over seeds, and a change counts as a cost or a help
    only when its mean over the presets is more than twice its standard error (the per-seed means'
    standard deviation over the square root of the number of seeds); otherwise it is within the
    seeds' spread. Rows in ``collapsed`` (methods whose output collapsed: no view fidelity) keep their
    numbers but are counted neither as a cost nor as a help.

    >>> e = [{"method": "a", "preset": "paper", "test_proteins_db": -1.26, "held_out_db": -0.8},
    ...      {"method": "b", "preset": "paper", "test_proteins_db": 0.31, "held_out_db": 0.02}]
    >>> ablation_verdicts(e)[-1]
    'Averaged over the presets, 1 change costs PSNR on the test proteins (a -1.3 dB) and 1 adds to it (b +0.3 dB).'
    >>> ablation_verdicts(e, collapsed=["b"])[-1].split("(a -1.3 dB)")[1]
    '; no verdict on b (a collapsed output).'
    >>> e = [{"method": "a", "preset": "paper", "test_proteins_db": -0.3, "held_out_db": 0.1,
    ...       "test_proteins_db_std": 0.4, "test_proteins_db_seeds": [0.1, -0.2, -0.8], "n_seeds": 3}]
    >>> v = ablation_verdicts(e)
    >>> v[0]
    'a: -0.3 ± 0.4 dB (paper preset) on the test proteins; held-out set +0.1 dB.'
    >>> v[1].startswith("Averaged over the presets, 1 change is within the spread of 3 training seeds")
    True
    >>> v[1].endswith("(a -0.3 ± 0.3 dB, mean ± standard error).")
    True
    """
    tie = 0.5 * 10 ** -decimals
    rows: dict = {}
    for e in effects_:
        if e["method"] != reference:
            rows.setdefault(e["method"], []).append(e)

    def word(v: float, std: float | None = None) -> str:
        if std:
            return f"{v:+.{decimals}f} ± {std:.{decimals}f} dB"
        return "no change" if abs(v) < tie else f"{v:+.{decimals}f} dB"

    out = []
    for m, es in rows.items():
        per = ", ".join(f"{word(e['test_proteins_db'], e.get('test_proteins_db_std'))} ({e['preset']} preset)"
                        for e in es)
        held = ", ".join(word(e["held_out_db"]) for e in es if np.isfinite(e["held_out_db"]))
        out.append(f"{m}: {per} on the test proteins" + (f"; held-out set {held}." if held else "."))
    gone = [m for m in rows if m in set(collapsed)]
    mean, se = {}, {}
    for m in (m for m in rows if m not in gone):
        mean[m], se[m], _ = overall_effect(effects_, m)
    n = max(len(es[0].get("test_proteins_db_seeds", [0])) for es in rows.values()) if rows else 1
    cost = sorted(((m, v) for m, v in mean.items() if v <= -tie and v < -2 * se[m]), key=lambda t: t[1])
    gain = sorted(((m, v) for m, v in mean.items() if v >= tie and v > 2 * se[m]), key=lambda t: -t[1])
    same = [m for m in mean if m not in dict(cost) and m not in dict(gain)]

    def fmt(items):
        return ", ".join(f"{m} {v:+.{decimals}f} dB" for m, v in items)

    parts = []
    if cost:
        parts.append(f"{len(cost)} change{'s' if len(cost) > 1 else ''} cost{'' if len(cost) > 1 else 's'} PSNR on "
                     f"the test proteins ({fmt(cost)})")
    if gain:
        parts.append(f"{len(gain)} add{'' if len(gain) > 1 else 's'} to it ({fmt(gain)})")
    if same and n > 1:
        parts.append(f"{len(same)} change{'s are' if len(same) > 1 else ' is'} within the spread of {n} "
                     "training seeds ("
                     + ", ".join(f"{m} {mean[m]:+.{decimals}f} ± {se[m]:.{decimals}f} dB" for m in same)
                     + ", mean ± standard error)")
    elif same:
        parts.append(f"{len(same)} change{'s' if len(same) > 1 else ''} nothing ({', '.join(same)})")
    void = f"no verdict on {', '.join(gone)} (a collapsed output)" if gone else ""
    if parts:
        joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        out.append("Averaged over the presets, " + joined + (f"; {void}." if void else "."))
    elif void:
        out.append(void[0].upper() + void[1:] + ".")
    return out


def recipe_check(effects_: list[dict], variant: str, choice: str, collapsed=(), decimals: int = 2) -> str:
    """One sentence: does the ablation confirm a choice of the recipe (``choice``) against the ``variant``
    that undoes it? Confirmed when the variant costs PSNR on the test proteins (mean over presets and
    seeds, :func:`overall_effect`) by more than twice its standard error and at least 0.05 dB,
    contradicted when it adds as much, unsettled otherwise; no verdict when the variant collapsed.

    >>> e = [{"method": "fixed", "preset": "paper", "test_proteins_db": 0.2,
    ...       "test_proteins_db_seeds": [0.1, 0.2, 0.3]}]
    >>> recipe_check(e, "fixed", "Fresh noise").split(", ")[:2]
    ['Fresh noise against fixed: contradicted at this budget', 'fixed adds +0.20 ± 0.06 dB (mean ± standard error']
    >>> recipe_check(e, "fixed", "Fresh noise", collapsed=["fixed"])
    'Fresh noise against fixed: no verdict, the output of fixed collapsed.'
    """
    if variant in set(collapsed):
        return f"{choice} against {variant}: no verdict, the output of {variant} collapsed."
    v, se, n = overall_effect(effects_, variant)
    bar = max(0.05, 2 * se)
    spread = f"{v:+.{decimals}f} ± {se:.{decimals}f} dB (mean ± standard error, {n} seed{'s' if n > 1 else ''})"
    if v <= -bar:
        return f"{choice} against {variant}: confirmed at this budget, {variant} costs {spread}."
    if v >= bar:
        return f"{choice} against {variant}: contradicted at this budget, {variant} adds {spread}."
    return (f"{choice} against {variant}: not settled at this budget, {variant} gives {spread}, "
            f"within {bar:.{decimals}f} dB of no change.")


def mean_margins(margins_db: dict, method: str) -> dict:
    """``{preset: mean over the test proteins of method's PSNR minus the tuned BM3D's}`` (dB), from the
    ``"method | protein | preset"`` keys of a recorded ``margins_db``; the held-out set is left out."""
    parsed = ((key.split(" | "), v) for key, v in margins_db.items())
    return _test_means({(protein, preset): v for (m, protein, preset), v in parsed if m == method})
