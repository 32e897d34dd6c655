"""What the book adds beyond the paper, scored from the recorded files: the scorecard's last table.

One row per recorded addition (the cascade variants of chapter 2.6, the general denoisers of chapter 7
against a tuned BM3D, ``cdae-lite cluster``'s loop of chapter 5.7, and 2D classification of realistic
stacks of chapter 5.8), with the measured differences and a verdict worded as the claims' are
(:func:`~cdae_lite.paper.scorecard.word`).
"""

from __future__ import annotations

import pandas as pd

from cdae_lite.paper.results import load_result
from cdae_lite.paper.scorecard import recorded_flags, seed_mean, word
from cdae_lite.paper.tables import F1_TIE, collapsed_proteins, pivot, tie_sign


def _variant_rows(profile: str) -> list[dict]:
    """The recorded cascade variants (chapter 2.6) against BM3D with its factor tuned, on the same images."""
    rows = []
    variant_label = "fine-tuned cascade without dropout before the output"
    for name, label in (("cdae_no_output_dropout", variant_label),
                        ("cdae_no_output_dropout_better_targets", f"{variant_label}, on chapter 3.4's better targets")):
        variant = load_result(name, profile)
        ft = [r for r in variant["metrics"]["per_seed"] if r.get("finetuned")] if variant is not None else []
        p = seed_mean([pivot(r["psnr"]) for r in ft]) if ft else None
        if p is not None and {"cdae_ft_same_images", "bm3d_tuned"} <= set(p.columns):
            flags = recorded_flags([r["psnr"] for r in ft])
            gone = None if flags is None else collapsed_proteins(flags, "cdae_ft_same_images", "bm3d_tuned")
            measured, verdict = word((p["cdae_ft_same_images"] - p["bm3d_tuned"]).to_dict(), "dB over tuned BM3D", gone)
            rows.append({"what": f"{label} beats a tuned BM3D", "measured": measured, "verdict": verdict})
    return rows


def _general_rows(general: dict) -> list[dict]:
    """``general.json``'s margins over tuned BM3D, one row per method and preset; proteins where the
    method's or BM3D's output collapsed get no verdict (rows without view fidelity: noted)."""
    scored = general["metrics"].get("rows", [])
    flags = {(r["method"], r["protein"], r["preset"]): bool(r["collapsed"]) for r in scored if "collapsed" in r}
    fidelity = bool(scored) and len(flags) == len(scored)
    psnr = {(r["method"], r["protein"], r["preset"]): round(r["psnr"], 2) for r in scored if "psnr" in r}
    by: dict[tuple, dict] = {}
    for key, margin in general["metrics"]["margins_db"].items():
        method, protein, preset = (s.strip() for s in key.split("|"))
        a, b = psnr.get((method, protein, preset)), psnr.get(("BM3D (tuned)", protein, preset))
        # the difference of the PSNRs as chapter 7.4's table shows them, where both are there
        by.setdefault((method, preset), {})[protein] = margin if a is None or b is None else round(a - b, 2)
    rows = []
    for (method, preset), margins in by.items():
        gone = [p for p in margins if flags.get((method, p, preset)) or flags.get(("BM3D (tuned)", p, preset))]
        name = method.replace("general", "general denoiser", 1) if method.startswith("general") else \
            method.replace("cdae", "general CDAE", 1)
        measured, verdict = word(margins, "dB over tuned BM3D", gone if fidelity else None)
        rows.append({"what": f"{name} ({preset} preset) beats a tuned BM3D", "measured": measured, "verdict": verdict})
    return rows


def beyond_the_paper(profile: str = "cpu") -> pd.DataFrame:
    """What the book adds, from the recorded files of ``profile``: one row per method and preset.

    Rows: the recorded cascade variants (without output dropout; with better targets) and the general
    denoisers (``general.json``: test proteins and the held-out structure) against BM3D with its sigma
    factor tuned, and ``cdae-lite cluster``'s worst F1 over the test proteins per SNR, without and with
    denoising and refinement (``cluster_eval.json``), and what denoising first does to the F1 of 2D
    classification on realistic stacks (``ml2d_realistic.json``, chapter 5.8). Columns: what, measured,
    verdict (:func:`~cdae_lite.paper.scorecard.word`).
    """
    rows = _variant_rows(profile)
    general = load_result("general", profile)
    if general is not None:
        rows += _general_rows(general)
    loop = load_result("cluster_eval", profile)
    if loop is not None:
        from cdae_lite.paper.cluster_eval import worst_f1
        worst = worst_f1(loop["metrics"]["rows"])
        for snr in sorted({s for _, s in worst}, reverse=True):
            per = {setting: f1 for (setting, s), f1 in worst.items() if s == snr}
            top = [k for k, v in per.items() if tie_sign(max(per.values()) - v, F1_TIE) == 0]  # ties are named, not broken
            rows.append({"what": f"cdae-lite cluster, worst F1 over the test proteins at SNR {snr}",
                         "measured": ", ".join(f"{k} {v:.3f}" for k, v in per.items()),
                         "verdict": f"best: {top[0]}" if len(top) == 1 else
                         "tie: " + " and ".join(f"'{k}'" for k in top)})
    rows += _classification_rows(load_result("ml2d_realistic", profile))
    return pd.DataFrame(rows, columns=["what", "measured", "verdict"])


def _classification_rows(result: dict | None) -> list[dict]:
    """One row per denoising pair of the realistic 2D-classification benchmark (chapter 5.8): how often
    denoising first raised, lowered or kept the F1 over the (protein, SNR) cases."""
    if result is None:
        return []
    from cdae_lite.paper.classes_eval import denoising_counts, long_table

    rows = []
    for (a, b), c in denoising_counts(long_table(result)).items():
        up, down, d = c["up"], c["down"], c["diffs"]
        rows.append({"what": f"realistic stacks (12 views), F1 of {a} minus {b}",
                     "measured": f"higher in {up}, lower in {down}, within {F1_TIE} in {c['same']} "
                                 f"of {c['n']} (protein, SNR) cases; range {d.min():+.3f} to {d.max():+.3f}",
                     "verdict": "raises F1" if up and not down else "lowers F1" if down and not up else
                     "no change" if not up and not down else "mixed"})
    return rows
