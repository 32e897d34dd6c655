"""Does denoising help clustering by view? ``cdae-lite cluster -k 4`` as a user runs it, scored.

Each test protein is simulated in the paper's preset (exact views, no CTF) at several SNRs and
written to a stack; the stack is clustered as the command line does it (:func:`~cdae_lite.cluster.stacks.cluster_path`:
incremental PCA + k-means), with and without ``--denoise`` (the shipped general model), with and
without the refinement loop (:mod:`cdae_lite.cluster.refine`). F1 is matched per view (Hungarian)
against the true views; the class sizes show whether a method lumps images into one class.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cdae_lite.cluster.stacks import cluster_path
from cdae_lite.io.mrc import write_stack
from cdae_lite.metrics import clustering_scores
from cdae_lite.paper.profiles import ProfiledConfig
from cdae_lite.paper.tables import f1_direction
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.proteins import test_proteins
from cdae_lite.simulation.stacks import simulate_protein

#: The settings scored: (label, denoise the images first, refine the labels).
SETTINGS = (("PCA + k-means", False, False), ("denoised, PCA + k-means", True, False),
            ("PCA + k-means, refined", False, True), ("denoised, PCA + k-means, refined", True, True))


@dataclass(frozen=True)
class ClusterEvaluation(ProfiledConfig):
    """Which stacks ``cdae-lite cluster`` is scored on.

    Attributes
    ----------
    size : int -- box, pixels. images_per_view : int -- images of each of the 4 views.
    snrs : tuple of float -- input SNRs. k : int -- classes asked for. seed : int -- simulation seed.
    """

    size: int = 64
    images_per_view: int = 250
    snrs: tuple = (0.1, 0.05, 0.03, 0.02)
    k: int = 4
    seed: int = 2024

    @classmethod
    def quick_overrides(cls) -> dict:
        return {"images_per_view": 40, "snrs": (0.1, 0.03)}

    @classmethod
    def smoke_overrides(cls) -> dict:
        return {"images_per_view": 10, "snrs": (0.1,)}


def run_cluster_eval(cfg: ClusterEvaluation, model, device=None) -> dict:
    """One row per (protein, SNR, setting): F1, ARI, class sizes and refinement rounds."""
    sim = SimulationConfig(image_size=cfg.size, images_per_view=cfg.images_per_view, seed=cfg.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in test_proteins():
            s = simulate_protein(p, sim, snrs=cfg.snrs, device=device)
            for snr in cfg.snrs:
                path = write_stack(Path(tmp) / f"{p.name}_{snr}.mrcs", s.noisy[snr], s.pixel_size_A)
                for label, denoise, refine in SETTINGS:
                    r = cluster_path(path, cfg.k, model=model if denoise else None, device=device,
                                     refine_with=model if refine else None)
                    sc = clustering_scores(s.labels, r.labels)
                    rows.append({"protein": p.name, "snr": snr, "setting": label, "f1": sc["f1"], "ari": sc["ari"],
                                 "sizes": sorted(r.sizes, reverse=True),
                                 "rounds": len(r.refinement.changed) if r.refinement else 0,
                                 "converged": bool(r.refinement.converged) if r.refinement else None})
    return {"rows": rows}


def worst_f1(rows: list[dict]) -> dict:
    """``{(setting, snr): lowest F1 over the proteins}``."""
    out = {}
    for r in rows:
        key = (r["setting"], r["snr"])
        out[key] = min(out.get(key, np.inf), r["f1"])
    return out


def denoising_lowers(rows: list[dict], tolerance: float = 0.0) -> list[tuple]:
    """The (protein, SNR, refined) cases where denoising first lowers F1 by more than ``tolerance``."""
    by = {(r["protein"], r["snr"], r["setting"]): r["f1"] for r in rows}
    out = []
    for (protein, snr, setting), f1 in by.items():
        if setting.startswith("denoised, "):
            raw = by[(protein, snr, setting.removeprefix("denoised, "))]
            if f1 < raw - tolerance:
                out.append((protein, snr, setting.endswith("refined"), round(raw, 3), round(f1, 3)))
    return out


def denoising_directions(rows: list[dict], chance: float) -> dict[tuple, int | None]:
    """Per (protein, SNR, setting without denoising): whether denoising first raised (1), lowered (-1) or did
    not change (0) the F1 (:func:`~cdae_lite.paper.tables.f1_direction`: ties within ``F1_TIE``), or None
    where both F1 are at or below ``chance``."""
    by = {(r["protein"], r["snr"], r["setting"]): r["f1"] for r in rows}
    return {(p, snr, s.removeprefix("denoised, ")): f1_direction(f1, by[(p, snr, s.removeprefix("denoised, "))], chance)
            for (p, snr, s), f1 in by.items() if s.startswith("denoised, ")}


def directions_disagree(here: dict, recorded: dict) -> list[tuple]:
    """The cases of :func:`denoising_directions` in both runs whose directions differ, both judged (not None):
    ``(protein, SNR, setting, here, recorded)``.

    >>> directions_disagree({("adk", 0.1, "PCA"): 1, ("adk", 0.05, "PCA"): None}, {("adk", 0.1, "PCA"): -1, ("adk", 0.05, "PCA"): 1})
    [('adk', 0.1, 'PCA', 1, -1)]
    """
    return [(*k, a, recorded[k]) for k, a in here.items()
            if k in recorded and a is not None and recorded[k] is not None and a != recorded[k]]


def record_cluster_eval(profile: str | None = None, device=None, out=None, notes: str = ""):
    """Run :func:`run_cluster_eval` with the shipped general model; record ``results/<profile>/cluster_eval.json``."""
    from cdae_lite.denoise.checkpoint import load_denoiser
    from cdae_lite.paper.results import record
    from cdae_lite.paper.profiles import get_profile

    profile_name = profile or get_profile()
    cfg = ClusterEvaluation.quick() if profile_name == "quick" else ClusterEvaluation()
    model = load_denoiser("general")[0]
    return record("cluster_eval", profile_name, cfg.as_dict(), run_cluster_eval(cfg, model, device), [cfg.seed],
                  device, out, notes)
