"""Chapters 2 and 3 as one function: pre-training, fine-tuning and their scores over seeds."""

from __future__ import annotations

import time

from cdae_lite.denoise.inference import predict
from cdae_lite.images import evenly_spaced
from cdae_lite.paper.configs import CDAEExperiment
from cdae_lite.paper.models import finetuned_model, paper_data, pretrained_models
from cdae_lite.paper.tables import block_psnr_rows, class_average_ceiling, psnr_rows


def run_cdae(exp: CDAEExperiment, seeds=(0,), device=None, bm3d_images: int = 64,
             finetune_seeds=None, control_seeds=None, on_seed=None) -> dict:
    """Chapters 2 and 3 for several seeds: every PSNR, purity, loss curve and timing.

    For each seed: simulate, pre-train the single DAE and CDAE (and the end-to-end control for
    ``control_seeds``), score them on the three test proteins (per CDAE block too). For
    ``finetune_seeds``: fine-tune CDAE and the single DAE on each test protein, score them with and
    without histogram equalisation and per block, and run BM3D (known noise sigma, with the factor 1
    and with its factor tuned on the training protein) on ``bm3d_images`` images per protein as the
    reference of the paper's quality claim, and the fine-tuned CDAE after the label-free Stein
    calibration of its contrast (``cdae_ft_calibrated``, known noise sigma). Every PSNR row carries
    the gain, correlation and affine-fitted PSNR; ``ceiling`` holds the protocol's ceiling (true-class averages) per protein.
    ``on_seed(result_so_far)`` is called after each seed (to save partial results). Default:
    everything for every seed.
    """
    from cdae_lite.denoise.baselines import BM3D, tune
    from cdae_lite.denoise.calibrate import apply_scale, stein_scale

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
        rows, rows_he, blocks, blocks_ft, purity, ft_hist, ceiling = [], [], [], [], {}, {}, {}
        bm3d_tuned = None
        for name, stack in tests.items():
            x = stack.noisy[min(stack.noisy)]
            est = {"raw": x}
            for m in which:
                est[m] = predict(models[m][0], x, device=device)
            blocks += block_psnr_rows(models["cdae"][0], x, stack.clean, name, device, stack.labels)
            if seed in finetune_seeds:
                for base in ("single", "cdae"):
                    ft, rec = finetuned_model(e, base, models[base][0], stack, device)
                    est[f"{base}_ft"] = predict(ft, x, device=device)
                    purity[name] = rec["purity"][0]
                    ft_hist[f"{base}/{name}"] = rec["histories"]
                    if base == "cdae":
                        blocks_ft += block_psnr_rows(ft, x, stack.clean, name, device, stack.labels)
                        scale = stein_scale(lambda a, m=ft: predict(m, a, device=device), x,
                                            stack.noise_sigma())["scale"]
                        est["cdae_ft_calibrated"] = apply_scale(est["cdae_ft"], x, scale)
            rows += psnr_rows(est, stack.clean, name, labels=stack.labels)
            ceiling[name] = class_average_ceiling(x, stack.clean, stack.labels)
            if seed in finetune_seeds:
                if bm3d_tuned is None:
                    lo = min(train.noisy)
                    t = evenly_spaced(len(train), bm3d_images // 2)
                    bm3d_tuned, _ = tune("BM3D", train.noisy[lo][t], train.clean[t], train.noise_sigma(lo)[t])
                sub = evenly_spaced(len(x), bm3d_images)
                sigma = stack.noise_sigma()
                rows += psnr_rows({"bm3d_known_sigma": BM3D().denoise(x[sub], sigma=sigma[sub]),
                                   "bm3d_tuned": bm3d_tuned.denoise(x[sub], sigma=sigma[sub]),
                                   "cdae_ft_same_images": est["cdae_ft"][sub],
                                   "cdae_ft_calibrated_same_images": est["cdae_ft_calibrated"][sub],
                                   "single_ft_same_images": est["single_ft"][sub]}, stack.clean[sub], name,
                                  labels=stack.labels[sub])
                rows_he += psnr_rows({k: v for k, v in est.items() if k.endswith("_ft")}, stack.clean, name, he=True)
        per_seed.append({"seed": seed, "psnr": rows, "psnr_he": rows_he, "blocks": blocks, "blocks_ft": blocks_ft,
                         "purity": purity, "ceiling": ceiling,
                         "bm3d_sigma_factor": None if bm3d_tuned is None else bm3d_tuned.sigma_factor,
                         "pretrain_histories": {k: v[1]["histories"] for k, v in models.items()},
                         "finetune_histories": ft_hist, "seconds": time.perf_counter() - t0,
                         "pretrain_seconds": t_pre, "finetuned": seed in finetune_seeds,
                         "control": seed in control_seeds})
        if on_seed is not None:
            on_seed({"per_seed": per_seed})
    return {"per_seed": per_seed}
