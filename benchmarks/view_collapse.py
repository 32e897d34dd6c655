"""What makes the paper's fine-tuned CDAE collapse the views in the quick profile? (issue 33)

Usage: ``python benchmarks/view_collapse.py [--variants 32:150 64:40 32:150:36 32:150:12:nodrop] [--json out]``

In the quick build the fine-tuned CDAE turns the four views of a test protein into nearly the same image
(:func:`cdae_lite.metrics.view_fidelity` marks it collapsed). For each variant ``SIZE:IMAGES_PER_VIEW[:PRETRAIN_EPOCHS[:nodrop]]``
(the quick profile's epochs, k and seed otherwise; ``nodrop``: no dropout before each block's output) this script pre-trains the CDAE on the training
protein and, per test protein, measures the view fidelity (accuracy, mean margin, separation, collapsed)
of:

- ``raw``: the noisy input (SNR 0.1);
- ``pre-trained``: the pre-trained cascade, before any fine-tuning;
- ``fine-tuned``: the paper's fine-tuning (targets: means of each image's 30 nearest neighbours);
- ``fine-tuned, true-view targets``: the same fine-tuning with every target the mean of the noisy images
  of the image's *true* view (an oracle: pure neighbours), which separates the targets' impurity from
  everything else.

with the neighbours' purity. Nothing here is read by the book: the table answers what causes the collapse.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from dataclasses import replace

from _common import print_table


def true_view_finetune(base, x, labels, cfg):
    """The paper's block-by-block fine-tuning with every target the mean of its true view's noisy images."""
    import numpy as np

    from cdae_lite.denoise.inference import predict
    from cdae_lite.denoise.models import Cascade
    from cdae_lite.denoise.train import fit

    model = copy.deepcopy(base if isinstance(base, Cascade) else Cascade([base]))
    targets = np.empty_like(x)
    for v in np.unique(labels):
        targets[labels == v] = x[labels == v].mean(0)
    cur = x
    for i, block in enumerate(model.blocks):
        fit(block, cur, targets, replace(cfg.train, seed=cfg.train.seed + i))
        cur = predict(block, cur)
    return model


def run_variant(spec: str) -> list[dict]:
    from cdae_lite import metrics, predict
    from cdae_lite.denoise.finetune import finetune
    from cdae_lite.paper import CDAEExperiment
    from cdae_lite.paper.models import paper_data, pretrained_models

    parts = spec.split(":")
    size, per_view = int(parts[0]), int(parts[1])
    exp = CDAEExperiment.quick()
    exp = replace(exp, sim=replace(exp.sim, image_size=size, images_per_view=per_view))
    if len(parts) > 2:
        exp = replace(exp, pretrain=replace(exp.pretrain, epochs=int(parts[2])))
    if "nodrop" in parts:
        exp = replace(exp, ae=replace(exp.ae, output_dropout=False))
    label = f"{size} px, {per_view}/view, {exp.pretrain.epochs} epochs" + (", no output dropout" if "nodrop" in parts else "")
    t0 = time.perf_counter()
    train, tests = paper_data(exp)
    pre = pretrained_models(exp, train, which=("cdae",))["cdae"][0]
    rows = []
    for name, s in tests.items():
        x = s.noisy[min(s.noisy)]
        ft, rep = finetune(pre, x, exp.finetune, labels=s.labels)
        outs = {"raw": x, "pre-trained": predict(pre, x), "fine-tuned": predict(ft, x),
                "fine-tuned, true-view targets": predict(true_view_finetune(pre, x, s.labels, exp.finetune), x)}
        for m, out in outs.items():
            v = metrics.view_fidelity(out, s.clean, s.labels)
            rows.append({"variant": label, "protein": name, "output": m,
                         "view accuracy": round(v["accuracy"], 3), "margin": round(v["mean_margin"], 3),
                         "separation": round(v["separation"], 3), "collapsed": v["collapsed"],
                         "PSNR": round(float(metrics.psnr(out, s.clean).mean()), 2),
                         "purity": round(rep.purity[0], 3)})
        print(f"{size}:{per_view} {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        print_table("so far", rows[-len(outs):])
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="+", default=["32:150", "64:40"], help="SIZE:IMAGES_PER_VIEW")
    ap.add_argument("--json")
    a = ap.parse_args()
    os.environ.setdefault("CDAE_CACHE", tempfile.mkdtemp(prefix="cdae-cache-"))
    os.environ.setdefault("CDAE_PROGRESS", "0")
    rows = []
    for v in a.variants:
        rows += run_variant(v)
        print_table("View fidelity of the paper's CDAE at each stage (seed 0)", rows, a.json)


if __name__ == "__main__":
    main()
