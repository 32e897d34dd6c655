"""Rows and tables of scores: the shapes every chapter and recorded result shares."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdae_lite import metrics
from cdae_lite.denoise.inference import block_outputs


def diagnostics(estimate: np.ndarray, clean: np.ndarray) -> dict:
    """Means of the gain, the correlation and the affine-fitted PSNR (an oracle) of a stack of estimates:
    the numbers that tell contrast loss from structural loss (:mod:`cdae_lite.metrics`)."""
    s = metrics.image_scores(estimate, clean)
    return {"gain_mean": s["gain"], "correlation_mean": s["correlation"], "affine_psnr_mean": s["affine_psnr"]}


def psnr_rows(estimates: dict[str, np.ndarray], clean: np.ndarray, protein: str, he: bool = False) -> list[dict]:
    """One row per method: protein, method, PSNR mean, std and n (optionally after HE), and without HE
    the :func:`diagnostics` (gain, correlation, affine-fitted PSNR)."""
    rows = []
    for name, est in estimates.items():
        s = metrics.summarize(metrics.psnr(est, clean, he=he))
        rows.append({"protein": protein, "method": name, "psnr_mean": s["mean"], "psnr_std": s["std"],
                     "n": s["n"], "he": he, **({} if he else diagnostics(est, clean))})
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
    """PSNR (without and with HE), SSIM and the :func:`diagnostics` of a stack of estimates: means, stds, n."""
    p, ph, ss = metrics.psnr(estimate, clean), metrics.psnr(estimate, clean, he=True), metrics.ssim(estimate, clean)
    return {"psnr_mean": float(p.mean()), "psnr_std": float(p.std()), "psnr_he_mean": float(ph.mean()),
            "psnr_he_std": float(ph.std()), "ssim_mean": float(ss.mean()), "n": int(len(p)),
            **diagnostics(estimate, clean)}


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
    """One row per cascade block: protein, block (1-based), mean PSNR (dB) of its output and its
    :func:`diagnostics` (gain, correlation, affine-fitted PSNR)."""
    return [{"protein": protein, "block": i, "psnr_mean": float(metrics.psnr(out, clean).mean()),
             **diagnostics(out, clean)}
            for i, out in enumerate(block_outputs(cascade, images, device=device), 1)]


def class_average_ceiling(noisy: np.ndarray, clean: np.ndarray, labels: np.ndarray) -> dict:
    """The ceiling of the paper's transductive protocol: every image replaced by the average of the noisy
    images of its *true* class (itself included), scored against its clean image.

    No method that averages images of the same view can do better on average, and none knows the
    true classes; an oracle, like the affine-fitted PSNR. Returns PSNR mean and the diagnostics.
    """
    lab = np.asarray(labels)
    avg = np.empty_like(noisy, dtype=np.float32)
    for c in np.unique(lab):
        avg[lab == c] = noisy[lab == c].mean(axis=0)
    return {"psnr_mean": float(metrics.psnr(avg, clean).mean()), **diagnostics(avg, clean)}


def verdict(diffs: dict, subject: str, other: str, unit: str = "dB", decimals: int = 1) -> str:
    """One sentence comparing two methods from their per-protein differences (``subject - other``).

    >>> verdict({"adk": 1.23, "cxcr4": -0.4}, "CDAE", "BM3D")
    'CDAE is above BM3D on 1 of 2 proteins (adk +1.2 dB) and below on 1 (cxcr4 -0.4 dB).'
    >>> verdict({"adk": -2.0}, "CDAE", "BM3D")
    'CDAE is below BM3D on every protein (adk -2.0 dB).'
    >>> verdict({"adk": -0.3, "cxcr4": 0.0001}, "CDAE", "PCA", unit="F1", decimals=3)
    'CDAE is below PCA on 1 of 2 proteins (adk -0.300 F1); equal on cxcr4.'
    """
    def fmt(items):
        return ", ".join(f"{k} {v:+.{decimals}f} {unit}" for k, v in items)

    tie = 0.5 * 10 ** -decimals  # a difference that rounds to zero is a tie, not a loss
    up = [(k, float(v)) for k, v in diffs.items() if v >= tie]
    down = [(k, float(v)) for k, v in diffs.items() if v <= -tie]
    equal = [k for k, v in diffs.items() if -tie < v < tie]
    same = f"; equal on {', '.join(equal)}" if equal else ""
    if not down and not up:
        return f"{subject} equals {other} on every protein."
    if not down:
        return (f"{subject} is above {other} on every protein ({fmt(up)})." if not equal else
                f"{subject} is above {other} on {len(up)} of {len(diffs)} proteins ({fmt(up)}){same}.")
    if not up:
        return (f"{subject} is below {other} on every protein ({fmt(down)})." if not equal else
                f"{subject} is below {other} on {len(down)} of {len(diffs)} proteins ({fmt(down)}){same}.")
    return (f"{subject} is above {other} on {len(up)} of {len(diffs)} proteins ({fmt(up)}) "
            f"and below on {len(down)} ({fmt(down)}){same}.")
