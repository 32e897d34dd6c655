"""Chapter 5 (the paper's Table 2 and beyond): clustering the test proteins by view."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cdae_lite import metrics
from cdae_lite.denoise.inference import predict
from cdae_lite.paper.configs import ClusteringExperiment
from cdae_lite.paper.models import finetuned_model, paper_data, pretrained_models
from cdae_lite.paper.tables import clustering_rows, view_columns
from cdae_lite.simulation.stacks import SimulatedStack, simulate_protein


def cluster_methods(cx: ClusteringExperiment, stack: SimulatedStack, denoised: np.ndarray,
                    device=None, include=None) -> dict[str, np.ndarray]:
    """Labels from every clustering method of Table 2 for one stack; ``{method: labels}``.

    ``denoised`` is the stack denoised by fine-tuned CDAE. ``include`` restricts the methods.
    """
    from cdae_lite import cluster
    from cdae_lite.cluster.features import aae_features, cae_features, dae_features

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
        # beyond the paper: the denoised images in a low-dimensional space
        "CDAE + PCA + k-means": lambda: cluster.kmeans(cluster.pca(denoised, cx.n_pca, seed), k, seed),
        "CDAE + PCA + spectral": lambda: cluster.spectral(cluster.pca(denoised, cx.n_pca, seed), k, seed=seed),
        "2D classification (aligned)": lambda: cluster.align_classify(x, k, cx.align_iterations, seed=seed)[0],
    }
    return {m: f() for m, f in todo.items() if include is None or m in include}


def clustering_realistic(cx: ClusteringExperiment, names, device=None) -> list[dict]:
    """Clustering of the realistic preset (in-plane rotation, jitter, shifts, CTF) by pixel-wise,
    rotation-invariant and alignment-aware methods; one row per (protein, method)."""
    from cdae_lite import cluster

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
    from cdae_lite import cluster

    exp = cx.cdae
    if finetune_epochs is not None:
        exp = replace(exp, finetune=replace(exp.finetune, train=replace(exp.finetune.train, epochs=finetune_epochs)))
    rows = []
    for snr in cx.snr_sweep:
        s = simulate_protein(protein, exp.sim, snrs=(snr,), device=device)
        x = s.noisy[snr]
        ft, rec = finetuned_model(exp, "cdae", cdae_pretrained, s, device)
        k, den = s.config.n_views, predict(ft, x, device=device)
        for m, lab in {"k-means (raw)": cluster.kmeans(cluster.flatten(x), k),
                       "PCA + k-means": cluster.kmeans(cluster.pca(x, cx.n_pca), k),
                       "CDAE + k-means": cluster.kmeans(cluster.flatten(den), k)}.items():
            rows.append({"snr": snr, "method": m, "f1": metrics.clustering_scores(s.labels, lab)["f1"],
                         "purity": rec["purity"][0]})  # of the neighbours behind CDAE's fine-tuning targets
        rows[-1].update(view_columns(den, s.clean, s.labels))  # of the CDAE's denoised images
    return rows


def run_clustering(cx: ClusteringExperiment, device=None) -> dict:
    """Table 2, confusion matrices, class averages, the realistic preset and the F1-versus-SNR sweep.

    ``view_fidelity``: per test protein, the view fidelity of the fine-tuned CDAE's denoised images
    (``view_accuracy``, ``view_margin``, ``collapsed``); the sweep's CDAE rows carry the same keys.
    """
    from cdae_lite import cluster

    exp = cx.cdae
    train, tests = paper_data(exp, device)
    pre = pretrained_models(exp, train, device, which=("cdae",))
    rows, confusion, avg_corr, fidelity = [], {}, {}, {}
    for name, s in tests.items():
        x = s.noisy[min(s.noisy)]
        den = predict(finetuned_model(exp, "cdae", pre["cdae"][0], s, device)[0], x, device=device)
        fidelity[name] = view_columns(den, s.clean, s.labels)
        labels = cluster_methods(cx, s, den, device)
        rows += clustering_rows(labels, s.labels, name)
        confusion[name] = {m: metrics.confusion_matrix(s.labels, lab).tolist() for m, lab in labels.items()}
        lab = labels["CDAE + k-means"]
        mapping = metrics.matched_scores(s.labels, lab)["mapping"]
        avgs = cluster.class_averages(x, lab, s.config.n_views)
        avg_corr[name] = {int(v): float(metrics.correlation(avgs[c][None], s.clean[s.labels == v][:1])[0])
                          for c, v in mapping.items()}
    return {"table2": rows, "confusion": confusion, "class_average_correlation": avg_corr, "view_fidelity": fidelity,
            "realistic": clustering_realistic(cx, list(tests), device),
            "snr_sweep": clustering_snr_sweep(cx, pre["cdae"][0], finetune_epochs=cx.sweep_finetune_epochs,
                                                   device=device)}
