"""Rows and tables of scores: the shapes every chapter and recorded result shares."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdae_lite import metrics
from cdae_lite.denoise.inference import block_outputs


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


def score(estimate: np.ndarray, clean: np.ndarray) -> dict:
    """PSNR (without and with HE) and SSIM of a stack of estimates: means, stds, n."""
    p, ph, ss = metrics.psnr(estimate, clean), metrics.psnr(estimate, clean, he=True), metrics.ssim(estimate, clean)
    return {"psnr_mean": float(p.mean()), "psnr_std": float(p.std()), "psnr_he_mean": float(ph.mean()),
            "psnr_he_std": float(ph.std()), "ssim_mean": float(ss.mean()), "n": int(len(p))}


def clustering_rows(labels: dict[str, np.ndarray], truth: np.ndarray, protein: str) -> list[dict]:
    """One row per method with :func:`~cdae_lite.metrics.clustering_scores` (largest cluster's share too)."""
    rows = []
    for m, lab in labels.items():
        sc = metrics.clustering_scores(truth, lab)
        sc.pop("mapping", None)
        rows.append({"protein": protein, "method": m, **sc,
                     "largest_cluster": float(np.bincount(lab).max() / len(lab))})
    return rows


def block_psnr_rows(cascade, images: np.ndarray, clean: np.ndarray, protein: str, device=None) -> list[dict]:
    """One row per cascade block: protein, block (1-based) and mean PSNR (dB) of its output."""
    return [{"protein": protein, "block": i, "psnr_mean": float(metrics.psnr(out, clean).mean())}
            for i, out in enumerate(block_outputs(cascade, images, device=device), 1)]
