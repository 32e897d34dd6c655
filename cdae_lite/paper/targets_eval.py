"""How good are the fine-tuning targets? Each choice of neighbours scored against the truth (chapter 3.4).

The paper's targets (the mean of each image's k = 30 nearest neighbours in the PCA of the raw images)
beside the choices of :mod:`cdae_lite.denoise.targets`: cluster-restricted neighbourhoods, up to 4k
neighbours with a distance threshold, neighbours searched among images denoised by the shipped
general model (label-free: it never saw the test proteins), and all three together. Scored per test
protein: the targets' PSNR against the clean images, the neighbours' purity (fraction of the same
view), how many neighbours were averaged, and the protocol's ceiling (true-class averages). Only
scoring uses the truth and the labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdae_lite.denoise.inference import predict
from cdae_lite.denoise.neighbours import pca_features
from cdae_lite.denoise.targets import TargetConfig, compare_targets
from cdae_lite.paper.profiles import ProfiledConfig
from cdae_lite.paper.tables import class_average_ceiling
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.proteins import test_proteins
from cdae_lite.simulation.stacks import simulate_protein


@dataclass(frozen=True)
class TargetEvaluation(ProfiledConfig):
    """The stacks the target choices are scored on (the paper's preset at SNR 0.1).

    Attributes
    ----------
    size : int -- box, pixels. images_per_view : int -- images of each of the 4 views.
    k : int -- the paper's neighbours per image. n_components : int -- PCA components.
    max_factor : int -- the thresholded choice looks at up to ``max_factor * k`` neighbours.
    distance_factor : float -- its threshold, times the k-th neighbour's distance.
    seed : int -- simulation seed.
    """

    size: int = 64
    images_per_view: int = 250
    k: int = 30
    n_components: int = 10
    max_factor: int = 4
    distance_factor: float = 1.2
    seed: int = 0

    @classmethod
    def quick_overrides(cls) -> dict:
        return {"size": 32, "images_per_view": 150}

    @classmethod
    def smoke_overrides(cls) -> dict:
        return {"images_per_view": 10}

    def choices(self, n_views: int, n_images: int | None = None) -> dict:
        """name -> (TargetConfig, feature name or None), the paper's first.

        ``n_images``: the stack's size, when known; the larger neighbourhoods ("up to ``max_factor * k``")
        are then capped at ``n_images - 1`` (a small stack, e.g. on the smoke path, holds fewer)."""
        k, nc, big = self.k, self.n_components, self.max_factor * self.k
        if n_images is not None:
            big = max(k, min(big, n_images - 1))
        return {"paper (k nearest, raw)": (TargetConfig(k, nc), None),
                "cluster-restricted": (TargetConfig(k, nc, clusters=n_views), None),
                f"up to {big}, threshold": (TargetConfig(big, nc, min_k=k, distance_factor=self.distance_factor), None),
                "denoised features": (TargetConfig(k, nc), "denoised"),
                "all three": (TargetConfig(big, nc, clusters=n_views, min_k=k, distance_factor=self.distance_factor),
                              "denoised")}


def run_targets_eval(cfg: TargetEvaluation, model, device=None) -> dict:
    """Rows per (protein, choice): target PSNR (dB), purity, neighbours; ``ceiling`` per protein (dB)."""
    sim = SimulationConfig(image_size=cfg.size, images_per_view=cfg.images_per_view, seed=cfg.seed)
    rows, ceiling = [], {}
    for protein in test_proteins():
        stack = simulate_protein(protein, sim, snrs=(0.1,))
        x = stack.noisy[0.1]
        feats = {"denoised": pca_features(predict(model, x, device=device), cfg.n_components, cfg.seed)}
        rows += [{"protein": stack.name, **r} for r in
                 compare_targets(x, stack.clean, stack.labels, cfg.choices(sim.n_views), feats, device=device)]
        ceiling[stack.name] = class_average_ceiling(x, stack.clean, stack.labels)["psnr_mean"]
    return {"rows": rows, "ceiling": ceiling}


def record_targets_eval(profile: str | None = None, device=None, out=None, notes: str = ""):
    """Run :func:`run_targets_eval` with the shipped general denoiser; record ``results/<profile>/targets.json``."""
    from cdae_lite.denoise.checkpoint import load_denoiser
    from cdae_lite.paper.results import record
    from cdae_lite.paper.profiles import get_profile

    profile_name = profile or get_profile()
    cfg = TargetEvaluation.quick() if profile_name == "quick" else TargetEvaluation()
    return record("targets", profile_name, cfg.as_dict(), run_targets_eval(cfg, load_denoiser("general")[0], device),
                  [cfg.seed], device, out, notes)
