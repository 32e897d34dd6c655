"""Rows and tables of scores: the shapes every chapter and recorded result shares."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdae_lite import metrics
from cdae_lite.denoise.inference import block_outputs


def rounding_tie(decimals: int) -> float:
    """The smallest difference that is not a tie when differences are shown at ``decimals`` decimals:
    one that rounds to zero there (half the last digit) favours neither side.

    >>> rounding_tie(1), rounding_tie(2)
    (0.05, 0.005)
    """
    return round(0.5 * 10 ** -decimals, decimals + 1)


def tie_sign(value: float, tie: float) -> int:
    """1 or -1 where a difference is beyond ``tie`` either way, 0 where it is within it, the threshold
    included (to the 4th decimal, so that 24.94 - 24.89 is a tie at 0.05 whatever its last float bit).

    >>> tie_sign(24.94 - 24.89, 0.05), tie_sign(0.06, 0.05), tie_sign(-0.0051, 0.005)
    (0, 1, -1)
    """
    v = round(float(value), 4)
    return 0 if abs(v) <= tie else (1 if v > 0 else -1)


#: F1 differences smaller than this are ties (2 of 400 images, 6 of 1,200, change about this much).
F1_TIE = rounding_tie(2)  # within it, the threshold included (tie_sign)
IN_PLANE_ROTATIONS = 24  # in-plane angles tried per reference on a rotated stack (every 15 degrees)


def view_columns(estimate: np.ndarray, clean: np.ndarray, labels: np.ndarray, rotated: bool = False) -> dict:
    """The view fidelity (:func:`~cdae_lite.metrics.view_fidelity`) as the columns every table row carries:
    ``view_accuracy``, ``view_margin``, ``collapsed`` and ``clean_view_accuracy`` (what the clean images
    reach: where it is within twice the tolerance of chance, no output can be flagged). For a stack rotated
    in plane (``rotated``), the references are tried at ``IN_PLANE_ROTATIONS`` angles and the row also
    carries ``view_rotations``."""
    rotations = IN_PLANE_ROTATIONS if rotated else 1
    v = metrics.view_fidelity(estimate, clean, labels, rotations=rotations)
    return {"view_accuracy": v["accuracy"], "view_margin": v["mean_margin"], "collapsed": v["collapsed"],
            "clean_view_accuracy": v["clean_accuracy"],
            **({"view_rotations": rotations} if rotated else {})}


def blind_sets(rows: list[dict], n_views: int) -> dict[str, float]:
    """The sets (``"protein / preset"``) where view fidelity cannot flag a collapse, with what the clean
    images reach there: their own view accuracy (``clean_view_accuracy``, :func:`view_columns`) is within
    twice the tolerance of chance (``1 / n_views``), so no output can be told to have lost the views
    (symmetry mates, or views that are in-plane rotations of each other). Rows without it are skipped.

    >>> rows = [{"protein": "apo", "preset": "realistic", "method": "raw", "clean_view_accuracy": 0.42},
    ...         {"protein": "adk", "preset": "paper", "method": "raw", "clean_view_accuracy": 1.0}]
    >>> blind_sets(rows, 4)
    {'apo / realistic': 0.42}
    """
    limit = 1.0 / n_views + 2 * metrics.fidelity.CHANCE_TOLERANCE
    return {f"{r['protein']} / {r['preset']}": float(r["clean_view_accuracy"]) for r in rows
            if r.get("clean_view_accuracy", np.inf) <= limit}


def rotation_search_note(rows: list[dict], preset: str = "realistic") -> str | None:
    """The caveat a recording needs when its rows of a rotated ``preset`` carry view fidelity measured
    without the in-plane rotation search (no ``view_rotations``); None when there is nothing to say.

    There the clean references are compared with particles at other in-plane angles, so even the raw
    images score far below 1 and the view columns do not measure the views.

    >>> old = [{"preset": "realistic", "method": "raw", "view_accuracy": 0.31}]
    >>> rotation_search_note(old)[:60]
    'View accuracy on the realistic preset (particles turned in p'
    >>> rotation_search_note([{**old[0], "view_rotations": 24}]) is None
    True
    """
    turned = [r for r in rows if r.get("preset") == preset and "view_accuracy" in r]
    if not turned or any("view_rotations" in r for r in turned):
        return None
    raw = [r["view_accuracy"] for r in turned if r.get("method") == "raw"]
    span = f": there even the raw images score {min(raw):.2f} to {max(raw):.2f}" if raw else ""
    return (f"View accuracy on the {preset} preset (particles turned in plane) was recorded without the rotation "
            f"search of metrics.view_fidelity(rotations=...){span}, so those columns do not measure the views; "
            "re-record to measure them.")


def diagnostics(estimate: np.ndarray, clean: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """Means of the gain, the correlation and the affine-fitted PSNR (an oracle) of a stack of estimates:
    the numbers that tell contrast loss from structural loss (:mod:`cdae_lite.metrics`). With the true
    views ``labels`` (n,), also the view fidelity (:func:`~cdae_lite.metrics.view_fidelity`):
    ``view_accuracy``, ``view_margin`` and ``collapsed``."""
    s = metrics.image_scores(estimate, clean)
    out = {"gain_mean": s["gain"], "correlation_mean": s["correlation"], "affine_psnr_mean": s["affine_psnr"]}
    return out if labels is None else {**out, **view_columns(estimate, clean, labels)}


def psnr_rows(estimates: dict[str, np.ndarray], clean: np.ndarray, protein: str, he: bool = False,
              labels: np.ndarray | None = None) -> list[dict]:
    """One row per method: protein, method, PSNR mean, std and n (optionally after HE), and without HE
    the :func:`diagnostics` (gain, correlation, affine-fitted PSNR; with the true views ``labels``, the
    view fidelity too)."""
    rows = []
    for name, est in estimates.items():
        s = metrics.summarize(metrics.psnr(est, clean, he=he))
        rows.append({"protein": protein, "method": name, "psnr_mean": s["mean"], "psnr_std": s["std"],
                     "n": s["n"], "he": he, **({} if he else diagnostics(est, clean, labels))})
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


def score(estimate: np.ndarray, clean: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """PSNR (without and with HE), SSIM and the :func:`diagnostics` of a stack of estimates: means, stds, n
    (with the true views ``labels``, the view fidelity too)."""
    p, ph, ss = metrics.psnr(estimate, clean), metrics.psnr(estimate, clean, he=True), metrics.ssim(estimate, clean)
    return {"psnr_mean": float(p.mean()), "psnr_std": float(p.std()), "psnr_he_mean": float(ph.mean()),
            "psnr_he_std": float(ph.std()), "ssim_mean": float(ss.mean()), "n": int(len(p)),
            **diagnostics(estimate, clean, labels)}


def clustering_rows(labels: dict[str, np.ndarray], truth: np.ndarray, protein: str) -> list[dict]:
    """One row per method with :func:`~cdae_lite.metrics.clustering_scores` (largest cluster's share too)."""
    rows = []
    for m, lab in labels.items():
        sc = metrics.clustering_scores(truth, lab)
        sc.pop("mapping", None)
        rows.append({"protein": protein, "method": m, **sc,
                     "largest_cluster": float(np.bincount(lab).max() / len(lab))})
    return rows


def block_psnr_rows(cascade, images: np.ndarray, clean: np.ndarray, protein: str, device=None,
                    labels: np.ndarray | None = None) -> list[dict]:
    """One row per cascade block: protein, block (1-based), mean PSNR (dB) of its output and its
    :func:`diagnostics` (gain, correlation, affine-fitted PSNR; view fidelity with ``labels``)."""
    return [{"protein": protein, "block": i, "psnr_mean": float(metrics.psnr(out, clean).mean()),
             **diagnostics(out, clean, labels)}
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
    return {"psnr_mean": float(metrics.psnr(avg, clean).mean()), **diagnostics(avg, clean, lab)}


def collapsed_table(rows: list[dict]) -> pd.DataFrame:
    """Rows of :func:`psnr_rows` (with labels) as a proteins x methods table of bools: collapsed outputs."""
    return pivot([{**r, "collapsed": float(bool(r.get("collapsed", False)))} for r in rows], "collapsed") > 0


def collapsed_proteins(collapsed: pd.DataFrame | None, *methods: str) -> list[str]:
    """The proteins (rows of ``collapsed``) where any of ``methods`` collapsed; [] without a table."""
    if collapsed is None:
        return []
    cols = [m for m in methods if m in collapsed]
    return [str(p) for p in collapsed.index if cols and bool(collapsed.loc[p, cols].any())]


def best_methods(table: pd.DataFrame, collapsed: pd.DataFrame | None = None, exclude=("raw",)) -> dict:
    """The highest-scoring method per protein (``table``: proteins x methods) among those whose output
    did not collapse (``collapsed``: same shape, bools); ``None`` where every method collapsed.

    >>> t = pd.DataFrame({"blob": [20.0], "BM3D": [18.0]}, index=["adk"])
    >>> best_methods(t, pd.DataFrame({"blob": [True], "BM3D": [False]}, index=["adk"]))
    {'adk': 'BM3D'}
    """
    t = table.drop(columns=[c for c in exclude if c in table])
    if collapsed is not None:
        t = t.mask(collapsed.reindex(index=t.index, columns=t.columns).fillna(False).astype(bool))
    return {str(p): (None if row.isna().all() else str(row.idxmax())) for p, row in t.iterrows()}


def best_agreement(here: dict, recorded: dict, collapsed_here: pd.DataFrame | None = None) -> str:
    """Where this run's best method per protein (:func:`best_methods`) differs from the recorded run's, as a
    sentence, with the measured reason where there is one: the recorded best collapsed in this run.

    >>> c = pd.DataFrame({"DAE": [True, False]}, index=["adk", "apo"])
    >>> best_agreement({"adk": "N2V", "apo": "N2V"}, {"adk": "DAE", "apo": "DAE"}, c)
    'The best method differs between this run and the recording on adk (N2V here, DAE recorded; DAE collapsed in this run), apo (N2V here, DAE recorded; no reason measured).'
    """
    differ = [p for p in recorded if p in here and here[p] != recorded[p]]
    if not differ:
        return "This run and the recording name the same best method on every protein they share."

    def why(p: str) -> str:
        r = recorded[p]
        gone = collapsed_here is not None and r in collapsed_here and p in collapsed_here.index and bool(collapsed_here.loc[p, r])
        return f"{r} collapsed in this run" if gone else "no reason measured"
    return ("The best method differs between this run and the recording on "
            + ", ".join(f"{p} ({here[p]} here, {recorded[p]} recorded; {why(p)})" for p in differ) + ".")


def itemize(values: dict, fmt: str = "{}", unit: str = "") -> str:
    """Per-item values as words for a printed line ("adk 1.23 dB, cxcr4 0.45 dB"), never a raw dict.

    Parameters
    ----------
    values : dict -- item (protein, set, ...) -> value; ``None`` prints as "none".
    fmt : str -- format of each value ("{:.2f}").
    unit : str -- appended to each formatted value.

    >>> itemize({"adk": 1.234, "cxcr4": None}, "{:.2f}", " dB")
    'adk 1.23 dB, cxcr4 none'
    """
    return ", ".join(f"{k} " + ("none" if v is None else fmt.format(v) + unit) for k, v in values.items())


def denoising_table(rows: list[dict], decimals: int = 2) -> pd.DataFrame:
    """The table every denoising comparison shows: PSNR, gain, affine-fitted PSNR and view accuracy
    (proteins x methods under each), with ``collapsed`` written beside the view accuracy of a collapsed
    output. Values are strings rounded to ``decimals`` (at most 3) for display."""
    parts = {"PSNR (dB)": "psnr_mean", "gain": "gain_mean", "affine PSNR (oracle, dB)": "affine_psnr_mean",
             "view accuracy": "view_accuracy"}
    have = {k: v for k, v in parts.items() if any(v in r for r in rows)}
    tables = {k: pivot(rows, v) for k, v in have.items()}
    d = min(decimals, 3)
    shown = {k: t.map(lambda x: "" if pd.isna(x) else f"{x:.{d}f}") for k, t in tables.items()}
    if "view accuracy" in shown and any("collapsed" in r for r in rows):
        flags = collapsed_table(rows).reindex_like(tables["view accuracy"]).fillna(False)
        shown["view accuracy"] = shown["view accuracy"].where(~flags, shown["view accuracy"] + " collapsed")
    return pd.concat(shown, axis=1)


def verdict(diffs: dict, subject: str, other: str, unit: str = "dB", decimals: int = 1,
            collapsed=(), item: str = "protein") -> str:
    """One sentence comparing two methods from their per-protein differences (``subject - other``).

    Proteins in ``collapsed`` (where either output collapsed: :func:`collapsed_proteins`) get no
    verdict: a collapsed output is never above anything. ``item`` names what the keys are. A difference
    that rounds to zero at ``decimals`` is a tie; in F1, so is one under :data:`F1_TIE`.

    >>> verdict({"adk": 1.23, "cxcr4": -0.4}, "CDAE", "BM3D")
    'CDAE is above BM3D on 1 of 2 proteins (adk +1.2 dB) and below on 1 (cxcr4 -0.4 dB).'
    >>> verdict({"adk": -2.0}, "CDAE", "BM3D")
    'CDAE is below BM3D on every protein (adk -2.0 dB).'
    >>> verdict({"adk": -0.3, "cxcr4": 0.0001}, "CDAE", "PCA", unit="F1", decimals=3)
    'CDAE is below PCA on 1 of 2 proteins (adk -0.300 F1); equal on cxcr4.'
    >>> verdict({"adk": 0.004, "cxcr4": 0.02}, "ML2D", "k-means", unit="F1", decimals=3)
    'ML2D is above k-means on 1 of 2 proteins (cxcr4 +0.020 F1); equal on adk.'
    >>> verdict({"adk": 1.0, "cxcr4": 2.0}, "CDAE", "BM3D", collapsed=["cxcr4"])
    'CDAE is above BM3D on 1 of 2 proteins (adk +1.0 dB); no verdict on cxcr4 (a collapsed output).'
    >>> verdict({"adk/paper": 1.0}, "U-Net", "BM3D", item="set")
    'U-Net is above BM3D on every set (adk/paper +1.0 dB).'
    """
    def fmt(items):
        return ", ".join(f"{k} {v:+.{decimals}f} {unit}" for k, v in items)

    gone = [k for k in diffs if k in set(collapsed)]
    void = f"; no verdict on {', '.join(gone)} (a collapsed output)" if gone else ""
    n, items = len(diffs), f"{item}s"
    diffs = {k: v for k, v in diffs.items() if k not in set(gone)}
    if not diffs:
        return f"{subject} against {other}: no verdict, an output collapsed on every {item} ({', '.join(gone)})."
    every = f"every {item}" if not gone else f"{len(diffs)} of {n} {items}"
    tie = rounding_tie(decimals)  # a difference that rounds to zero is a tie, not a loss
    tie = max(tie, F1_TIE) if unit == "F1" else tie  # F1: within F1_TIE, however many decimals are shown
    up = [(k, float(v)) for k, v in diffs.items() if tie_sign(v, tie) > 0]
    down = [(k, float(v)) for k, v in diffs.items() if tie_sign(v, tie) < 0]
    equal = [k for k, v in diffs.items() if tie_sign(v, tie) == 0]
    same = f"; equal on {', '.join(equal)}" if equal else ""
    if not down and not up:
        return f"{subject} equals {other} on {every} ({', '.join(diffs)}){void}."
    if not down:
        return (f"{subject} is above {other} on {every} ({fmt(up)}){void}." if not equal else
                f"{subject} is above {other} on {len(up)} of {n} {items} ({fmt(up)}){same}{void}.")
    if not up:
        return (f"{subject} is below {other} on {every} ({fmt(down)}){void}." if not equal else
                f"{subject} is below {other} on {len(down)} of {n} {items} ({fmt(down)}){same}{void}.")
    return (f"{subject} is above {other} on {len(up)} of {n} {items} ({fmt(up)}) "
            f"and below on {len(down)} ({fmt(down)}){same}{void}.")


def f1_direction(a: float, b: float, chance: float, tie: float = F1_TIE) -> int | None:
    """Which of two matched F1 scores is higher: 1 (``a``), -1 (``b``), 0 (a tie, within ``tie``: :func:`tie_sign`), or None
    when both are at or below ``chance`` (:func:`~cdae_lite.metrics.chance_f1`): no conclusion there.

    >>> f1_direction(0.310, 0.322, chance=0.33) is None
    True
    >>> f1_direction(0.9, 0.5, 0.33), f1_direction(0.9, 0.898, 0.33), f1_direction(0.3, 0.6, 0.33)
    (1, 0, -1)
    """
    if max(a, b) <= chance:
        return None
    return tie_sign(a - b, tie)
