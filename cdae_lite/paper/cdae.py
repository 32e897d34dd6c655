"""Chapters 2 and 3 as one function: pre-training, fine-tuning and their scores over seeds; and the
sentences those chapters print from their numbers (which outputs collapsed, whether a measured
comparison confirms chapter 2.3's contrast hypothesis)."""

from __future__ import annotations

import time

from cdae_lite import metrics
from cdae_lite.denoise.inference import predict
from cdae_lite.images import evenly_spaced
from cdae_lite.paper.configs import CDAEExperiment
from cdae_lite.paper.models import finetuned_model, paper_data, pretrained_models
from cdae_lite.paper.tables import block_psnr_rows, class_average_ceiling, psnr_rows, rounding_tie, tie_sign


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
    from cdae_lite.denoise.baselines import BM3D
    from cdae_lite.denoise.tuning import tune
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


def fidelity_rows(estimates: dict, clean, labels, protein: str) -> list[dict]:
    """One row per method with its view fidelity (:func:`cdae_lite.metrics.view_fidelity`).

    Parameters
    ----------
    estimates : dict -- method name -> outputs (n, size, size).
    clean : array (n, size, size) -- the clean images. labels : array (n,) -- their true views.
    protein : str -- written in every row.

    Returns
    -------
    list of dict -- ``protein``, ``method``, ``view_accuracy``, ``chance``, ``view_margin``,
    ``separation`` (the highest correlation between two views' mean outputs), ``clean_separation``
    (the same pair's clean means) and ``collapsed``: the rows :func:`collapse_sentence` reads.
    """
    rows = []
    for method, est in estimates.items():
        v = metrics.view_fidelity(est, clean, labels)
        rows.append({"protein": protein, "method": method, "view_accuracy": v["accuracy"], "chance": v["chance"],
                     "view_margin": v["mean_margin"], "separation": v["separation"],
                     "clean_separation": v["clean_separation"], "collapsed": v["collapsed"]})
    return rows


def _span(values, fmt: str) -> str:
    """``a`` or ``a to b`` (min to max) of some values, formatted."""
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo} to {hi}"


def collapse_sentence(rows: list[dict], names: dict | None = None) -> str:
    """Which outputs collapsed (their views cannot be told apart), computed from :func:`fidelity_rows`.

    ``names`` maps a method to the words printed for it. Each collapsed method is named with the
    proteins where it collapsed, its view accuracy there, chance, and how alike the mean outputs of
    its two most alike views are (beside their clean images); the sentence says that no verdict is
    drawn from it.

    >>> rows = [{"protein": "adk", "method": "cdae_ft", "view_accuracy": 0.26, "chance": 0.25,
    ...          "separation": 1.0, "clean_separation": 0.71, "collapsed": True},
    ...         {"protein": "adk", "method": "single_ft", "view_accuracy": 0.9, "chance": 0.25,
    ...          "separation": 0.93, "clean_separation": 0.71, "collapsed": False}]
    >>> collapse_sentence(rows, {"cdae_ft": "fine-tuned CDAE"})
    'Collapsed, so no verdict is drawn from it: fine-tuned CDAE on adk (view accuracy 0.26, chance 0.25; the mean outputs of two views correlate 1.000, their clean images 0.710). The others keep their views (single_ft): view accuracy 0.90.'
    >>> collapse_sentence(rows[1:])
    'No output collapsed: view accuracy 0.90 (chance 0.25); the mean outputs of two views correlate at most 0.930 (their clean images 0.710).'
    """
    names = names or {}
    gone = [r for r in rows if r["collapsed"]]
    kept = [r for r in rows if not r["collapsed"]]
    acc = f"view accuracy {_span([r['view_accuracy'] for r in kept], '.2f')}" if kept else ""
    if not gone:
        top = max(kept, key=lambda r: r["separation"])
        return (f"No output collapsed: {acc} (chance {top['chance']:.2f}); the mean outputs of two views "
                f"correlate at most {top['separation']:.3f} (their clean images {top['clean_separation']:.3f}).")
    each = []
    for method in dict.fromkeys(r["method"] for r in gone):
        rs = [r for r in gone if r["method"] == method]
        seps = [r for r in rs if r["separation"] == r["separation"]]  # not nan (one view)
        alike = (f"; the mean outputs of two views correlate {_span([r['separation'] for r in seps], '.3f')}, "
                 f"their clean images {_span([r['clean_separation'] for r in seps], '.3f')}" if seps else "")
        each.append(f"{names.get(method, method)} on {', '.join(r['protein'] for r in rs)} (view accuracy "
                    f"{_span([r['view_accuracy'] for r in rs], '.2f')}, "
                    f"chance {_span([r['chance'] for r in rs], '.2f')}{alike})")
    others = ", ".join(names.get(m, m) for m in dict.fromkeys(r["method"] for r in kept))
    rest = f" The others keep their views ({others}): {acc}." if kept else " No output kept its views."
    return f"Collapsed, so no verdict is drawn from {'it' if len(gone) == 1 else 'them'}: {'; '.join(each)}.{rest}"


def contrast_hypothesis(gain_change: dict, psnr_change: dict, who: str, collapsed=(), decimals: int = 2) -> str:
    """Does one comparison confirm chapter 2.3's hypothesis that the dropout before each block's output
    shrinks contrast? If it does, removing that dropout raises the gain and the plain PSNR on every protein.

    Parameters
    ----------
    gain_change, psnr_change : dict -- per protein, the variant without that dropout minus the paper's
        version (gain; PSNR in dB). A change that rounds to zero at ``decimals`` is no change.
    who : str -- which comparison (e.g. "Recorded, pre-trained"). collapsed : proteins left out; with one
        left out the comparison neither confirms nor contradicts (the scorecard's rule).

    >>> contrast_hypothesis({"adk": -0.07, "cxcr4": -0.03}, {"adk": -0.8, "cxcr4": -0.3}, "Recorded")
    'Recorded: without that dropout the gain rises on 0 of 2 proteins (mean change -0.05) and the plain PSNR on 0 of 2 (mean -0.55 dB): this contradicts the hypothesis.'
    >>> contrast_hypothesis({"adk": 0.06}, {"adk": 1.0}, "This run")
    'This run: without that dropout the gain rises on 1 of 1 proteins (mean change +0.06) and the plain PSNR on 1 of 1 (mean +1.00 dB): this confirms the hypothesis.'
    >>> contrast_hypothesis({"adk": 0.06, "apo": 0.1}, {"adk": 1.0, "apo": 1.0}, "This run", collapsed=["apo"]).split(": ")[-1]
    'this neither confirms nor contradicts the hypothesis, which cannot be settled while an output collapsed.'
    """
    keep = [p for p in gain_change if p not in set(collapsed)]
    if not keep:
        return f"{who}: no verdict on the hypothesis (an output collapsed on every protein)."
    tie = rounding_tie(decimals)
    g_up = sum(tie_sign(gain_change[p], tie) > 0 for p in keep)
    g_down = sum(tie_sign(gain_change[p], tie) < 0 for p in keep)
    p_up = sum(tie_sign(psnr_change[p], tie) > 0 for p in keep)
    g_mean = sum(gain_change[p] for p in keep) / len(keep)
    p_mean = sum(psnr_change[p] for p in keep) / len(keep)
    n = len(keep)
    whole = n == len(gain_change)  # as the scorecard rules: no confirmation or contradiction while one collapsed
    result = ("this confirms the hypothesis" if g_up == n and p_up == n and whole else
              "this contradicts the hypothesis" if g_down == n and whole else
              "this neither confirms nor contradicts the hypothesis"
              + ("" if whole else ", which cannot be settled while an output collapsed"))
    left = f" ({', '.join(p for p in gain_change if p in set(collapsed))} left out: a collapsed output)" \
        if len(keep) < len(gain_change) else ""
    return (f"{who}: without that dropout the gain rises on {g_up} of {n} proteins "
            f"(mean change {g_mean:+.{decimals}f}) and the plain PSNR on {p_up} of {n} "
            f"(mean {p_mean:+.{decimals}f} dB){left}: {result}.")


def collapse_reasons(rows: list[dict], methods=None) -> dict:
    """Per protein, the measured words for its collapsed outputs among ``methods`` (all when ``None``):
    what :func:`cdae_lite.paper.results.quick_vs_recorded` gives as the reason a comparison flipped.

    >>> collapse_reasons([{"protein": "adk", "method": "cdae_ft", "view_accuracy": 0.26, "chance": 0.25,
    ...                    "separation": 1.0, "collapsed": True}])
    {'adk': 'cdae_ft: view accuracy 0.26, chance 0.25, two views correlate 1.000'}
    """
    out = {}
    for r in rows:
        if r["collapsed"] and (methods is None or r["method"] in methods):
            words = (f"{r['method']}: view accuracy {r['view_accuracy']:.2f}, chance {r['chance']:.2f}, "
                     f"two views correlate {r['separation']:.3f}")
            out[r["protein"]] = f"{out[r['protein']]}; {words}" if r["protein"] in out else words
    return out
