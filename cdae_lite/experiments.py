"""The paper's experiments as functions of one config, with cached models and recorded results.

Chapters call these functions so that they stay short; the recorded full-profile results under
``results/`` are made by the same functions from the command line::

    python -m cdae_lite.experiments cdae --profile full --seeds 0 1 2

Trained models are cached on disk (``cache_dir()/models``), keyed by the experiment's config and a
hash of the package's source code: chapters that need the same model train it once, and any change
of code or config trains anew. Results files carry their provenance (date, device, torch version,
git commit, seeds, the exact command); see ``results/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import __version__, datasets, metrics
from .checkpoint import json_default, load_model, save_model
from .config import SimulationConfig, get_device, get_profile
from .inference import predict
from .maps import cache_dir
from .models import AEConfig, DnCNNConfig, UNetConfig
from .simulate import SimulatedStack, simulate_protein
from .train import (FineTuneConfig, TrainConfig, finetune, pretrain_cdae, pretrain_end_to_end,
                    pretrain_single)


# ------------------------------------------------------------------------------------ the config
@dataclass(frozen=True)
class CDAEExperiment:
    """Everything that defines chapters 2 and 3: data, architecture, pre-training, fine-tuning.

    ``full()`` is the paper's scale; ``quick()`` the same protocol on 32 px images, 150 images per
    view and fewer epochs, for a CPU.
    """

    sim: SimulationConfig = SimulationConfig()
    ae: AEConfig = AEConfig()
    pretrain: TrainConfig = TrainConfig()
    finetune: FineTuneConfig = FineTuneConfig()
    seed: int = 0

    @classmethod
    def quick(cls, **overrides) -> "CDAEExperiment":
        return cls(**{"sim": SimulationConfig.quick(), "pretrain": TrainConfig(epochs=20),
                      "finetune": FineTuneConfig.for_profile("quick"), **overrides})

    @classmethod
    def full(cls, **overrides) -> "CDAEExperiment":
        return cls(**overrides)

    @classmethod
    def for_profile(cls, profile: str | None = None, **overrides) -> "CDAEExperiment":
        return cls.quick(**overrides) if get_profile(profile) == "quick" else cls.full(**overrides)

    def with_seed(self, seed: int) -> "CDAEExperiment":
        """The same experiment with every random draw (data, initialisation, batches) reseeded."""
        return replace(self, seed=seed, sim=replace(self.sim, seed=seed),
                       pretrain=replace(self.pretrain, seed=seed),
                       finetune=replace(self.finetune, train=replace(self.finetune.train, seed=seed)))

    def as_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------------------ data
def paper_data(exp: CDAEExperiment, device=None) -> tuple[SimulatedStack, dict[str, SimulatedStack]]:
    """The training protein (paired SNRs + clean) and the three test proteins (SNR 0.1)."""
    train = simulate_protein(datasets.training_protein(), exp.sim, device=device)
    tests = {p.name: simulate_protein(p, exp.sim, device=device) for p in datasets.test_proteins()}
    return train, tests


def cdae_pairs(stack: SimulatedStack, snrs: tuple[float, ...] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Block ``i``'s pre-training pairs: (SNR_i, SNR_{i+1}), the last block (SNR_last, clean)."""
    s = sorted(stack.noisy) if snrs is None else list(snrs)
    steps = [stack.noisy[a] for a in s] + [stack.clean]
    return [(steps[i], steps[i + 1]) for i in range(len(s))]


# ------------------------------------------------------------------------------------ the cache
def code_hash() -> str:
    """SHA-256 of the package's source files: a changed line invalidates cached models."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _key(*parts) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob + code_hash().encode()).hexdigest()[:20]


def cached_model(name: str, key_parts, train_fn, architecture: str, config: dict):
    """Load model ``name`` from the cache, or train it with ``train_fn() -> (model, record)``.

    Returns ``(model, record)``; the record (histories etc.) is stored in the checkpoint.
    """
    path = cache_dir() / "models" / f"{name}-{_key(name, key_parts)}.pt"
    if path.exists():
        try:
            model, meta = load_model(path, expect=architecture)
            return model, meta["record"]
        except ValueError:
            path.unlink()  # a stale or broken cache entry: train again
    model, record = train_fn()
    save_model(path, model, architecture, config, record=record)
    return model.eval(), record


def data_hash(*arrays: np.ndarray) -> str:
    """Fingerprint of the data a model is trained on (part of every cache key)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _hist(h) -> dict:
    return h.as_dict()


def pretrained_models(exp: CDAEExperiment, train: SimulatedStack, device=None,
                      which: tuple[str, ...] = ("single", "cdae", "control")) -> dict:
    """The pre-trained models of chapter 2, trained once and cached.

    Returns ``{"single": (model, record), "cdae": (...), "control": (...)}`` (those in ``which``):

    - ``single``: one autoencoder, SNR 0.1 to clean (the paper's single DAE);
    - ``cdae``: three blocks pre-trained 0.1 to 0.4, 0.4 to 0.6, 0.6 to clean;
    - ``control``: CDAE's three autoencoders in a chain trained end to end, 0.1 to clean (capacity
      control, :func:`cdae_lite.models.chain`).
    """
    lo = min(train.noisy)
    key = (exp.sim.as_dict(), exp.ae.__dict__, exp.pretrain.as_dict(), data_hash(*cdae_pairs(train)[0]))
    aec = asdict(exp.ae)

    def single():
        m, h = pretrain_single(train.noisy[lo], train.clean, exp.ae, exp.pretrain, device)
        return m, {"histories": [_hist(h)]}

    def cascade():
        m, hs = pretrain_cdae(cdae_pairs(train), exp.ae, exp.pretrain, device)
        return m, {"histories": [_hist(h) for h in hs]}

    def control():
        m, h = pretrain_end_to_end(train.noisy[lo], train.clean, exp.ae, exp.pretrain, 3, device)
        return m, {"histories": [_hist(h)]}

    makers = {"single": (single, "autoencoder"), "cdae": (cascade, "cdae"), "control": (control, "chain")}
    return {name: cached_model(name, key, makers[name][0], makers[name][1], aec) for name in which}


def finetuned_model(exp: CDAEExperiment, base_name: str, base, stack: SimulatedStack, device=None):
    """Fine-tune a pre-trained model on one test stack (cached); returns ``(model, record)``.

    The record holds per-block neighbour purity and training histories.
    """
    x = stack.noisy[min(stack.noisy)]
    key = (exp.as_dict(), base_name, stack.name, data_hash(x))
    arch = "cdae"

    def run():
        model, rep = finetune(base, x, exp.finetune, labels=stack.labels, device=device)
        return model, {"purity": rep.purity, "histories": [_hist(h) for h in rep.histories]}

    return cached_model(f"{base_name}-ft-{stack.name}", key, run, arch, asdict(exp.ae))


# -------------------------------------------------------------------------------------- tables
def psnr_rows(estimates: dict[str, np.ndarray], clean: np.ndarray, protein: str, he: bool = False) -> list[dict]:
    """One row per method: protein, method, PSNR mean, std and n (optionally after HE)."""
    rows = []
    for name, est in estimates.items():
        s = metrics.summarize(metrics.psnr(est, clean, he=he))
        rows.append({"protein": protein, "method": name, "psnr_mean": s["mean"], "psnr_std": s["std"],
                     "n": s["n"], "he": he})
    return rows


def pivot(rows: list[dict], value: str = "psnr_mean", columns: str = "method") -> pd.DataFrame:
    """Rows of :func:`psnr_rows` as a proteins x methods table (in first-seen order)."""
    df = pd.DataFrame(rows)
    order = list(dict.fromkeys(df[columns]))
    return df.pivot_table(index="protein", columns=columns, values=value, sort=False)[order]


def mean_std_table(frames: list[pd.DataFrame], decimals: int = 2) -> pd.DataFrame:
    """Cell-wise ``mean ± std`` over several tables of the same shape (e.g. seeds)."""
    stack = np.stack([f.to_numpy(float) for f in frames])
    m, s = stack.mean(0), stack.std(0)
    out = pd.DataFrame([[f"{a:.{decimals}f} ± {b:.{decimals}f}" for a, b in zip(ra, rb)] for ra, rb in zip(m, s)],
                       index=frames[0].index, columns=frames[0].columns)
    return out


# ------------------------------------------------------------------------------ Table 1: baselines
@dataclass(frozen=True)
class BaselineExperiment:
    """Chapter 4 (the paper's Table 1 and beyond): every denoiser on the same test images.

    Attributes
    ----------
    cdae : CDAEExperiment -- data, and the single DAE / CDAE models (from chapters 2 and 3).
    n_eval : int -- test images per protein scored by every method (BM3D costs ~1 s per image).
    n_tune : int -- training-protein images used to tune the classical filters' parameters.
    dncnn, dncnn_train : DnCNN architecture and training (on the training protein's pairs).
    n2v, n2v_train, n2v_fraction : Noise2Void U-Net, training, masked-pixel fraction (on each
        test protein's own noisy images: self-supervised, no clean targets).
    snr_sweep, n_sweep : input SNRs and images per SNR of the robustness figure.
    """

    cdae: CDAEExperiment = CDAEExperiment()
    n_eval: int = 200
    n_tune: int = 128
    dncnn: DnCNNConfig = DnCNNConfig()
    dncnn_train: TrainConfig = TrainConfig(epochs=20, optimizer="adam")
    n2v: UNetConfig = UNetConfig(channels=32)
    n2v_train: TrainConfig = TrainConfig(epochs=30, optimizer="adam", val_fraction=0.0)
    n2v_fraction: float = 0.02
    snr_sweep: tuple = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
    n_sweep: int = 64

    @classmethod
    def quick(cls, **overrides) -> "BaselineExperiment":
        return cls(**{"cdae": CDAEExperiment.quick(), "n_eval": 40, "n_tune": 32,
                      "dncnn": DnCNNConfig(depth=8, channels=32),
                      "dncnn_train": TrainConfig(epochs=10, optimizer="adam"),
                      "n2v": UNetConfig(channels=16),
                      "n2v_train": TrainConfig(epochs=15, optimizer="adam", val_fraction=0.0),
                      "n_sweep": 16, **overrides})

    @classmethod
    def full(cls, **overrides) -> "BaselineExperiment":
        return cls(**overrides)

    @classmethod
    def for_profile(cls, profile: str | None = None, **overrides) -> "BaselineExperiment":
        return cls.quick(**overrides) if get_profile(profile) == "quick" else cls.full(**overrides)

    def as_dict(self) -> dict:
        return asdict(self)


def eval_subset(n: int, n_eval: int) -> np.ndarray:
    """Indices of ``n_eval`` images spread evenly over a stack of ``n`` (every view represented)."""
    return np.unique(np.linspace(0, n - 1, min(n, n_eval)).astype(int))


def tuned_classical(bx: BaselineExperiment, train: SimulatedStack) -> tuple[dict, pd.DataFrame]:
    """Classical denoisers with parameters tuned on the training protein at the lowest SNR.

    Returns ``({name: denoiser}, tuning table)``; BM3D and the Wiener filter have no parameter.
    """
    from . import baselines

    lo = min(train.noisy)
    idx = eval_subset(len(train), bx.n_tune)
    x, c = train.noisy[lo][idx], train.clean[idx]
    sigma = train.meta[f"cdaeNoiseSigma_{lo:g}"].to_numpy()[idx]
    methods, tables = {}, []
    for name in ("Gaussian", "TV", "Wavelet", "NL-means"):
        best, table = baselines.tune(name, x, c, sigma)
        methods[name] = best
        tables.append(table)
    methods["Wiener"] = baselines.Wiener()
    methods["BM3D"] = baselines.BM3D()
    return methods, pd.concat(tables, ignore_index=True)


def dncnn_model(bx: BaselineExperiment, train: SimulatedStack, device=None):
    """DnCNN trained on the training protein's (lowest SNR, clean) pairs, cached."""
    from .models import dncnn
    from .config import seed_everything
    from .train import fit

    lo = min(train.noisy)

    def run():
        seed_everything(bx.dncnn_train.seed)
        m = dncnn(bx.dncnn)
        h = fit(m, train.noisy[lo], train.clean, bx.dncnn_train, device, desc="DnCNN")
        return m, {"history": h.as_dict()}

    key = (data_hash(train.noisy[lo], train.clean), asdict(bx.dncnn), bx.dncnn_train.as_dict())
    return cached_model("dncnn", key, run, "dncnn", asdict(bx.dncnn))


def noise2void_model(bx: BaselineExperiment, stack: SimulatedStack, device=None, snr: float | None = None):
    """A Noise2Void U-Net trained on one stack's own noisy images (no clean targets), cached."""
    from .models import unet
    from .config import seed_everything
    from .train import fit

    snr = min(stack.noisy) if snr is None else snr
    x = stack.noisy[snr]

    def run():
        seed_everything(bx.n2v_train.seed)
        m = unet(bx.n2v)
        h = fit(m, x, x, bx.n2v_train, device, desc=f"Noise2Void {stack.name}", blind_spot_fraction=bx.n2v_fraction)
        return m, {"history": h.as_dict()}

    key = (data_hash(x), stack.name, asdict(bx.n2v), bx.n2v_train.as_dict(), bx.n2v_fraction)
    return cached_model(f"n2v-{stack.name}", key, run, "unet", asdict(bx.n2v))


def score(estimate: np.ndarray, clean: np.ndarray) -> dict:
    """PSNR (without and with HE) and SSIM of a stack of estimates: means, stds, n."""
    p, ph, ss = metrics.psnr(estimate, clean), metrics.psnr(estimate, clean, he=True), metrics.ssim(estimate, clean)
    return {"psnr_mean": float(p.mean()), "psnr_std": float(p.std()), "psnr_he_mean": float(ph.mean()),
            "psnr_he_std": float(ph.std()), "ssim_mean": float(ss.mean()), "n": int(len(p))}


# ----------------------------------------------------------------------------- Table 2: clustering
@dataclass(frozen=True)
class ClusteringExperiment:
    """Chapter 5 (the paper's Table 2 and beyond): clustering the test proteins by view.

    Attributes
    ----------
    cdae : CDAEExperiment -- data and the CDAE / DAE networks.
    n_pca : int -- principal components for PCA + k-means.
    feature_train : TrainConfig -- training of the CAE and DAE feature networks (the paper: RMSprop,
        20 epochs).
    aae_iterations : int -- adversarial autoencoder iterations (the paper: 1500).
    snr_sweep : input SNRs of the F1-versus-SNR curves.
    align_iterations : iterations of the alignment-aware 2D classification.
    """

    cdae: CDAEExperiment = CDAEExperiment()
    n_pca: int = 10
    feature_train: TrainConfig = TrainConfig(epochs=20)
    aae_iterations: int = 1500
    snr_sweep: tuple = (0.03, 0.05, 0.1, 0.2, 0.5)
    align_iterations: int = 8

    @classmethod
    def quick(cls, **overrides) -> "ClusteringExperiment":
        return cls(**{"cdae": CDAEExperiment.quick(), "feature_train": TrainConfig(epochs=6),
                      "aae_iterations": 200, "snr_sweep": (0.03, 0.1, 0.3), "align_iterations": 5,
                      **overrides})

    @classmethod
    def full(cls, **overrides) -> "ClusteringExperiment":
        return cls(**overrides)

    @classmethod
    def for_profile(cls, profile: str | None = None, **overrides) -> "ClusteringExperiment":
        return cls.quick(**overrides) if get_profile(profile) == "quick" else cls.full(**overrides)

    def as_dict(self) -> dict:
        return asdict(self)


def cluster_methods(cx: ClusteringExperiment, stack: SimulatedStack, denoised: np.ndarray,
                    device=None, include=None) -> dict[str, np.ndarray]:
    """Labels from every clustering method of Table 2 for one stack; ``{method: labels}``.

    ``denoised`` is the stack denoised by fine-tuned CDAE. ``include`` restricts the methods.
    """
    from . import cluster
    from .features import aae_features, cae_features, dae_features

    k = stack.config.n_views
    x = stack.noisy[min(stack.noisy)]
    seed = cx.cdae.seed
    todo = {
        "k-means (raw)": lambda: cluster.kmeans(cluster.flatten(x), k, seed),
        "HC (raw)": lambda: cluster.hierarchical(cluster.flatten(x), k),
        "PCA + k-means": lambda: cluster.kmeans(cluster.pca(x, cx.n_pca, seed), k, seed),
        "CAE + k-means": lambda: cluster.kmeans(cae_features(x, cx.cdae.ae, cx.feature_train, device)[0], k, seed),
        "AAE + k-means": lambda: cluster.kmeans(aae_features(x, iterations=cx.aae_iterations, seed=seed,
                                                             device=device)[0], k, seed),
        "DAE + k-means": lambda: cluster.kmeans(dae_features(x, cx.cdae.ae, cx.feature_train, cx.cdae.finetune.k,
                                                             cx.cdae.finetune.n_components, device)[0], k, seed),
        "CDAE + k-means": lambda: cluster.kmeans(cluster.flatten(denoised), k, seed),
        "CDAE + HC": lambda: cluster.hierarchical(cluster.flatten(denoised), k),
        "2D classification (aligned)": lambda: cluster.align_classify(x, k, cx.align_iterations, seed=seed)[0],
    }
    return {m: f() for m, f in todo.items() if include is None or m in include}


def clustering_rows(labels: dict[str, np.ndarray], truth: np.ndarray, protein: str) -> list[dict]:
    """One row per method with :func:`metrics.clustering_scores` (largest cluster's share too)."""
    rows = []
    for m, lab in labels.items():
        sc = metrics.clustering_scores(truth, lab)
        sc.pop("mapping", None)
        rows.append({"protein": protein, "method": m, **sc,
                     "largest_cluster": float(np.bincount(lab).max() / len(lab))})
    return rows


def learned_denoisers(bx: BaselineExperiment, train: SimulatedStack, stack: SimulatedStack, device=None) -> dict:
    """Chapter 4's learned contenders for one test stack: ``{name: baselines.Learned}`` (all cached)."""
    from .baselines import Learned

    exp = bx.cdae
    pre = pretrained_models(exp, train, device, which=("single", "cdae"))
    return {"DnCNN": Learned(dncnn_model(bx, train, device)[0], "DnCNN", device=device),
            "Noise2Void": Learned(noise2void_model(bx, stack, device)[0], "Noise2Void", device=device),
            "single DAE (fine-tuned)": Learned(finetuned_model(exp, "single", pre["single"][0], stack, device)[0],
                                               "single DAE (fine-tuned)", device=device),
            "CDAE (pre-trained)": Learned(pre["cdae"][0], "CDAE (pre-trained)", device=device),
            "CDAE (fine-tuned)": Learned(finetuned_model(exp, "cdae", pre["cdae"][0], stack, device)[0],
                                         "CDAE (fine-tuned)", device=device)}


def table1(bx: BaselineExperiment, tests: dict, methods_for: dict) -> tuple[list[dict], dict, dict]:
    """Every method on the same evenly spread ``bx.n_eval`` images of each test protein.

    ``methods_for[protein]`` maps method names to denoisers. Returns ``(rows, outputs, runtime)``:
    scores per (protein, method), the denoised images, and seconds per image per method.
    """
    from . import baselines

    rows, outputs, runtime = [], {}, {}
    for name, s in tests.items():
        idx = eval_subset(len(s), bx.n_eval)
        x, c = s.noisy[0.1][idx], s.clean[idx]
        sigma = s.meta["cdaeNoiseSigma_0.1"].to_numpy()[idx]
        outputs[name] = {}
        for m, d in {"raw": baselines.Identity(), **methods_for[name]}.items():
            t = time.perf_counter()
            out = d.denoise(x, sigma=sigma)
            runtime.setdefault(m, []).append((time.perf_counter() - t) / len(x))
            outputs[name][m] = out
            rows.append({"protein": name, "method": m, **score(out, c)})
        out = baselines.BM3D().denoise(x)  # noise sigma estimated from each image
        outputs[name]["BM3D (estimated sigma)"] = out
        rows.append({"protein": name, "method": "BM3D (estimated sigma)", **score(out, c)})
    return rows, outputs, {m: float(np.mean(v)) for m, v in runtime.items()}


def denoising_snr_sweep(bx: BaselineExperiment, methods: dict, protein: str = "proteasome", device=None) -> list[dict]:
    """PSNR of each method against the input SNR (``bx.snr_sweep``), on fresh images of ``protein``."""
    from .simulate import simulate_protein

    rows = []
    for snr in bx.snr_sweep:
        s = simulate_protein(protein, replace(bx.cdae.sim, images_per_view=max(1, bx.n_sweep // 4),
                                              seed=bx.cdae.sim.seed + 7), snrs=(snr,), device=device)
        x, c = s.noisy[snr], s.clean
        sigma = s.meta[f"cdaeNoiseSigma_{snr:g}"].to_numpy()
        for m, d in methods.items():
            rows.append({"snr": snr, "method": m, "psnr": float(metrics.psnr(d.denoise(x, sigma=sigma), c).mean()),
                         "n": len(x)})
    return rows


def run_baselines(bx: BaselineExperiment, device=None) -> dict:
    """Table 1 (every denoiser on the same test images), its tuning, runtimes and the SNR sweep."""
    from . import baselines

    train, tests = paper_data(bx.cdae, device)
    classical, tuning = tuned_classical(bx, train)
    learned = {name: learned_denoisers(bx, train, s, device) for name, s in tests.items()}
    rows, _, runtime = table1(bx, tests, {name: {**classical, **learned[name]} for name in tests})
    prot = "proteasome"
    sweep = denoising_snr_sweep(bx, {"raw": baselines.Identity(), "NL-means": classical["NL-means"],
                                     "BM3D": classical["BM3D"], **{m: learned[prot][m] for m in
                                     ("DnCNN", "single DAE (fine-tuned)", "CDAE (fine-tuned)")}}, prot, device)
    return {"table1": rows, "tuning": tuning.to_dict("records"), "seconds_per_image": runtime, "snr_sweep": sweep,
            "dncnn_history": dncnn_model(bx, train, device)[1]["history"]}


def clustering_realistic(cx: ClusteringExperiment, names, device=None) -> list[dict]:
    """Clustering of the realistic preset (in-plane rotation, jitter, shifts, CTF) by pixel-wise,
    rotation-invariant and alignment-aware methods; one row per (protein, method)."""
    from . import cluster
    from .simulate import simulate_protein

    rows = []
    for name in names:
        s = simulate_protein(name, cx.cdae.sim.realistic(), device=device)
        x = s.noisy[min(s.noisy)]
        k = s.config.n_views
        labs = {"k-means (raw)": cluster.kmeans(cluster.flatten(x), k),
                "PCA + k-means": cluster.kmeans(cluster.pca(x, cx.n_pca), k),
                "rotation-invariant + k-means": cluster.kmeans(cluster.rotation_invariant_features(x), k),
                "2D classification (aligned)": cluster.align_classify(x, k, cx.align_iterations)[0]}
        rows += clustering_rows(labs, s.labels, name)
    return rows


def clustering_snr_sweep(cx: ClusteringExperiment, cdae_pretrained, protein: str = "proteasome",
                         finetune_epochs: int | None = None, device=None) -> list[dict]:
    """Matched F1 of raw, PCA and CDAE (fine-tuned anew at each SNR) clustering against the input SNR.

    Rows: ``snr``, ``method``, ``f1`` and ``purity`` (the neighbour purity of that SNR's fine-tuning).
    """
    from . import cluster
    from .simulate import simulate_protein

    exp = cx.cdae
    if finetune_epochs is not None:
        exp = replace(exp, finetune=replace(exp.finetune, train=replace(exp.finetune.train, epochs=finetune_epochs)))
    rows = []
    for snr in cx.snr_sweep:
        s = simulate_protein(protein, exp.sim, snrs=(snr,), device=device)
        x = s.noisy[snr]
        ft, rec = finetuned_model(exp, "cdae", cdae_pretrained, s, device)
        for m, lab in {"k-means (raw)": cluster.kmeans(cluster.flatten(x), 4),
                       "PCA + k-means": cluster.kmeans(cluster.pca(x, cx.n_pca), 4),
                       "CDAE + k-means": cluster.kmeans(cluster.flatten(predict(ft, x, device=device)), 4)}.items():
            rows.append({"snr": snr, "method": m, "f1": metrics.clustering_scores(s.labels, lab)["f1"],
                         "purity": rec["purity"][0]})  # of the neighbours behind CDAE's fine-tuning targets
    return rows


def run_clustering(cx: ClusteringExperiment, device=None) -> dict:
    """Table 2, confusion matrices, class averages, the realistic preset and the F1-versus-SNR sweep."""
    from . import cluster

    exp = cx.cdae
    train, tests = paper_data(exp, device)
    pre = pretrained_models(exp, train, device, which=("cdae",))
    rows, confusion, avg_corr = [], {}, {}
    for name, s in tests.items():
        den = predict(finetuned_model(exp, "cdae", pre["cdae"][0], s, device)[0], s.noisy[0.1], device=device)
        labels = cluster_methods(cx, s, den, device)
        rows += clustering_rows(labels, s.labels, name)
        confusion[name] = {m: metrics.confusion_matrix(s.labels, lab).tolist() for m, lab in labels.items()}
        lab = labels["CDAE + k-means"]
        mapping = metrics.matched_scores(s.labels, lab)["mapping"]
        avgs = cluster.class_averages(s.noisy[0.1], lab, s.config.n_views)
        avg_corr[name] = {int(v): float(cluster.correlation(avgs[c][None], s.clean[s.labels == v][:1])[0])
                          for c, v in mapping.items()}
    return {"table2": rows, "confusion": confusion, "class_average_correlation": avg_corr,
            "realistic": clustering_realistic(cx, list(tests), device),
            "snr_sweep": clustering_snr_sweep(cx, pre["cdae"][0], device=device)}


# ----------------------------------------------------------------------- the shipped general model
@dataclass(frozen=True)
class GeneralModelConfig:
    """The general-purpose CDAE shipped in ``data/weights`` (beyond the paper).

    The paper's pre-training sees four views of one protein, so its networks learn those views. A
    model meant for anyone's particles must see many shapes, orientations, SNRs and CTFs. Here: the
    training protein (RuBisCO) and ``n_phantoms`` random pseudo-proteins (:func:`maps.phantom`), each
    from ``n_views`` random directions with random in-plane rotation and shifts, half of them with a
    CTF; each structure at one input SNR of ``base_snrs`` (in turn) with the paper's ladder of
    targets at 4x and 6x that SNR, then clean. The three test proteins are never seen.
    """

    size: int = 64
    n_phantoms: int = 15
    n_views: int = 200
    images_per_view: int = 3
    base_snrs: tuple = (0.03, 0.05, 0.1, 0.15, 0.25)
    ladder: tuple = (4.0, 6.0)
    ae: AEConfig = AEConfig()
    train: TrainConfig = TrainConfig(epochs=10)
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def general_training_pairs(cfg: GeneralModelConfig, device=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The three blocks' pre-training pairs of :class:`GeneralModelConfig`."""
    from . import maps
    from .rotations import fibonacci_directions
    from .simulate import simulate

    prot = datasets.training_protein()
    vol, px = prot.volume(cfg.size)
    structures = [("rubisco", vol, px)] + [(f"phantom{i}", maps.phantom(cfg.size, cfg.seed + 100 + i), 2.0)
                                           for i in range(cfg.n_phantoms)]
    steps = [[] for _ in range(len(cfg.ladder) + 2)]
    rng = np.random.default_rng(cfg.seed)
    for i, (name, v, p) in enumerate(structures):
        dirs = fibonacci_directions(cfg.n_views)
        dirs[:, 0] += rng.uniform(0, 360)  # a different set of directions for every structure
        views = np.c_[dirs, np.zeros(len(dirs))]
        sim_cfg = SimulationConfig(image_size=cfg.size, n_views=cfg.n_views, images_per_view=cfg.images_per_view,
                                   seed=cfg.seed + i)
        sim_cfg = sim_cfg.realistic(jitter_deg=0.0) if i % 2 == 0 else replace(
            sim_cfg, inplane_rotation=True, max_shift_px=cfg.size / 32)
        s0 = cfg.base_snrs[i % len(cfg.base_snrs)]
        snrs = (s0,) + tuple(s0 * f for f in cfg.ladder)
        st = simulate(v, p, views, sim_cfg, snrs=snrs, name=name, device=device)
        for j, snr in enumerate(snrs):
            steps[j].append(st.noisy[float(snr)])
        steps[-1].append(st.clean)
    steps = [np.concatenate(s) for s in steps]
    return [(steps[i], steps[i + 1]) for i in range(len(steps) - 1)]


def train_general_model(cfg: GeneralModelConfig = GeneralModelConfig(), out: str | Path | None = None,
                        device=None) -> Path:
    """Pre-train the general CDAE and write it, with its record, to ``data/weights/cdae_general.pt``."""
    from .checkpoint import save_model

    t0 = time.perf_counter()
    pairs = general_training_pairs(cfg, device)
    model, hists = pretrain_cdae(pairs, cfg.ae, cfg.train, device)
    record_ = {"what": "general-purpose CDAE (beyond the paper): see GeneralModelConfig",
               "config": cfg.as_dict(), "n_pairs_per_block": int(len(pairs[0][0])),
               "histories": [h.as_dict() for h in hists], "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "device": device_name(device), "torch": torch.__version__, "commit": git_commit(),
               "command": _command(), "seconds": time.perf_counter() - t0}
    path = Path(out) if out else datasets.data_dir() / "weights" / "cdae_general.pt"
    return save_model(path, model, "cdae", asdict(cfg.ae), record_)


# ---------------------------------------------------------------------------- recorded results
def git_commit() -> str:
    """The git commit of this checkout (with "-dirty" when tracked files differ), or "unknown"."""
    root = Path(__file__).resolve().parents[1]
    try:
        c = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        d = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                           capture_output=True, text=True, timeout=10)
        return c.stdout.strip() + ("-dirty" if d.stdout.strip() else "") if c.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_name(device=None) -> str:
    dev = get_device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"


def _command() -> str:
    """The command line that is running, as a user would type it."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(("experiments.py", "-m")):
        argv = ["python", "-m", "cdae_lite.experiments"] + argv[1:]
    elif argv and argv[0].endswith("cdae-lite"):
        argv = ["cdae-lite"] + argv[1:]
    else:
        argv = ["python"] + argv
    return " ".join(argv)


def record(experiment: str, profile: str, config: dict, metrics_: dict, seeds, device=None,
           out: str | Path | None = None, notes: str = "") -> Path:
    """Write ``results/<profile>/<experiment>.json`` with provenance; returns its path."""
    payload = {"experiment": experiment, "profile": profile,
               "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "device": device_name(device), "torch": torch.__version__, "cdae_lite": __version__,
               "commit": git_commit(), "seeds": list(seeds), "command": _command(),
               "notes": notes, "config": config, "metrics": metrics_}
    path = Path(out) if out else datasets.results_dir() / profile / f"{experiment}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=json_default) + "\n")
    return path


def load_result(experiment: str, profile: str = "full") -> dict | None:
    """A recorded result, or None when it was never recorded."""
    path = datasets.results_dir() / profile / f"{experiment}.json"
    return json.loads(path.read_text()) if path.exists() else None


def largest_recorded(experiment: str) -> dict | None:
    """The recorded result at the largest scale there is: the full profile (paper scale, run on a
    GPU), else the ``cpu`` profile (the full protocol with fewer images, see :data:`CPU_PROFILE_NOTE`),
    else None. Its ``profile`` key says which."""
    for profile in ("full", "cpu"):
        result = load_result(experiment, profile)
        if result is not None:
            return result
    return None


def recorded_table(result: dict, key: str = "psnr", methods: list[str] | None = None,
                   value: str = "psnr_mean", decimals: int = 2) -> pd.DataFrame:
    """A recorded result's proteins x methods table: ``mean ± std (n seeds)`` per cell.

    A method recorded for only some seeds (e.g. fine-tuning) is averaged over those; a single seed
    shows its value alone.
    """
    frames = [pivot(run[key], value=value) for run in result["metrics"]["per_seed"] if run[key]]
    methods = methods or list(dict.fromkeys(m for f in frames for m in f.columns))
    proteins = list(dict.fromkeys(p for f in frames for p in f.index))
    out = pd.DataFrame(index=proteins, columns=methods, dtype=object)
    for p in proteins:
        for m in methods:
            v = np.array([f.loc[p, m] for f in frames if m in f.columns and p in f.index])
            out.loc[p, m] = ("-" if v.size == 0 else f"{v[0]:.{decimals}f}" if v.size == 1
                             else f"{v.mean():.{decimals}f} ± {v.std():.{decimals}f} (n={v.size})")
    out.index.name = "protein"
    return out


def recorded_blocks(result: dict, key: str = "blocks_ft", decimals: int = 2) -> pd.DataFrame:
    """PSNR (dB) after each CDAE block, proteins x blocks, averaged over the seeds that recorded it.

    ``key``: ``"blocks"`` (pre-trained cascade) or ``"blocks_ft"`` (after fine-tuning).
    """
    frames = [pd.DataFrame(run[key]).pivot_table(index="protein", columns="block", values="psnr_mean", sort=False)
              for run in result["metrics"]["per_seed"] if run.get(key)]
    if not frames:
        return pd.DataFrame()
    out = (sum(frames) / len(frames)).round(decimals)
    out.columns = [f"after block {b}" for b in out.columns]
    out.columns.name = f"mean of {len(frames)} seed(s)"
    return out


def provenance(result: dict) -> str:
    """One paragraph saying where a recorded result came from (for the book)."""
    return (f"Recorded result `{result['experiment']}` ({result['profile']} profile): created "
            f"{result['created']} on {result['device']}, torch {result['torch']}, commit "
            f"`{result['commit'][:12]}{'-dirty' if result['commit'].endswith('-dirty') else ''}`, seeds "
            f"{result['seeds']}. Command: `{result['command']}`."
            + (f" {result['notes']}" if result.get("notes") else ""))


# ------------------------------------------------------------------------------ the full run
def run_cdae(exp: CDAEExperiment, seeds=(0,), device=None, bm3d_images: int = 64,
             finetune_seeds=None, control_seeds=None, on_seed=None) -> dict:
    """Chapters 2 and 3 for several seeds: every PSNR, purity, loss curve and timing.

    For each seed: simulate, pre-train the single DAE and CDAE (and the end-to-end control for
    ``control_seeds``), score them on the three test proteins (per CDAE block too). For
    ``finetune_seeds``: fine-tune CDAE and the single DAE on each test protein, score them with and
    without histogram equalisation and per block, and run BM3D (known noise sigma) on ``bm3d_images``
    images per protein as the reference of the paper's quality claim. ``on_seed(result_so_far)`` is
    called after each seed (to save partial results). Default: everything for every seed.
    """
    from .baselines import BM3D

    finetune_seeds = tuple(seeds) if finetune_seeds is None else tuple(finetune_seeds)
    control_seeds = tuple(seeds) if control_seeds is None else tuple(control_seeds)
    per_seed = []
    for seed in seeds:
        e = exp.with_seed(seed)
        t0 = time.perf_counter()
        train, tests = paper_data(e, device)
        which = ("single", "cdae") + (("control",) if seed in control_seeds else ())
        models = pretrained_models(e, train, device, which)
        t_pre = time.perf_counter() - t0
        rows, rows_he, blocks, blocks_ft, purity, ft_hist = [], [], [], [], {}, {}
        for name, stack in tests.items():
            x = stack.noisy[min(stack.noisy)]
            est = {"raw": x}
            for m in which:
                est[m] = predict(models[m][0], x, device=device)
            cur = x
            for i, b in enumerate(models["cdae"][0].blocks):
                cur = predict(b, cur, device=device)
                blocks.append({"protein": name, "block": i + 1,
                               "psnr_mean": float(metrics.psnr(cur, stack.clean).mean())})
            if seed in finetune_seeds:
                for base in ("single", "cdae"):
                    ft, rec = finetuned_model(e, base, models[base][0], stack, device)
                    est[f"{base}_ft"] = predict(ft, x, device=device)
                    purity[name] = rec["purity"][0]
                    ft_hist[f"{base}/{name}"] = rec["histories"]
                    if base == "cdae":
                        cur = x
                        for i, b in enumerate(ft.blocks):
                            cur = predict(b, cur, device=device)
                            blocks_ft.append({"protein": name, "block": i + 1,
                                              "psnr_mean": float(metrics.psnr(cur, stack.clean).mean())})
            rows += psnr_rows(est, stack.clean, name)
            if seed in finetune_seeds:
                sub = eval_subset(len(x), bm3d_images)
                sigma = stack.meta[f"cdaeNoiseSigma_{min(stack.noisy):g}"].to_numpy()
                bm = BM3D().denoise(x[sub], sigma=sigma[sub])
                rows += psnr_rows({"bm3d_known_sigma": bm, "cdae_ft_same_images": est["cdae_ft"][sub],
                                   "single_ft_same_images": est["single_ft"][sub]}, stack.clean[sub], name)
                rows_he += psnr_rows({k: v for k, v in est.items() if k.endswith("_ft")}, stack.clean, name, he=True)
        per_seed.append({"seed": seed, "psnr": rows, "psnr_he": rows_he, "blocks": blocks, "blocks_ft": blocks_ft,
                         "purity": purity, "pretrain_histories": {k: v[1]["histories"] for k, v in models.items()},
                         "finetune_histories": ft_hist, "seconds": time.perf_counter() - t0,
                         "pretrain_seconds": t_pre, "finetuned": seed in finetune_seeds,
                         "control": seed in control_seeds})
        if on_seed is not None:
            on_seed({"per_seed": per_seed})
    return {"per_seed": per_seed}


#: Reductions applied by ``--cpu-budget`` so that the full profile runs on a 2-core CPU in hours, not
#: days. The data, the CDAE protocol and all sample sizes stay at the paper's scale.
CPU_BUDGET_NOTE = ("CPU budget: DnCNN with 10 layers of 48 channels (the paper's: 17 of 64) for 10 epochs; Noise2Void "
                   "10 epochs; CAE and DAE feature networks 10 epochs (paper: 20).")


#: The ``cpu`` profile: what the full profile becomes when no GPU is lent (recorded in results/cpu/).
CPU_IMAGES_PER_VIEW = 250
CPU_PROFILE_NOTE = (f"cpu profile: the full profile (64 px, the paper's four views, SNRs, networks, epochs and k) "
                    f"with {CPU_IMAGES_PER_VIEW} images per view instead of 1000 (training protein: "
                    f"{4 * CPU_IMAGES_PER_VIEW} pairs per block; test proteins: 3 x {4 * CPU_IMAGES_PER_VIEW} "
                    "images), run on a 2-core CPU because no GPU was available.")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cdae_lite.experiments",
                                 description="Run an experiment and record it under results/<profile>/.")
    ap.add_argument("experiment", choices=["cdae", "baselines", "clustering", "general", "all"],
                    help="'all' runs cdae (first seed), baselines, clustering, then cdae for every seed")
    ap.add_argument("--profile", choices=["quick", "full", "cpu"],
                    help="quick, full (the paper's scale), or cpu: " + CPU_PROFILE_NOTE + " Implies --cpu-budget.")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--device")
    ap.add_argument("--finetune-seeds", type=int, nargs="*", help="seeds to fine-tune (default: all)")
    ap.add_argument("--control-seeds", type=int, nargs="*", help="seeds to train the control for (default: all)")
    ap.add_argument("--cpu-budget", action="store_true", help=CPU_BUDGET_NOTE)
    ap.add_argument("--out", help="output JSON (default results/<profile>/<experiment>.json)")
    ap.add_argument("--notes", default="")
    args = ap.parse_args(argv)
    if args.experiment == "general":
        path = train_general_model(GeneralModelConfig(), args.out, args.device)
        print(f"wrote {path}")
        return 0
    notes = args.notes
    if args.profile == "cpu":
        profile = "cpu"
        exp = CDAEExperiment.full(sim=replace(SimulationConfig(), images_per_view=CPU_IMAGES_PER_VIEW))
        bx = BaselineExperiment.for_profile("full", cdae=exp)
        cx = ClusteringExperiment.for_profile("full", cdae=exp)
        args.cpu_budget = True
        notes = (notes + " " + CPU_PROFILE_NOTE).strip()
    else:
        profile = get_profile(args.profile)
        exp = CDAEExperiment.for_profile(profile)
        bx = BaselineExperiment.for_profile(profile, cdae=exp)
        cx = ClusteringExperiment.for_profile(profile, cdae=exp)
    if args.cpu_budget:
        bx = replace(bx, dncnn=DnCNNConfig(depth=10, channels=48), dncnn_train=replace(bx.dncnn_train, epochs=10),
                     n2v_train=replace(bx.n2v_train, epochs=10))
        cx = replace(cx, feature_train=replace(cx.feature_train, epochs=10))
        notes = (notes + " " + CPU_BUDGET_NOTE).strip()
    fts = args.seeds if args.finetune_seeds is None else args.finetune_seeds
    ctl = args.seeds if args.control_seeds is None else args.control_seeds
    first = args.seeds[0]

    def run_cdae_seeds(seeds):
        def save(partial):
            done = [r["seed"] for r in partial["per_seed"]]  # a partial save names only the seeds it holds
            pending = [s for s in seeds if s not in done]
            return record("cdae", profile, exp.as_dict(), partial, done, args.device, args.out,
                          (notes + f" Fine-tuned seeds: {[s for s in fts if s in done]}; end-to-end control seeds: "
                           f"{[s for s in ctl if s in done]}." + (f" Seeds {pending} were planned but had not "
                                                                    "finished when this file was written." if pending else "")
                           ).strip())

        res = run_cdae(exp, seeds, args.device, finetune_seeds=fts, control_seeds=ctl, on_seed=save)
        print(f"wrote {save(res)}")

    def run_tables():
        e = exp.with_seed(first)
        res = run_baselines(replace(bx, cdae=e), args.device)
        print("wrote", record("baselines", profile, replace(bx, cdae=e).as_dict(), res, [first], args.device, None, notes))
        res = run_clustering(replace(cx, cdae=e), args.device)
        print("wrote", record("clustering", profile, replace(cx, cdae=e).as_dict(), res, [first], args.device, None, notes))

    if args.experiment == "cdae":
        run_cdae_seeds(args.seeds)
    elif args.experiment == "baselines":
        e = exp.with_seed(first)
        print("wrote", record("baselines", profile, replace(bx, cdae=e).as_dict(), run_baselines(replace(bx, cdae=e), args.device),
                              [first], args.device, args.out, notes))
    elif args.experiment == "clustering":
        e = exp.with_seed(first)
        print("wrote", record("clustering", profile, replace(cx, cdae=e).as_dict(),
                              run_clustering(replace(cx, cdae=e), args.device), [first], args.device, args.out, notes))
    else:  # all: the most important single-seed results first, the extra seeds last
        run_cdae_seeds([first])
        run_tables()
        if len(args.seeds) > 1:
            run_cdae_seeds(args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
