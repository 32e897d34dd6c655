"""``cdae-lite evaluate``: PSNR/SSIM of denoised images against clean ones, F1/ARI of labels against truth."""

from __future__ import annotations

import argparse

from cdae_lite.cli.common import add_command


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from cdae_lite import metrics
    from cdae_lite.io import read_stack, read_star

    if not (args.estimate or args.labels):
        raise ValueError("nothing to evaluate: give --estimate and --clean, or --labels and --truth")
    if args.estimate:
        if not args.clean:
            raise ValueError("--estimate needs --clean (the noise-free images to compare with)")
        est, _ = read_stack(args.estimate)
        clean, _ = read_stack(args.clean)
        if est.shape != clean.shape:
            raise ValueError(f"--estimate {est.shape} and --clean {clean.shape} differ in shape")
        flat = np.ptp(clean.reshape(len(clean), -1), axis=1) == 0  # PSNR needs a peak: undefined for these
        if flat.all():
            raise ValueError(f"every image of {args.clean} is constant: PSNR is undefined")
        est, clean = est[~flat], clean[~flat]
        p, s = metrics.summarize(metrics.psnr(est, clean)), metrics.ssim(est, clean)
        print(f"PSNR {p['mean']:.2f} +/- {p['std']:.2f} dB, SSIM {s.mean():.3f} +/- {s.std():.3f} over {p['n']} images"
              + (f" ({int(flat.sum())} constant clean images left out: PSNR undefined)" if flat.any() else ""))
    if args.labels:
        if not args.truth:
            raise ValueError("--labels needs --truth (a STAR file with the true classes)")
        pred, _ = read_star(args.labels)
        true, _ = read_star(args.truth)
        for name, df, col in (("--labels", pred, "rlnClassNumber"), ("--truth", true, args.truth_column)):
            if col not in df:
                raise ValueError(f"{name} has no {col} column")
        if "rlnImageName" in pred and "rlnImageName" in true:  # pair rows by image, not by position
            both = pred[["rlnImageName", "rlnClassNumber"]].merge(true[["rlnImageName", args.truth_column]],
                                                                 on="rlnImageName", how="left")
            if both[args.truth_column].isna().any() or len(both) != len(pred):
                raise ValueError("--labels names images that --truth does not (or names one twice)")
            pred, true = both, both
        elif len(pred) != len(true):
            raise ValueError(f"--labels has {len(pred)} rows, --truth {len(true)}")
        sc = metrics.clustering_scores(true[args.truth_column].to_numpy(), pred["rlnClassNumber"].to_numpy())
        print("clustering: " + ", ".join(f"{k} {v:.3f}" for k, v in sc.items() if isinstance(v, float)))
    return 0


def add_parser(sub) -> None:
    p = add_command(
        sub, "evaluate", "PSNR/SSIM against clean images, F1/ARI against labels",
        "Score denoised images against clean ones (PSNR per image with the clean image's range as peak, SSIM), "
        "and/or class labels against true labels (matched precision, recall, F1, pairwise F1, ARI, NMI).",
        ["cdae-lite evaluate --estimate denoised.mrcs --clean sim/adk_clean.mrcs",
         "cdae-lite evaluate --labels classes.star --truth sim/adk_snr0.1.star"])
    p.add_argument("--estimate", help="denoised stack")
    p.add_argument("--clean", help="clean stack")
    p.add_argument("--labels", help="STAR file with rlnClassNumber (from cdae-lite cluster)")
    p.add_argument("--truth", help="STAR file with the true classes")
    p.add_argument("--truth-column", default="cdaeView", help="column of --truth holding the true class")
    p.set_defaults(func=run)
