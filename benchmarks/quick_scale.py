"""What a 64-px quick profile would cost, and which of the recorded run's conclusions it would keep.

Usage: ``python benchmarks/quick_scale.py [--variants 32:100 64:40 64:75] [--json out]``

The quick profile runs the paper's protocol on 32-px images (150 per view when results/cpu/quick_scale.json
was recorded; 100 since 2026-12-06) so that the book builds on a 2-core CPU; the recorded ``cpu``
profile (``results/cpu/cdae.json``, ``clustering.json``) runs it at 64 px with 250 per view. Some of
the quick run's conclusions differ in sign from the recorded ones. For each variant
``SIZE:IMAGES_PER_VIEW`` (the quick profile's epochs, k and seeds otherwise),
this script runs chapters 2-3's experiment (``run_cdae``, seed 0, cold model cache) and chapter 5's
raw and CDAE k-means clustering, times it, and prints per test protein the sign of each
conclusion next to the recorded run's:

- ``pretrained``: pre-trained CDAE minus pre-trained single DAE, PSNR (chapter 2);
- ``ft_gain``: what fine-tuning adds to the cascade minus what it adds to the single DAE (chapter 3);
- ``ft``: fine-tuned CDAE minus fine-tuned single DAE (chapter 3);
- ``vs_bm3d``: fine-tuned CDAE minus BM3D with its factor tuned on the training protein (chapters 3-4);
- ``clustering``: F1 of k-means on CDAE's output minus k-means on the raw images (chapter 5).

Each row also names the test protein's outputs that collapsed (:func:`cdae_lite.metrics.view_fidelity`,
column ``collapsed``): chapter 3 (:func:`cdae_lite.paper.scale_conclusion`) counts no sign that rests on
a collapsed output. The table answers issue 15's question with measured times.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from _common import print_table

ROOT = Path(__file__).resolve().parents[1]
CONCLUSIONS = ("pretrained", "ft_gain", "ft", "vs_bm3d", "clustering")


def _psnr(rows: list[dict]) -> dict:
    """``{(protein, method): PSNR}`` of the rows without histogram equalisation."""
    return {(r["protein"], r["method"]): r["psnr_mean"] for r in rows if not r.get("he")}


def collapsed(rows: list[dict], protein: str) -> str:
    """The methods whose outputs of ``protein`` collapsed, comma-separated ("none" if none)."""
    names = sorted(r["method"] for r in rows if r["protein"] == protein and not r.get("he") and r.get("collapsed"))
    return ", ".join(names) or "none"


def differences(psnr: dict, f1: dict, protein: str) -> dict:
    """The five conclusions' differences (dB, or F1 for ``clustering``) for one protein."""
    p = {m: psnr[(protein, m)] for (q, m) in psnr if q == protein}
    return {"pretrained": p["cdae"] - p["single"],
            "ft_gain": (p["cdae_ft"] - p["cdae"]) - (p["single_ft"] - p["single"]),
            "ft": p["cdae_ft"] - p["single_ft"],
            "vs_bm3d": p["cdae_ft_same_images"] - p["bm3d_tuned"],
            "clustering": f1[(protein, "CDAE + k-means")] - f1[(protein, "k-means (raw)")]}


def recorded() -> dict:
    """The recorded ``cpu`` run's conclusions: ``{protein: {conclusion: difference}}`` (seed 0, the fine-tuned one)."""
    cdae = json.loads((ROOT / "results/cpu/cdae.json").read_text())["metrics"]["per_seed"]
    seed0 = next(r for r in cdae if r["finetuned"])
    table2 = json.loads((ROOT / "results/cpu/clustering.json").read_text())["metrics"]["table2"]
    f1 = {(r["protein"], r["method"]): r["f1"] for r in table2}
    psnr = _psnr(seed0["psnr"])
    return {q: differences(psnr, f1, q) for q in sorted({q for q, _ in psnr})}


def run_variant(size: int, per_view: int) -> tuple[dict, dict, float]:
    """Run the quick protocol at ``size`` px with ``per_view`` images per view; (conclusions, the collapsed
    outputs of each protein, seconds, the epochs of pre-training and of fine-tuning per block)."""
    from cdae_lite import cluster, metrics, predict
    from cdae_lite.paper import CDAEExperiment
    from cdae_lite.paper.cdae import run_cdae
    from cdae_lite.paper.models import finetuned_model, paper_data, pretrained_models

    exp = CDAEExperiment.quick()
    exp = replace(exp, sim=replace(exp.sim, image_size=size, images_per_view=per_view))
    start = time.perf_counter()
    res = run_cdae(exp, seeds=(0,), bm3d_images=64)
    seed0 = res["per_seed"][0]
    train, tests = paper_data(exp)
    pre = pretrained_models(exp, train, which=("cdae",))  # from the cache run_cdae filled
    f1 = {}
    for name, s in tests.items():
        x = s.noisy[min(s.noisy)]
        ft, _ = finetuned_model(exp, "cdae", pre["cdae"][0], s)
        k = s.config.n_views
        for m, feats in (("k-means (raw)", x), ("CDAE + k-means", predict(ft, x))):
            f1[(name, m)] = metrics.clustering_scores(s.labels, cluster.kmeans(cluster.flatten(feats), k, exp.seed))["f1"]
    seconds = time.perf_counter() - start
    psnr = _psnr(seed0["psnr"])
    return ({q: differences(psnr, f1, q) for q in tests}, {q: collapsed(seed0["psnr"], q) for q in tests},
            seconds, {"pretrain_epochs": exp.pretrain.epochs, "finetune_epochs": exp.finetune.train.epochs})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="+", default=["32:100", "64:40", "64:75"],
                    help="SIZE:IMAGES_PER_VIEW (default: the quick profile, then two 64-px variants)")
    ap.add_argument("--json")
    a = ap.parse_args()
    os.environ["CDAE_CACHE"] = tempfile.mkdtemp(prefix="cdae-cache-")  # cold: every variant trains
    os.environ.setdefault("CDAE_PROGRESS", "0")
    ref = recorded()
    rows = []
    for v in a.variants:
        size, per_view = (int(t) for t in v.split(":"))
        got, gone, seconds, epochs = run_variant(size, per_view)
        for q, d in got.items():
            agree = [c for c in CONCLUSIONS if (d[c] > 0) == (ref[q][c] > 0)]
            rows.append({"variant": f"{size} px, {per_view}/view", "seconds": round(seconds),
                         "protein": q, **{c: round(d[c], 2) for c in CONCLUSIONS},
                         "agrees with recorded": f"{len(agree)} of {len(CONCLUSIONS)}", "collapsed": gone[q], **epochs})
        print(f"{v}: {seconds:.0f} s", file=sys.stderr, flush=True)
    for q, d in ref.items():
        rows.append({"variant": "recorded cpu (64 px, 250/view)", "seconds": "", "protein": q,
                     **{c: round(d[c], 2) for c in CONCLUSIONS}, "agrees with recorded": "", "collapsed": ""})
    print_table("The quick protocol at other scales: each conclusion's difference (dB; F1 for clustering), "
                "seed 0, cold cache", rows, a.json)


if __name__ == "__main__":
    main()
