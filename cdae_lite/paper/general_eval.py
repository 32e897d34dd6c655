"""How good is a denoiser on particles it never saw? The general denoiser against a fairly tuned BM3D.

Every denoiser is scored on the same images: the three test proteins at SNR 0.1 (64 px), in the
paper's preset (exact views, no CTF) and the realistic one (jitter, in-plane rotation, shifts, CTF),
and the held-out apoferritin, which no training or tuning step ever saw. BM3D gets each image's true
noise sigma times a factor tuned on the *training* protein (RuBisCO), as every classical filter's
parameter is. Scores: PSNR, gain, correlation and the affine-fitted PSNR (an oracle), per image.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from cdae_lite.denoise.baselines import tune
from cdae_lite.denoise.stackaware import StackAwareConfig, stack_denoise
from cdae_lite.images import evenly_spaced
from cdae_lite.io.paths import data_path
from cdae_lite.metrics import image_scores, view_fidelity
from cdae_lite.paper.general import HELD_OUT
from cdae_lite.runtime import ProfiledConfig
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.maps import load_map
from cdae_lite.simulation.proteins import test_proteins, training_protein
from cdae_lite.simulation.stacks import simulate, simulate_protein
from cdae_lite.simulation.views import distinct_views

#: The stack-aware variants scored (:mod:`cdae_lite.denoise.stackaware`), with the CLI's defaults.
STACK_AWARE = {"stack-aware (aligned)": StackAwareConfig(),
               "stack-aware (no alignment)": StackAwareConfig(align=False)}

#: BM3D's sigma factors tried on the training protein.
BM3D_FACTORS = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)


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

    @classmethod
    def smoke_overrides(cls) -> dict:
        return {"images_per_view": 8, "n_images": 8, "n_tune": 4}


def _sim(cfg: DenoiserEvaluation, preset: str) -> SimulationConfig:
    s = SimulationConfig(image_size=cfg.size, images_per_view=cfg.images_per_view, test_snr=cfg.snr,
                         seed=cfg.seed)
    return s.realistic() if preset == "realistic" else s


def evaluation_stacks(cfg: DenoiserEvaluation, presets=("paper", "realistic"), device=None) -> dict:
    """``{(protein, preset): SimulatedStack}`` for the three test proteins and the held-out apoferritin."""
    out = {}
    vol, px = load_map(data_path(HELD_OUT))
    views = distinct_views(vol, 4, device="cpu")
    for preset in presets:
        sim = _sim(cfg, preset)
        for p in test_proteins():
            out[(p.name, preset)] = simulate_protein(p, sim, snrs=(cfg.snr,), device=device)
        out[("apoferritin (held out)", preset)] = simulate(vol, px, views, sim, snrs=(cfg.snr,),
                                                           name="apoferritin", device=device)
    return out


def tuned_bm3d(cfg: DenoiserEvaluation, device=None):
    """BM3D with its sigma factor chosen by mean PSNR on the training protein; ``(BM3D, table)``."""
    s = simulate_protein(training_protein(), replace(_sim(cfg, "paper"), seed=cfg.seed + 1), snrs=(cfg.snr,),
                         device=device)
    idx = evenly_spaced(len(s), cfg.n_tune)
    return tune("BM3D", s.noisy[cfg.snr][idx], s.clean[idx], s.noise_sigma(cfg.snr)[idx],
                grid={"sigma_factor": list(BM3D_FACTORS)})


def score_denoisers(denoisers: dict[str, Callable], stacks: dict, cfg: DenoiserEvaluation,
                    stack_methods: dict[str, Callable] | None = None) -> list[dict]:
    """One row per (protein, preset, method): :func:`~cdae_lite.metrics.image_scores` and seconds per image.

    ``denoisers[name](images, sigma)`` returns the denoised images; ``sigma`` is each image's true
    noise standard deviation (used by BM3D; a learned denoiser ignores it).
    ``stack_methods[name](stack, indices)`` returns the scored images denoised with the help of the
    whole noisy stack (stack-aware methods; the seconds include the search over the stack).
    """
    rows = []
    for (protein, preset), s in stacks.items():
        idx = evenly_spaced(len(s), cfg.n_images)
        x, c, sigma, lab = s.noisy[cfg.snr][idx], s.clean[idx], s.noise_sigma(cfg.snr)[idx], s.labels[idx]
        for name, fn in {"raw": lambda a, b: a, **denoisers, **(stack_methods or {})}.items():
            t = time.perf_counter()
            out = fn(s.noisy[cfg.snr], idx) if name in (stack_methods or {}) else fn(x, sigma)
            v = view_fidelity(out, c, lab)
            rows.append({"protein": protein, "preset": preset, "method": name, **image_scores(out, c),
                         "view_accuracy": v["accuracy"], "view_margin": v["mean_margin"], "collapsed": v["collapsed"],
                         "seconds_per_image": (time.perf_counter() - t) / len(x)})
    return rows


def margins(rows: list[dict], method: str, reference: str = "BM3D (tuned)") -> dict:
    """``{(protein, preset): PSNR of method minus PSNR of reference}``, dB."""
    by = {(r["protein"], r["preset"], r["method"]): r["psnr"] for r in rows}
    return {(p, s): by[(p, s, method)] - by[(p, s, reference)] for (p, s, m) in by if m == method
            and (p, s, reference) in by}


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


def _stack_aware(model, config: StackAwareConfig, device, stack, indices):
    return stack_denoise(model, stack, config, queries=indices, device=device)


def run_general_eval(cfg: DenoiserEvaluation, models: dict, device=None) -> dict:
    """Every shipped model, with and without calibration, against the tuned BM3D on every evaluation set;
    the general model also stack-aware (each scored image denoised with look-alikes from its whole stack)."""
    from cdae_lite.denoise.inference import predict

    bm3d, tuning = tuned_bm3d(cfg, device)
    stacks = evaluation_stacks(cfg, device=device)
    denoisers = {"BM3D (tuned)": lambda x, s: bm3d.denoise(x, sigma=s)}
    for name, model in models.items():
        denoisers[name] = (lambda m: lambda x, s: predict(m, x, device=device))(model)
        denoisers[f"{name} + calibration"] = calibrated(model, device)
    stack_methods = {f"general + {label}": partial(_stack_aware, models["general"], how, device)
                     for label, how in STACK_AWARE.items() if "general" in models}
    rows = score_denoisers(denoisers, stacks, cfg, stack_methods)
    return {"bm3d_sigma_factor": bm3d.sigma_factor, "bm3d_tuning": tuning.to_dict("records"), "rows": rows,
            "margins_db": {f"{m} | {p} | {s}": v for m in [*denoisers, *stack_methods] if m != "BM3D (tuned)"
                           for (p, s), v in margins(rows, m).items()}}


def record_general_eval(profile: str | None = None, device=None, out=None, notes: str = ""):
    """Score the shipped general denoiser and general CDAE and record ``results/<profile>/general.json``."""
    from cdae_lite.denoise.checkpoint import load_denoiser
    from cdae_lite.paper.results import record
    from cdae_lite.runtime import get_profile

    profile_name = profile or get_profile()
    cfg = DenoiserEvaluation.quick() if profile_name == "quick" else DenoiserEvaluation()
    models = {name: load_denoiser(name)[0] for name in ("general", "cdae")}
    return record("general", profile_name, cfg.as_dict(), run_general_eval(cfg, models, device), [cfg.seed],
                  device, out, notes)
