"""Side by side with the field's tools: Topaz-Denoise and ASPIRE's Cov2D beside our denoisers.

The images are general-eval's (:func:`~cdae_lite.paper.general_eval.evaluation_stacks`: the three test
proteins and the held-out apoferritin, both presets, SNR 0.1, 64 px) and the scoring is its
:func:`~cdae_lite.paper.general_eval.score_denoisers`, with the FRC resolution added to every row.

**Single image.** Topaz-Denoise's pretrained general models ``unet`` and ``unet-small`` (package
``topaz-em``), run as ``topaz denoise`` runs them (each image normalised, denoised, its scale restored),
at our 64-px pixel size and resampled (Fourier) to :data:`TOPAZ_PIXEL_A`, about the pixel size of the
micrographs they were trained on, and back. Their one free choice, the contrast polarity (they were
trained on micrographs, where particles are dark; ours are bright), is tuned on the training protein,
as every baseline's parameter is (:func:`tuned_topaz`). Beside them: the shipped general denoiser and
BM3D tuned per preset (:func:`~cdae_lite.paper.general_eval.tuned_bm3d_per_preset`).

**Stacks** (each set's 4 x 250 images): ASPIRE's Cov2D covariance Wiener filter
(``aspire.denoising.DenoiserCov2D``) given the true noise variance (the mean over the stack of each
image's true noise variance). Our target is the image *after* the CTF; Cov2D given CTFs estimates the
image *before* it, so it is given none: it then models the covariance of the images after the CTF, and
its Wiener estimate is of that very target. Beside it, general-eval's stack rows: ``--stack-aware``
(aligned look-alikes), BM3D on the same averages, and the true-class average (the ceiling).

A peer whose output is not finite on a set is reported as such (``nonfinite``) and its scores are left
empty, never averaged in.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path

from dataclasses import replace

import numpy as np

from cdae_lite.images import evenly_spaced, resample_images
from cdae_lite.metrics import frc, frc_resolution, psnr
from cdae_lite.paper.general_eval import (PRESETS, STACK_AWARE, TRUE_CLASS, DenoiserEvaluation, _training_stack,
                                          evaluation_stacks, score_denoisers, stack_methods_for, tuned_bm3d_per_preset)
from cdae_lite.paper.tables import verdict

log = logging.getLogger(__name__)

#: The packages of the peers, by import name: the distribution that provides it.
PEER_PACKAGES = {"topaz": "topaz-em", "aspire": "aspire"}
#: How to install them: the ``[peers]`` extra (ASPIRE and what Topaz imports), then Topaz-Denoise without its
#: declared torchvision, which would replace a CPU torch with a CUDA build.
INSTALL = 'pip install -e ".[peers]" && pip install --no-deps topaz-em==0.3.20'

#: Topaz-Denoise's pretrained 2D general models compared.
TOPAZ_MODELS = ("unet", "unet-small")

#: Pixel size (Angstrom) the Topaz rows "at its pixel size" are resampled to. Topaz-Denoise's general
#: models were trained on whole micrographs of many datasets at their collection pixel sizes (about 1
#: Angstrom per pixel, not binned to particle scale); 1 Angstrom is our reading of that scale, not a
#: figure Topaz states per model.
TOPAZ_PIXEL_A = 1.0

#: The stack-aware variants: aligned look-alikes (the CLI's default) on every preset; without alignment
#: (``--no-align``, which the README prescribes for particles not rotated in plane) on the paper preset's;
#: CTF-aware (``--ctf-aware``, for particles with a CTF) on the realistic preset's.
STACK_VARIANT, UNALIGNED, CTF_VARIANT = "stack-aware (aligned)", "stack-aware (no alignment)", "stack-aware (aligned, CTF-aware)"
STACK_VARIANTS = {"paper": (STACK_VARIANT, UNALIGNED), "realistic": (STACK_VARIANT, CTF_VARIANT)}

#: Row names.
GENERAL, BM3D, COV2D = "general", "BM3D (tuned)", "Cov2D (ASPIRE, true noise variance)"
AWARE, BM3D_AVG = f"general + {STACK_VARIANT}", f"BM3D + {STACK_VARIANT}"
AWARE_NA, BM3D_AVG_NA = f"general + {UNALIGNED}", f"BM3D + {UNALIGNED}"
AWARE_CTF, BM3D_AVG_CTF = f"general + {CTF_VARIANT}", f"BM3D + {CTF_VARIANT}"


#: The ``cpu`` profile's size: general-eval's stacks (4 x 250 images per set) and scored images (64 per set,
#: 16 per view) with 8 tuning images, so that the run fits on a shared 2-core CPU.
CPU_REDUCED = {"n_images": 64, "n_tune": 8}
CPU_NOTE = ("Reduced for a shared 2-core CPU (OMP_NUM_THREADS=1; BM3D runs in general-eval's joblib workers): 8 "
            "training-protein images for each tuning (general-eval tunes on 32); the stacks and the 64 scored images "
            "per set are general-eval's.")


def topaz_row(model: str, resampled: bool = False) -> str:
    """The row name of a Topaz model, at our pixel size or resampled to :data:`TOPAZ_PIXEL_A`.

    >>> topaz_row("unet"), topaz_row("unet-small", True)
    ('Topaz unet', 'Topaz unet-small (1 Å/px)')
    """
    return f"Topaz {model}" + (f" ({TOPAZ_PIXEL_A:g} Å/px)" if resampled else "")


def missing_peers() -> list[str]:
    """The peers' distributions (:data:`PEER_PACKAGES`) that are not installed, e.g. ``["topaz-em"]``."""
    return [dist for mod, dist in PEER_PACKAGES.items() if importlib.util.find_spec(mod) is None]


def peers_note() -> str:
    """One line for the book: which peers are installed, or how to install the missing ones."""
    gone = missing_peers()
    if not gone:
        return "Peers installed: " + ", ".join(PEER_PACKAGES.values()) + "."
    return (f"Not installed: {', '.join(gone)} ({INSTALL}); the live comparison is skipped and "
            "the recorded one above stands.")


class PeerError(RuntimeError):
    """A peer is not installed or failed on an input."""


def require_peers() -> None:
    """Raise :class:`PeerError` with one clear line when a peer is missing."""
    gone = missing_peers()
    if gone:
        raise PeerError(f"peers not installed: {', '.join(gone)}; install them with {INSTALL}")


def topaz_model(name: str) -> object:
    """Topaz-Denoise's pretrained model ``name`` (``"unet"``, ``"unet-small"``) as a ``topaz`` ``Denoise``."""
    import warnings

    with warnings.catch_warnings():  # topaz loads its weights through pkg_resources, deprecated in setuptools
        warnings.simplefilter("ignore", UserWarning)
        from topaz.denoise import Denoise

        try:
            return Denoise(name)
        except Exception as e:  # topaz-em 0.3.20 loads its weights through pkg_resources (setuptools < 81)
            raise PeerError(f"Topaz-Denoise could not load {name!r}: {e} (topaz-em needs setuptools<81)") from e


def topaz_denoise(images: np.ndarray, model, sign: float = 1.0, pixel_size_A: float | None = None,
                  target_pixel_A: float | None = None) -> np.ndarray:
    """Denoise each image with a Topaz ``Denoise`` as ``topaz denoise`` does (normalised, denoised, rescaled).

    Parameters
    ----------
    images : array (n, s, s), float -- noisy images.
    model : a ``topaz.denoise.Denoise``.
    sign : float -- ``-1`` negates the images for the model and its output back (dark-particle polarity).
    pixel_size_A, target_pixel_A : float -- when both are given, each image is Fourier-resampled from
        ``pixel_size_A`` to ``target_pixel_A`` (Angstrom per pixel) before denoising and back after.

    Returns
    -------
    array (n, s, s), float32.
    """
    x = np.asarray(images, np.float32)
    size = x.shape[-1]
    big = size if not (pixel_size_A and target_pixel_A) else 2 * int(round(size * pixel_size_A / target_pixel_A / 2))
    z = resample_images(x, big) if big != size else x
    out = np.stack([sign * model.denoise(np.ascontiguousarray(sign * im, np.float32)) for im in z])
    return np.asarray(resample_images(out, size) if big != size else out, np.float32)


def tuned_topaz(cfg: DenoiserEvaluation, model, preset: str, resampled: bool = False) -> tuple[float, list[dict]]:
    """Topaz's polarity (``+1`` as given, ``-1`` negated) chosen by mean PSNR on ``cfg.n_tune`` images
    of the training protein simulated in ``preset`` (BM3D's tuning stack); ``(sign, table)``."""
    s = _training_stack(cfg, preset)
    idx = evenly_spaced(len(s), cfg.n_tune)
    px = (s.pixel_size_A, TOPAZ_PIXEL_A) if resampled else (None, None)
    table = [{"sign": sign, "psnr_mean": float(psnr(topaz_denoise(s.noisy[cfg.snr][idx], model, sign, *px),
                                                    s.clean[idx]).mean())} for sign in (1.0, -1.0)]
    return max(table, key=lambda r: r["psnr_mean"])["sign"], table


def cov2d_denoise(images: np.ndarray, noise_var: float, indices, pixel_size_A: float = 1.0) -> np.ndarray:
    """ASPIRE's Cov2D on a whole stack (n, s, s), given the noise variance and the pixel size (Angstrom);
    the ``indices`` images denoised, float32 (q, s, s).

    No CTF is given (see the module's note): the covariance is of the images as they are, after the CTF.
    """
    from aspire.denoising import DenoiserCov2D
    from aspire.source import ArrayImageSource

    logging.getLogger("aspire").setLevel(logging.WARNING)  # ASPIRE logs every step at INFO on stdout
    src = ArrayImageSource(np.asarray(images, np.float64), pixel_size=float(pixel_size_A))
    try:
        out = DenoiserCov2D(src, var_noise=float(noise_var)).denoise[np.asarray(indices)].asnumpy()
    except Exception as e:
        raise PeerError(f"ASPIRE Cov2D failed on a stack of {len(images)} images: {e}") from e
    return np.asarray(out, np.float32)


def _cov2d(snr: float, stack, indices) -> np.ndarray:
    return cov2d_denoise(stack.noisy[snr], float(np.mean(stack.noise_sigma(snr) ** 2)), indices,
                         stack.pixel_size_A)


def _topaz_resampled(model, sign: float, snr: float, stack, indices) -> np.ndarray:
    return topaz_denoise(stack.noisy[snr][indices], model, sign, stack.pixel_size_A, TOPAZ_PIXEL_A)


def finite_or_nan(fn: Callable) -> Callable:
    """``fn`` that logs a warning when its output has non-finite pixels (it is returned as it is, and
    :func:`~cdae_lite.paper.general_eval.score_denoisers` reports it as ``nonfinite``, never averaged in)."""
    def run(*args):
        out = np.asarray(fn(*args), np.float32)
        bad = int((~np.isfinite(out)).reshape(len(out), -1).any(1).sum())
        if bad:
            log.warning("a peer's output is not finite on %d of %d images", bad, len(out))
        return out

    return run


def frc_columns(out: np.ndarray, clean: np.ndarray, stack) -> dict:
    """The FRC resolution of a row (``columns`` of :func:`~cdae_lite.paper.general_eval.score_denoisers`).

    ``frc_ring``: mean over images of the first ring (cycles per box) where the FRC between estimate and
    clean image falls below 0.5; ``frc_resolution_A``: that ring as a resolution, box x pixel size / ring
    (Angstrom; smaller is better). Both ``NaN`` for a non-finite output.
    """
    if not np.isfinite(out).all():
        return {"frc_ring": float("nan"), "frc_resolution_A": float("nan")}
    ring = float(frc_resolution(frc(out, clean)).mean())
    return {"frc_ring": ring, "frc_resolution_A": out.shape[-1] * float(stack.pixel_size_A) / ring}


def _single_image_methods(cfg: DenoiserEvaluation, general, bm3d, topaz: dict, preset: str,
                          device=None) -> tuple[dict, dict, dict]:
    """Single-image denoisers (``(x, sigma)``) and Topaz resampled (a stack method: it needs the pixel size)."""
    from cdae_lite.denoise.inference import predict

    denoisers = {GENERAL: lambda x, s: predict(general, x, device=device), BM3D: lambda x, s: bm3d.denoise(x, sigma=s)}
    resampled, signs = {}, {}
    for name, model in topaz.items():
        for r in (False, True):
            sign, table = tuned_topaz(cfg, model, preset, r)
            signs[topaz_row(name, r)] = {"sign": sign, "tuning": table}
            if r:
                resampled[topaz_row(name, r)] = finite_or_nan(partial(_topaz_resampled, model, sign, cfg.snr))
            else:
                denoisers[topaz_row(name)] = finite_or_nan(partial(lambda m, g, x, s: topaz_denoise(x, m, g), model, sign))
    return denoisers, resampled, signs


def run_peers(cfg: DenoiserEvaluation, general, device=None) -> dict:
    """Every row of the comparison on every set (see the module's note).

    Returns ``rows`` (:func:`~cdae_lite.paper.general_eval.score_denoisers` with ``frc_ring``,
    ``frc_resolution_A`` and ``nonfinite``), ``topaz_signs`` (per preset and row: polarity and its tuning),
    ``bm3d_sigma_factors``, ``bm3d_average_factors`` (per preset and variant), ``pixel_size_A`` (per set) and
    ``margins_db`` (:func:`peer_margins`).
    """
    require_peers()
    topaz = {name: topaz_model(name) for name in TOPAZ_MODELS}
    bm3d, _ = tuned_bm3d_per_preset(cfg, device=device)
    stacks = evaluation_stacks(cfg, device=device)
    rows, signs, avg_factors = [], {}, {}
    for preset in PRESETS:
        log.info("peers: %s preset", preset)
        denoisers, resampled, signs[preset] = _single_image_methods(cfg, general, bm3d[preset], topaz, preset, device)
        stack, avg_factors[preset], _ = stack_methods_for(cfg, general, preset, device, STACK_VARIANTS[preset])
        stack_methods = {**resampled, COV2D: finite_or_nan(partial(_cov2d, cfg.snr)), **stack}
        rows += score_denoisers(denoisers, {k: v for k, v in stacks.items() if k[1] == preset}, cfg, stack_methods,
                                columns=frc_columns)
    for r in rows:
        r.setdefault("nonfinite", 0)
    return {"rows": rows, "topaz_signs": signs, "bm3d_sigma_factors": {p: b.sigma_factor for p, b in bm3d.items()},
            "bm3d_average_factors": avg_factors, "pixel_size_A": {f"{k[0]} / {k[1]}": s.pixel_size_A
                                                                  for k, s in stacks.items()},
            "margins_db": peer_margins(rows)}


#: The comparisons the record and the chapters state: (subject, other), like compared with like
#: (single images with single images, averages with averages, Cov2D with the stack methods).
COMPARISONS = ((GENERAL, topaz_row("unet")), (GENERAL, topaz_row("unet-small")), (GENERAL, topaz_row("unet", True)),
               (GENERAL, topaz_row("unet-small", True)), (GENERAL, BM3D), (AWARE, COV2D), (AWARE, BM3D_AVG),
               (TRUE_CLASS, AWARE), (AWARE_NA, COV2D), (AWARE_NA, BM3D_AVG_NA), (TRUE_CLASS, AWARE_NA),
               (AWARE_CTF, COV2D), (AWARE_CTF, BM3D_AVG_CTF), (TRUE_CLASS, AWARE_CTF))


def with_flags(rows: list[dict], general_rows: list[dict] | None) -> list[dict]:
    """``rows`` with ``collapsed`` also set where ``general.json``'s rows (the same 64 images per set)
    flag that method on that set: chapters 4 and 7 then give no verdict on an output one record flags.

    >>> r = [{"protein": "apo", "preset": "paper", "method": "general", "collapsed": False}]
    >>> with_flags(r, [{**r[0], "collapsed": True}])[0]["collapsed"]
    True
    """
    flag = {(r["protein"], r["preset"], r["method"]) for r in general_rows or () if r.get("collapsed")}
    return [{**r, "collapsed": bool(r.get("collapsed")) or (r["protein"], r["preset"], r["method"]) in flag}
            for r in rows]


def set_margins(rows: list[dict], subject: str, other: str, value: str = "affine_psnr") -> dict:
    """``{"protein / preset": subject minus other}`` of one column, dB, of the values as the tables show them
    (2 decimals); sets where either is missing or not finite are left out.

    >>> rows = [{"protein": "adk", "preset": "paper", "method": m, "affine_psnr": v} for m, v in (("a", 25.0), ("b", 22.5))]
    >>> set_margins(rows, "a", "b")
    {'adk / paper': 2.5}
    """
    by = {(r["protein"], r["preset"], r["method"]): round(r.get(value, float("nan")), 2) for r in rows}
    return {f"{p} / {s}": round(by[(p, s, subject)] - by[(p, s, other)], 2) for (p, s, m) in by
            if m == subject and (p, s, other) in by and np.isfinite(by[(p, s, subject)] - by[(p, s, other)])}


def peer_margins(rows: list[dict]) -> dict:
    """Each of :data:`COMPARISONS` per set, in PSNR and affine-fitted PSNR:
    ``{"subject - other | value": {"protein / preset": dB}}``."""
    return {f"{a} - {b} | {v}": set_margins(rows, a, b, v) for a, b in COMPARISONS for v in ("psnr", "affine_psnr")}


def peer_verdicts(rows: list[dict], value: str = "affine_psnr", comparisons=COMPARISONS) -> list[str]:
    """One :func:`~cdae_lite.paper.tables.verdict` per ``(subject, other)`` of ``comparisons`` (default
    :data:`COMPARISONS`) found in ``rows`` (no verdict on a set where either output collapsed or is not
    finite), on ``value`` (dB)."""
    gone = {(f"{r['protein']} / {r['preset']}", r["method"]) for r in rows if r.get("collapsed") or r.get("nonfinite")}
    out = []
    for a, b in comparisons:
        diffs = set_margins(rows, a, b, value)
        if diffs:
            out.append(verdict({k: round(v, 2) for k, v in diffs.items()}, a, b, item="set",
                               collapsed=[k for k in diffs if (k, a) in gone or (k, b) in gone]))
    return out


def record_peers(profile: str | None = None, device=None, out=None, notes: str = "",
                 cfg: DenoiserEvaluation | None = None) -> Path:
    """Run :func:`run_peers` and record ``results/<profile>/peers.json`` (general-eval's images and seed)."""
    from cdae_lite.denoise.checkpoint import load_denoiser
    from cdae_lite.paper.results import record
    from cdae_lite.paper.profiles import get_profile

    profile_name = profile or get_profile()
    if cfg is None:
        cfg = DenoiserEvaluation.quick() if profile_name == "quick" else DenoiserEvaluation()
        if profile_name == "cpu":
            cfg, notes = replace(cfg, **CPU_REDUCED), (notes + " " + CPU_NOTE).strip()
    require_peers()
    result = run_peers(cfg, load_denoiser("general")[0], device)
    return record("peers", profile_name, {**cfg.as_dict(), "topaz_pixel_A": TOPAZ_PIXEL_A,
                                          "stack_variants": STACK_VARIANTS}, result, [cfg.seed], device, out, notes)


#: The rows of each table the chapters show: single-image methods, and the stack methods.
SINGLE_ROWS = ("raw", GENERAL, BM3D, *(topaz_row(m, r) for r in (False, True) for m in TOPAZ_MODELS))
STACK_ROWS = (COV2D, AWARE, BM3D_AVG, AWARE_NA, BM3D_AVG_NA, AWARE_CTF, BM3D_AVG_CTF, TRUE_CLASS)


def live_rows(n_images: int = 8, images_per_view: int = 40, device=None) -> list[dict]:
    """The peers live on a few images (the book, when they are installed): the first test protein in the
    paper's preset (64 px, SNR 0.1, general-eval's seed), ``n_images`` scored, Topaz ``unet`` at our pixel
    size (polarity as recorded for the paper preset, else as given), Cov2D on the whole small stack, the
    general denoiser on its own and stack-aware. Rows of :func:`~cdae_lite.paper.general_eval.score_denoisers`."""
    from cdae_lite.denoise.checkpoint import load_denoiser
    from cdae_lite.denoise.inference import predict
    from cdae_lite.paper.general_eval import _sim, _stack_aware
    from cdae_lite.paper.results import largest_recorded
    from cdae_lite.simulation.proteins import test_proteins
    from cdae_lite.simulation.stacks import simulate_protein

    require_peers()
    cfg = replace(DenoiserEvaluation(), images_per_view=images_per_view, n_images=n_images)
    rec = largest_recorded("peers")
    sign = rec["metrics"]["topaz_signs"]["paper"][topaz_row("unet")]["sign"] if rec else 1.0
    general, unet = load_denoiser("general")[0], topaz_model("unet")
    p = test_proteins()[0]
    stacks = {(p.name, "paper"): simulate_protein(p, _sim(cfg, "paper"), snrs=(cfg.snr,), device=device)}
    single = {GENERAL: lambda x, s: predict(general, x, device=device),
              topaz_row("unet"): finite_or_nan(lambda x, s: topaz_denoise(x, unet, sign))}
    stack = {COV2D: finite_or_nan(partial(_cov2d, cfg.snr)),
             AWARE: partial(_stack_aware, general, STACK_AWARE[STACK_VARIANT], device, cfg.snr)}
    return score_denoisers(single, stacks, cfg, stack)
