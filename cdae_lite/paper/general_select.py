"""Choosing between general denoisers without a test protein.

A candidate (a longer run, a new recipe) replaces the shipped general denoiser only when it scores a
higher PSNR on the validation pseudo-proteins (:data:`~cdae_lite.paper.general.VALIDATION`, seeds
900-915, in no training bank) at every SNR the command line meets: 0.1 (single images, the paper's
level) and 1 and 3 (what the stack-aware mode hands the model: averages of about 31 images). No test
protein and not the held-out apoferritin take part, so the later evaluation stays honest.

Also :func:`set_rows`, which hands a general evaluation's rows (live or recorded) to the book's tables.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from cdae_lite.paper.general import VALIDATION
from cdae_lite.simulation.bank import BankConfig, clean_bank

#: The SNRs a replacement must win at.
SELECTION_SNRS = (0.1, 1.0, 3.0)

#: The seed of the validation noise (one realisation per SNR).
NOISE_SEED = 4242


def _noisy(clean: np.ndarray, snr: float, seed: int) -> np.ndarray:
    """``clean`` (n, s, s) plus one seeded realisation of white noise at ``snr`` (variance definition)."""
    gen = torch.Generator().manual_seed(seed)
    sigma = np.sqrt(clean.reshape(len(clean), -1).var(1) / snr).astype(np.float32)
    return clean + torch.randn(clean.shape, generator=gen).numpy() * sigma[:, None, None]


def validation_table(models: dict, snrs=SELECTION_SNRS, cfg: BankConfig = VALIDATION,
                     seed: int = NOISE_SEED, device=None) -> dict[str, dict[str, float]]:
    """Mean PSNR (dB) of each model on the validation bank at each SNR: ``{name: {str(snr): dB}}``.

    The bank is made once; every model sees the same noisy images (noise seed ``seed`` at every SNR).
    """
    from cdae_lite.denoise.inference import predict
    from cdae_lite.metrics import psnr

    clean, _ = clean_bank(cfg, device)
    table: dict[str, dict[str, float]] = {name: {} for name in models}
    for snr in snrs:
        noisy = _noisy(clean, snr, seed)
        for name, model in models.items():
            table[name][str(float(snr))] = float(np.mean(psnr(predict(model, noisy, device=device), clean)))
    return table


def validation_psnr(model, cfg: BankConfig = VALIDATION, snr: float = 0.1, seed: int = NOISE_SEED,
                    device=None) -> float:
    """Mean PSNR (dB) of ``model`` on the clean bank of ``cfg`` (default :data:`~cdae_lite.paper.general.VALIDATION`) with white
    noise at ``snr`` (one seeded realisation): the label that selects a model, never a test protein."""
    return validation_table({"m": model}, (snr,), cfg, seed, device)["m"][str(float(snr))]


def replaces(table: dict[str, dict[str, float]], candidate: str, shipped: str) -> bool:
    """Whether ``candidate`` scores higher than ``shipped`` at every SNR of ``table``."""
    return all(table[candidate][k] > table[shipped][k] for k in table[shipped])


def selection_verdict(table: dict[str, dict[str, float]], candidate: str, shipped: str) -> str:
    """One sentence: whether the candidate replaces the shipped model, with the per-SNR differences."""
    diffs = ", ".join(f"{table[candidate][k] - table[shipped][k]:+.2f} dB at SNR {float(k):g}" for k in table[shipped])
    if replaces(table, candidate, shipped):
        return f"{candidate} replaces {shipped}: higher validation PSNR at every SNR ({diffs})."
    return f"{candidate} does not replace {shipped}: it must score higher at every SNR ({diffs})."


def record_selection(candidate: str, shipped: str = "general", profile: str = "cpu", device=None, out=None,
                     notes: str = "", symmetrize: int = 1):
    """Score a candidate checkpoint and the shipped model on the validation bank and record
    ``results/<profile>/general_selection.json`` (the table, the verdict, both files' SHA-256).

    ``symmetrize`` > 1 scores the candidate averaged over that many flips and transposes
    (:class:`~cdae_lite.denoise.inference.Symmetrized`): with ``candidate="general"``, whether
    symmetrising the shipped model helps."""
    from cdae_lite.denoise.checkpoint import load_denoiser
    from cdae_lite.denoise.inference import Symmetrized
    from cdae_lite.io.files import sha256
    from cdae_lite.paper.results import record

    loaded = {"candidate": load_denoiser(candidate), "shipped": load_denoiser(shipped)}
    models = {k: v[0] for k, v in loaded.items()}
    if symmetrize > 1:
        models["candidate"] = Symmetrized(models["candidate"], symmetrize)
    table = validation_table(models, device=device)
    files = {k: {"file": str(v[2]), "sha256": sha256(v[2]),
                 "images_seen": v[1]["record"].get("history", {}).get("images_seen")} for k, v in loaded.items()}
    metrics = {"psnr": table, "files": files, "replaces": replaces(table, "candidate", "shipped"),
               "verdict": selection_verdict(table, "candidate", "shipped")}
    return record("general_selection", profile, {"validation": asdict(VALIDATION), "snrs": list(SELECTION_SNRS),
                                                 "noise_seed": NOISE_SEED, "symmetrize": symmetrize},
                  metrics, [VALIDATION.seed], device, out, notes)


def set_rows(rows: list[dict], pool: bool = False) -> list[dict]:
    """Rows of :func:`~cdae_lite.paper.general_eval.score_denoisers` (live or recorded) in the shape of
    :func:`~cdae_lite.paper.tables.psnr_rows`, for ``paper.denoising_table``, ``pivot`` and
    ``collapsed_table``: one ``protein`` per set (``"protein / preset"``) or, with ``pool``, per group
    (``"test proteins"`` or the held-out set; the tables average its rows). View fidelity is kept
    where the rows carry it (recordings made before the measure do not).

    >>> r = {"protein": "adk", "preset": "paper", "method": "BM3D", "psnr": 20.0, "gain": 0.9, "affine_psnr": 21.0}
    >>> [set_rows([r])[0]["protein"], set_rows([r], pool=True)[0]["protein"], "view_accuracy" in set_rows([r])[0]]
    ['adk / paper', 'test proteins', False]
    """
    keys = {"psnr": "psnr_mean", "gain": "gain_mean", "affine_psnr": "affine_psnr_mean",
            "view_accuracy": "view_accuracy", "view_margin": "view_margin", "collapsed": "collapsed"}

    def where(r):
        return (r["protein"] if "held out" in r["protein"] else "test proteins") if pool else \
            f"{r['protein']} / {r['preset']}"

    return [{"protein": where(r), "method": r["method"], **{k: r[o] for o, k in keys.items() if o in r}} for r in rows]
