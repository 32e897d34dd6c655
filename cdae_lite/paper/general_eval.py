"""How good is a denoiser on particles it never saw? The general denoiser against a fairly tuned BM3D.

Every denoiser is scored on the same images: the three test proteins at SNR 0.1 (64 px), in the
paper's preset (exact views, no CTF) and the realistic one (jitter, in-plane rotation, shifts, CTF),
and the held-out apoferritin, which no training or tuning step ever saw. BM3D gets each image's true
noise sigma times a factor tuned on the *training* protein (RuBisCO) simulated in the same preset, as
every classical filter's parameter is: one factor per preset. Scores: PSNR, gain, correlation, the
affine-fitted PSNR (an oracle) and view fidelity, per image.

Stack-aware denoising averages each image with aligned look-alikes before denoising. Beside it, on the
same images: BM3D given the very same averages (its factor tuned on the training protein's averages),
and the true-class average (each image replaced by the mean of the noisy images of its true view,
aligned on the clean images where the preset rotates and shifts them): an oracle that knows the
views, the ceiling of averaging in the paper's preset. :func:`stack_margins` compares them like for like.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache, partial

import numpy as np
import pandas as pd

from cdae_lite.denoise.preprocess import star_ctfs
from cdae_lite.denoise.stackaware import (StackAwareConfig, aligned_average, find_lookalikes, stack_averages,
                                          stack_denoise)
from cdae_lite.denoise.tuning import TUNING_GRIDS, tune
from cdae_lite.images import evenly_spaced
from cdae_lite.io.paths import data_path
from cdae_lite.metrics import image_scores
from cdae_lite.paper.general import HELD_OUT
from cdae_lite.paper.profiles import ProfiledConfig
from cdae_lite.paper.tables import view_columns
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.maps import load_map
from cdae_lite.simulation.proteins import test_proteins, training_protein
from cdae_lite.simulation.stacks import simulate, simulate_protein
from cdae_lite.simulation.views import distinct_views

N_VIEWS = 4  #: views per evaluation stack (the test proteins' shipped views; the held-out map's most distinct ones)
#: The stack-aware variants scored (:mod:`cdae_lite.denoise.stackaware`), with the CLI's defaults.
STACK_AWARE = {"stack-aware (aligned)": StackAwareConfig(), "stack-aware (no alignment)": StackAwareConfig(align=False)}
#: The CTF-aware variant (``--ctf-aware``, for stacks under a CTF), scored by the peers' comparison.
CTF_AWARE = {"stack-aware (aligned, CTF-aware)": StackAwareConfig(ctf_aware=True)}
BM3D_FACTORS = tuple(TUNING_GRIDS["BM3D"]["sigma_factor"])  #: BM3D's factors tried on the training protein's images
#: BM3D's sigma factors tried on the training protein's stack-aware averages, whose noise sigma is
#: :func:`average_sigma` (at 64 px and SNR 0.1, 1.0 was best, inside this grid, in both presets).
AVERAGE_FACTORS = (0.5, 0.7, 1.0, 1.4, 2.0)
PRESETS = ("paper", "realistic")  #: the simulation presets every denoiser is scored in

#: The row that replaces each image by the mean of its true view's noisy images (an oracle that knows the
#: views: the ceiling of averaging in the paper's preset; in the realistic one the images of a view also
#: differ by their CTF, which such an average blurs, so there it need not be above every method).
TRUE_CLASS = CEILING = "true-class average"


@dataclass(frozen=True)
class DenoiserEvaluation(ProfiledConfig):
    """Which images the general denoiser is scored on.

    Attributes
    ----------
    size : int -- box, pixels. images_per_view : int -- images per view of each simulated stack.
    n_images : int -- images per (protein, preset) scored by every method, spread over the views.
    snr : float -- input SNR. n_tune : int -- training-protein images BM3D's factor is tuned on.
    seed : int -- seeds the simulations (different from every training seed).
    """

    size: int = 64
    images_per_view: int = 250
    n_images: int = 64
    snr: float = 0.1
    n_tune: int = 32
    seed: int = 12345

    @classmethod
    def quick_overrides(cls) -> dict:
        return {"images_per_view": 8, "n_images": 8, "n_tune": 4}

    smoke_overrides = quick_overrides


def _sim(cfg: DenoiserEvaluation, preset: str) -> SimulationConfig:
    s = SimulationConfig(image_size=cfg.size, images_per_view=cfg.images_per_view, test_snr=cfg.snr, seed=cfg.seed)
    return s.realistic() if preset == "realistic" else s


def evaluation_stacks(cfg: DenoiserEvaluation, presets=("paper", "realistic"), device=None) -> dict:
    """``{(protein, preset): SimulatedStack}`` for the three test proteins and the held-out apoferritin."""
    out = {}
    vol, px = load_map(data_path(HELD_OUT))
    views = distinct_views(vol, N_VIEWS, device="cpu")
    for preset in presets:
        sim = _sim(cfg, preset)
        for p in test_proteins():
            out[(p.name, preset)] = simulate_protein(p, sim, snrs=(cfg.snr,), device=device)
        out[("apoferritin (held out)", preset)] = simulate(vol, px, views, sim, snrs=(cfg.snr,),
                                                           name="apoferritin", device=device)
    return out


@lru_cache(maxsize=2)  # BM3D's tuning on single images and on each variant's averages share the stack
def _training_stack(cfg: DenoiserEvaluation, preset: str, device=None):
    return simulate_protein(training_protein(), replace(_sim(cfg, preset), seed=cfg.seed + 1), snrs=(cfg.snr,),
                            device=device)


def tuned_bm3d(cfg: DenoiserEvaluation, device=None, preset: str = "paper"):
    """BM3D with its sigma factor chosen by mean PSNR on the training protein simulated in ``preset``
    (a seed of its own); ``(BM3D, table)``."""
    s = _training_stack(cfg, preset, device)
    idx = evenly_spaced(len(s), cfg.n_tune)
    return tune("BM3D", s.noisy[cfg.snr][idx], s.clean[idx], s.noise_sigma(cfg.snr)[idx],
                grid={"sigma_factor": list(BM3D_FACTORS)})


def tuned_bm3d_per_preset(cfg: DenoiserEvaluation, presets=PRESETS, device=None) -> tuple[dict, pd.DataFrame]:
    """BM3D tuned separately for each preset (:func:`tuned_bm3d`).

    Returns
    -------
    bm3d : ``{preset: BM3D}``.
    tuning : DataFrame -- every factor tried, with a ``preset`` column.
    """
    bm3d, tables = {}, []
    for preset in presets:
        bm3d[preset], table = tuned_bm3d(cfg, device, preset)
        tables.append(table.assign(preset=preset))
    return bm3d, pd.concat(tables, ignore_index=True)


def recorded_bm3d(metrics: dict) -> tuple[dict, pd.DataFrame]:
    """BM3D's factors and tuning table from a recorded ``general`` (or ``general_ablation``) result.

    Reads both shapes: records with one factor per preset (``bm3d_sigma_factors``, ``bm3d_tunings``) and
    older ones with a single factor, tuned on the paper preset and used for every preset.

    Returns
    -------
    factors : ``{preset: factor BM3D was scored with}``.
    tuning : DataFrame -- ``preset`` (the preset it was tuned in), ``value``, ``psnr_mean`` ...

    Examples
    --------
    >>> old = {"bm3d_sigma_factor": 1.5, "bm3d_tuning": [{"value": 1.5, "psnr_mean": 9.0}]}
    >>> f, t = recorded_bm3d(old)
    >>> f, list(t["preset"])
    ({'paper': 1.5, 'realistic': 1.5}, ['paper'])
    """
    if "bm3d_sigma_factors" in metrics:
        tables = [pd.DataFrame(rows).assign(preset=p) for p, rows in metrics["bm3d_tunings"].items()]
        return dict(metrics["bm3d_sigma_factors"]), pd.concat(tables, ignore_index=True)
    return ({p: metrics["bm3d_sigma_factor"] for p in PRESETS},
            pd.DataFrame(metrics["bm3d_tuning"]).assign(preset="paper"))


def score_denoisers(denoisers: dict[str, Callable], stacks: dict, cfg: DenoiserEvaluation,
                    stack_methods: dict[str, Callable] | None = None,
                    columns: Callable | None = None) -> list[dict]:
    """One row per (protein, preset, method): :func:`~cdae_lite.metrics.image_scores`, view fidelity
    (``view_accuracy``, ``view_margin``, ``collapsed``; :func:`~cdae_lite.metrics.view_fidelity`) and
    seconds per image.

    ``denoisers[name](images, sigma)`` returns the denoised images; ``sigma`` is each image's true
    noise standard deviation (used by BM3D; a learned denoiser ignores it).
    ``stack_methods[name](stack, indices)`` returns the scored images (``indices`` of the
    :class:`~cdae_lite.simulation.stacks.SimulatedStack` ``stack``) denoised with the help of the whole
    stack (stack-aware methods; the seconds include the search over the stack).
    ``columns(out, clean, stack)``, when given, returns more columns for each row (e.g. the FRC). An
    output with non-finite pixels gets a row with ``nonfinite`` (how many images) and no scores.
    """
    rows = []
    for (protein, preset), s in stacks.items():
        idx = evenly_spaced(len(s), cfg.n_images)
        x, c, sigma, lab = s.noisy[cfg.snr][idx], s.clean[idx], s.noise_sigma(cfg.snr)[idx], s.labels[idx]
        for name, fn in {"raw": lambda a, b: a, **denoisers, **(stack_methods or {})}.items():
            t = time.perf_counter()
            out = fn(s, idx) if name in (stack_methods or {}) else fn(x, sigma)
            seconds = (time.perf_counter() - t) / len(x)  # the denoiser's time, not the scoring's
            bad = int((~np.isfinite(out)).reshape(len(out), -1).any(1).sum())
            if bad:  # reported as such, never averaged in
                rows.append({"protein": protein, "preset": preset, "method": name, "nonfinite": bad,
                             "seconds_per_image": seconds})
                continue
            rows.append({"protein": protein, "preset": preset, "method": name, **image_scores(out, c),
                         **view_columns(out, c, lab, rotated=s.config.inplane_rotation), **(columns(out, c, s) if columns else {}),
                         "seconds_per_image": seconds})
    return rows


def margins(rows: list[dict], method: str, reference: str = "BM3D (tuned)") -> dict:
    """``{(protein, preset): PSNR of method minus PSNR of reference}``, dB."""
    by = {(r["protein"], r["preset"], r["method"]): r["psnr"] for r in rows}
    return {(p, s): by[(p, s, method)] - by[(p, s, reference)] for (p, s, m) in by if m == method
            and (p, s, reference) in by}


def stack_margins(rows: list[dict], variants=tuple(STACK_AWARE)) -> list[dict]:
    """Stack-aware denoising against references on the same images, per set and variant, dB.

    For each variant ``v`` (a key of :data:`STACK_AWARE`) scored in ``rows``:
    ``vs_bm3d_on_same_averages_db`` (general + v minus BM3D + v: both denoise the very same averages,
    like for like), ``vs_single_image_bm3d_db`` (general + v minus BM3D (tuned) on the single images),
    ``bm3d_averaging_db`` (BM3D + v minus BM3D (tuned): what averaging alone gives BM3D) and
    ``true_class_minus_stack_aware_db`` (the true-class average, :data:`TRUE_CLASS`, minus general + v:
    how far below the oracle). A comparison whose rows are missing is left out (``NaN``).

    Examples
    --------
    >>> rows = [{"protein": "a", "preset": "paper", "method": m, "psnr": v} for m, v in
    ...         (("BM3D (tuned)", 20.0), ("general + x", 26.0), ("BM3D + x", 24.5), (TRUE_CLASS, 30.0))]
    >>> m = stack_margins(rows, ("x",))[0]
    >>> m["vs_bm3d_on_same_averages_db"], m["vs_single_image_bm3d_db"], m["bm3d_averaging_db"]
    (1.5, 6.0, 4.5)
    >>> m["true_class_minus_stack_aware_db"]
    4.0
    """
    out = []
    for v in variants:
        aware = f"general + {v}"
        columns = {"vs_bm3d_on_same_averages_db": margins(rows, aware, f"BM3D + {v}"),
                   "vs_single_image_bm3d_db": margins(rows, aware),
                   "bm3d_averaging_db": margins(rows, f"BM3D + {v}"),
                   "true_class_minus_stack_aware_db": {k: -d for k, d in margins(rows, aware, TRUE_CLASS).items()}}
        for key in dict.fromkeys(k for c in columns.values() for k in c):
            out.append({"protein": key[0], "preset": key[1], "variant": v,
                        **{name: c.get(key, float("nan")) for name, c in columns.items()}})
    return out


def like_for_like(stack_margins_rows: list[dict], variant: str, column: str = "vs_bm3d_on_same_averages_db") -> dict:
    """One column of :func:`stack_margins` for one variant as ``{"protein / preset": dB}`` (the sets of
    chapter 7's tables), ready for :func:`~cdae_lite.paper.tables.verdict` with ``item="set"``.

    >>> like_for_like([{"protein": "adk", "preset": "paper", "variant": "v", "vs_bm3d_on_same_averages_db": 1.5}], "v")
    {'adk / paper': 1.5}
    """
    return {f"{r['protein']} / {r['preset']}": r[column] for r in stack_margins_rows if r["variant"] == variant}


def calibrated(model, device=None) -> Callable:
    """``(images, sigma) -> output`` of ``model`` rescaled by its Stein calibration on those images
    (:mod:`cdae_lite.denoise.calibrate`; it uses the noisy images and sigma, never the truth)."""
    from cdae_lite.denoise.calibrate import apply_scale, stein_scale
    from cdae_lite.denoise.inference import predict

    def run(x, sigma):
        def f(a):
            return predict(model, a, device=device)

        return apply_scale(f(x), x, stein_scale(f, x, sigma)["scale"])

    return run


def average_sigma(sigma, neighbours, queries) -> np.ndarray:
    """Noise sigma of each query's average with its look-alikes.

    ``sigma`` (n,): each image's noise sigma; ``neighbours`` (q, K): the look-alikes of each query
    (``Alignment.neighbours`` of :func:`~cdae_lite.denoise.stackaware.find_lookalikes`). The average of ``K + 1`` independent
    noises: ``sqrt(sigma_q^2 + sum_j sigma_j^2) / (K + 1)``; the smoothing of a neighbour's noise by
    its rotation (interpolation) is ignored, so this is an upper bound when neighbours are rotated.

    >>> average_sigma([2.0, 2.0, 2.0, 2.0], [[1, 2, 3]], [0])
    array([1.])
    """
    sig, nb = np.asarray(sigma, np.float64), np.asarray(neighbours, np.int64)
    q = np.asarray(queries, np.int64)
    return np.sqrt(sig[q] ** 2 + (sig[nb] ** 2).sum(1)) / (nb.shape[1] + 1)


def true_class_averages(noisy, clean, labels, queries, align: bool = False) -> np.ndarray:
    """Each query image replaced by the mean of the noisy images of its true view, itself included.

    Without ``align`` this is :func:`~cdae_lite.paper.tables.class_average_ceiling`'s average (the
    paper's views are exact). With ``align`` (presets that rotate and shift the particles), every image
    of the view is first aligned to the query by the in-plane rotation and shift that best match their
    *clean* images (:func:`~cdae_lite.denoise.stackaware.find_lookalikes` on the clean images): an
    oracle that knows the views and the poses. Float32 (q, s, s).
    """
    x, c = np.asarray(noisy, np.float32), np.asarray(clean, np.float32)
    lab, q = np.asarray(labels), np.asarray(queries, np.int64)
    out = np.empty((len(q), *x.shape[1:]), np.float32)
    for view in np.unique(lab[q]):
        members = np.flatnonzero(lab == view)
        mine = lab[q] == view
        if not align or len(members) < 2:
            out[mine] = x[members].mean(0)
            continue
        pos = np.searchsorted(members, q[mine])
        k = len(members) - 1
        al = find_lookalikes(c[members], StackAwareConfig(neighbours=k, candidates=k), queries=pos)
        out[mine] = aligned_average(x[members], al, pos)
    return out


def tuned_bm3d_on_averages(cfg: DenoiserEvaluation, model, config: StackAwareConfig, preset: str = "paper",
                           device=None):
    """BM3D for stack-aware averages: its factor chosen by mean PSNR on ``cfg.n_tune`` averages of the
    training protein (simulated in ``preset``, the stack :func:`tuned_bm3d` uses), made by ``model``
    and ``config`` as :func:`~cdae_lite.denoise.stackaware.stack_denoise` makes them; ``(BM3D, table)``."""
    s = _training_stack(cfg, preset, device)
    idx = evenly_spaced(len(s), cfg.n_tune)
    avg, al = stack_averages(model, s.noisy[cfg.snr], config, idx, device, ctfs=_ctfs(s, config))
    return tune("BM3D", avg, s.clean[idx], average_sigma(s.noise_sigma(cfg.snr), al.neighbours, idx),
                grid={"sigma_factor": list(AVERAGE_FACTORS)})


def _ctfs(stack, config: StackAwareConfig):  # each image's CTF where the variant is CTF-aware
    return star_ctfs(stack.clean.shape[-1], stack.pixel_size_A, stack.meta, stack.optics) if config.ctf_aware else None


def _stack_aware(model, config: StackAwareConfig, device, snr, stack, indices):
    return stack_denoise(model, stack.noisy[snr], config, queries=indices, device=device, ctfs=_ctfs(stack, config))


def _bm3d_on_averages(model, config: StackAwareConfig, bm3d, device, snr, stack, indices):
    avg, al = stack_averages(model, stack.noisy[snr], config, indices, device, ctfs=_ctfs(stack, config))
    return bm3d.denoise(avg, sigma=average_sigma(stack.noise_sigma(snr), al.neighbours, indices))


def _true_class(align: bool, snr, stack, indices):
    return true_class_averages(stack.noisy[snr], stack.clean, stack.labels, indices, align)


def stack_methods_for(cfg: DenoiserEvaluation, model, preset: str, device=None,
                      variants=tuple(STACK_AWARE)) -> tuple[dict, dict, dict]:
    """The stack methods scored in ``preset``: ``model`` stack-aware (each of ``variants``, keys of :data:`STACK_AWARE`
    or :data:`CTF_AWARE`),
    BM3D on the same averages (``"BM3D + <variant>"``, its factor tuned on the training protein's
    averages) and the true-class average (:data:`TRUE_CLASS`).

    Returns ``(methods for score_denoisers, {variant: BM3D factor}, {variant: tuning table})``.
    """
    methods, factors, tables = {}, {}, {}
    for label in variants:
        how = {**STACK_AWARE, **CTF_AWARE}[label]
        bm3d, table = tuned_bm3d_on_averages(cfg, model, how, preset, device)
        factors[label], tables[label] = bm3d.sigma_factor, table.to_dict("records")
        methods[f"general + {label}"] = partial(_stack_aware, model, how, device, cfg.snr)
        methods[f"BM3D + {label}"] = partial(_bm3d_on_averages, model, how, bm3d, device, cfg.snr)
    sim = _sim(cfg, preset)
    methods[TRUE_CLASS] = partial(_true_class, bool(sim.inplane_rotation or sim.max_shift_px > 0), cfg.snr)
    return methods, factors, tables


def run_general_eval(cfg: DenoiserEvaluation, models: dict, device=None) -> dict:
    """Every shipped model, with and without calibration, against BM3D tuned for each preset on every
    evaluation set; the general model also stack-aware, beside BM3D on the same averages and the
    true-class average (:func:`stack_methods_for`).

    Returns ``rows`` (:func:`score_denoisers`), ``bm3d_sigma_factors`` and ``bm3d_tunings`` (per
    preset), ``bm3d_sigma_factor`` and ``bm3d_tuning`` (the paper preset's, as older records had
    them; read either shape with :func:`recorded_bm3d`), ``margins_db`` (each model row minus BM3D
    (tuned), keyed ``"method | protein | preset"``), and with a general model ``stack_margins``
    (:func:`stack_margins`), ``bm3d_average_factors`` and ``bm3d_average_tunings`` (per preset and
    variant).
    """
    from cdae_lite.denoise.inference import predict

    bm3d, tuning = tuned_bm3d_per_preset(cfg, device=device)
    stacks = evaluation_stacks(cfg, device=device)
    rows, result, compared = [], {"bm3d_average_factors": {}, "bm3d_average_tunings": {}}, []
    for preset in PRESETS:
        denoisers = {"BM3D (tuned)": (lambda b: lambda x, s: b.denoise(x, sigma=s))(bm3d[preset])}
        for name, model in models.items():
            denoisers[name] = (lambda m: lambda x, s: predict(m, x, device=device))(model)
            denoisers[f"{name} + calibration"] = calibrated(model, device)
        stack_methods = {}
        if "general" in models:
            stack_methods, factors, tables = stack_methods_for(cfg, models["general"], preset, device)
            result["bm3d_average_factors"][preset], result["bm3d_average_tunings"][preset] = factors, tables
        compared += [m for m in [*denoisers, *stack_methods] if m.startswith(tuple(models)) and m not in compared]
        rows += score_denoisers(denoisers, {k: v for k, v in stacks.items() if k[1] == preset}, cfg, stack_methods)
    tables = {p: t.drop(columns="preset").to_dict("records") for p, t in tuning.groupby("preset", sort=False)}
    result.update({"bm3d_sigma_factors": {p: b.sigma_factor for p, b in bm3d.items()}, "bm3d_tunings": tables,
                   "bm3d_sigma_factor": bm3d["paper"].sigma_factor, "bm3d_tuning": tables["paper"], "rows": rows,
                   "margins_db": {f"{m} | {p} | {s}": v for m in compared for (p, s), v in margins(rows, m).items()}})
    if "general" in models:
        result["stack_margins"] = stack_margins(rows)
    else:
        del result["bm3d_average_factors"], result["bm3d_average_tunings"]
    return result


def record_general_eval(profile: str | None = None, device=None, out=None, notes: str = ""):
    """Score the shipped general denoiser and general CDAE and record ``results/<profile>/general.json``."""
    from cdae_lite.denoise.checkpoint import load_denoiser
    from cdae_lite.paper.results import record
    from cdae_lite.paper.profiles import get_profile

    profile_name = profile or get_profile()
    cfg = DenoiserEvaluation.quick() if profile_name == "quick" else DenoiserEvaluation()
    models = {name: load_denoiser(name)[0] for name in ("general", "cdae")}
    return record("general", profile_name, cfg.as_dict(), run_general_eval(cfg, models, device), [cfg.seed],
                  device, out, notes)
