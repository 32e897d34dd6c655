"""Does denoising help 2D classification of rotated particles under a CTF? Read from the recorded benchmark.

``benchmarks/ml2d.py --frc`` (``results/cpu/ml2d_realistic.json``) classifies realistic stacks of the test
proteins (CTF, in-plane rotation, shifts, 12 views over a hemisphere) by several methods, beside two
bounds: the true clean templates (the ceiling) and the averages of the true classes (what the data
themselves allow). This module turns its rows into the tables and sentences of chapter 5.8.
"""

from __future__ import annotations

import re

import pandas as pd

from cdae_lite.paper.tables import F1_TIE, tie_sign, verdict

#: The benchmark's methods, in the order the chapter shows them, with the names it prints.
METHODS = {"kmeans": "PCA + k-means (raw)", "kmeans-denoise": "PCA + k-means (general denoiser first)",
           "ml2d": "ML2D (raw)", "ml2d-denoise": "ML2D (started from general-denoised images)",
           "ml2d-stack-aware": "ML2D (started from stack-aware-denoised images)",
           "true-averages-split": "other half's true-class averages", "true-averages": "true-class averages",
           "ceiling": "true templates"}
#: The bounds among :data:`METHODS` (they use the truth), from the most conservative.
BOUNDS = ("true-averages-split", "true-averages", "ceiling")
#: Pairs (with denoising, without) whose F1 answers "does denoising first help?".
DENOISING_PAIRS = (("kmeans-denoise", "kmeans"), ("ml2d-denoise", "ml2d"), ("ml2d-stack-aware", "ml2d"))
#: Changes to ML2D's defaults since it was first recorded: (when, what), oldest first. A record made
#: before one of them ran the earlier code (:func:`changes_since`).
ML2D_CHANGES = (("2026-12-07T23:37:56+00:00", "ML2D runs EM with two counts of the noise in its soft averages and keeps "
                 "the likelier run (tau2_noise='both', commit 23ea9e2); before, one count ('counted')"),
                ("2026-12-08T00:37:42+00:00", "ML2D also runs EM from a coarse pass (10 iterations up to 0.25 of Nyquist, "
                 "then refined) and keeps the likelier run (coarse_start=True)"),
                ("2026-12-08T05:34:50+00:00", "ML2D makes its final references under a mask of nearly the whole box and "
                 "classifies against them (final_mask_radius_px; EM still searches under the particle's mask); the "
                 "true-class-average reference points use that mask too"))


def changes_since(result: dict, changes=ML2D_CHANGES) -> list[str]:
    """The changes to ML2D (:data:`ML2D_CHANGES`) made after ``result`` was created.

    >>> changes_since({"created": "2026-12-07T02:09:21+00:00"}, (("2026-12-07T23:37:56+00:00", "x"),))
    ['x']
    >>> changes_since({"created": "2026-12-08T00:10:00+00:00"}, (("2026-12-07T23:37:56+00:00", "x"),))
    []
    """
    from datetime import datetime

    made = datetime.fromisoformat(result["created"])
    return [what for when, what in changes if datetime.fromisoformat(when) > made]


def stack_shape(result: dict) -> tuple[int, int]:
    """(views, images per view) of the benchmark's stacks, read from its title ("12 views x 100", or with
    the view set named: "12 distinct views x 100").

    >>> stack_shape({"benchmark": "ML 2D classification, realistic preset, 12 views x 100, 64 px"})
    (12, 100)
    >>> stack_shape({"benchmark": "ML 2D classification, realistic preset, 12 distinct views x 100, 64 px"})
    (12, 100)
    """
    m = re.search(r"(\d+) (?:[a-z]+ )?views x (\d+)", result["benchmark"])
    if m is None:
        raise ValueError(f"no 'N views x M' in the benchmark's title {result['benchmark']!r}")
    return int(m.group(1)), int(m.group(2))


def box_size(result: dict) -> int:
    """The box size (pixels) of the benchmark's images, read from its title ("64 px").

    >>> box_size({"benchmark": "ML 2D classification, realistic preset, 12 views x 100, 64 px"})
    64
    """
    m = re.search(r"(\d+) px", result["benchmark"])
    if m is None:
        raise ValueError(f"no 'N px' in the benchmark's title {result['benchmark']!r}")
    return int(m.group(1))


def shell_step_A(resolution_A: float, size: int, pixel_A: float) -> float:
    """The resolution step of one Fourier shell at ``resolution_A`` (Angstrom) in a ``size``-pixel box of
    ``pixel_A`` Angstrom per pixel: shells are ``1 / (size * pixel_A)`` apart in spatial frequency, so
    ``resolution_A ** 2 / (size * pixel_A)`` apart in resolution. FRC resolutions closer than this are ties.

    >>> round(shell_step_A(6.2, 64, 1.27), 2)
    0.47
    """
    return resolution_A ** 2 / (size * pixel_A)


def long_table(result: dict) -> pd.DataFrame:
    """One row per (protein, SNR, method): ``f1``, ``frc05_A`` and ``frc0143_A`` (NaN where not scored).

    Parameters
    ----------
    result : dict -- the recorded benchmark (its ``rows``, as ``benchmarks/ml2d.py --json`` writes them).

    >>> r = {"rows": [{"protein": "adk", "snr": 0.05, "F1 ml2d": 0.9, "FRC0.5 A ml2d": 9.0, "FRC0.143 A ml2d": 8.0}]}
    >>> long_table(r)[["method", "f1", "frc0143_A"]].to_dict("records")
    [{'method': 'ML2D (raw)', 'f1': 0.9, 'frc0143_A': 8.0}]
    """
    out = []
    for row in result["rows"]:
        for key, name in METHODS.items():
            if f"F1 {key}" in row:
                out.append({"protein": row["protein"], "snr": row["snr"], "method": name, "f1": row[f"F1 {key}"],
                            "frc05_A": row.get(f"FRC0.5 A {key}", float("nan")),
                            "frc0143_A": row.get(f"FRC0.143 A {key}", float("nan")),
                            "pixel_A": row.get("pixel A", float("nan"))})
    return pd.DataFrame(out)


def f1_table(long: pd.DataFrame) -> pd.DataFrame:
    """F1 with (protein, SNR) as rows and the methods as columns, in :data:`METHODS`' order."""
    t = long.pivot_table(index=["protein", "snr"], columns="method", values="f1", sort=False)
    return t[[m for m in METHODS.values() if m in t.columns]].sort_index(level=[0, 1], ascending=[True, False])


def denoising_verdicts(long: pd.DataFrame, value: str = "f1", size: int | None = None) -> list[str]:
    """One sentence per denoising pair (:data:`DENOISING_PAIRS`) and SNR: with minus without denoising.

    ``value`` is ``f1`` (ties within :data:`~cdae_lite.paper.tables.F1_TIE`) or ``frc0143_A`` (the FRC resolution at 0.143,
    Angstrom: a smaller number is a sharper class average). FRC ties: within one Fourier shell of the
    resolution without denoising (:func:`shell_step_A`, given the box ``size`` in pixels and the rows'
    ``pixel_A``), else within 0.05 Angstrom.
    """
    t = long.pivot_table(index=["snr", "protein"], columns="method", values=value, sort=False)
    lines = []
    for with_, without in DENOISING_PAIRS:
        a, b = METHODS[with_], METHODS[without]
        if a not in t or b not in t:
            continue
        for snr in sorted(t.index.get_level_values(0).unique(), reverse=True):
            d = (t.loc[snr, a].round(3) - t.loc[snr, b].round(3)).dropna() if value == "f1" else \
                (t.loc[snr, a] - t.loc[snr, b]).dropna()  # F1 as the table shows it (3 decimals)
            if d.empty:
                continue
            if value == "f1":
                some = len(d) < len(t.loc[snr])  # a protein without both runs at this SNR is not compared
                lines.append(f"SNR {snr:g}: " + verdict(d.to_dict(), a, b, unit="F1", decimals=3,
                                                         item="compared protein" if some else "protein"))
            else:
                px = long.groupby("protein")["pixel_A"].first() if "pixel_A" in long else None
                ties = {p: shell_step_A(t.loc[(snr, p), b], size, px[p]) if size and px is not None
                        and pd.notna(px[p]) else 0.05 for p in d.index}
                lines.append(f"SNR {snr:g}, FRC 0.143 resolution, " + _resolution_sentence(d.to_dict(), a, b, ties))
    return lines


def coarser_bounds(long: pd.DataFrame, size: int, method: str = "ml2d", bound: str = "true-averages") -> list[str]:
    """The (protein, SNR) cases where ``bound``'s class averages (a key of :data:`METHODS`) are coarser in FRC
    resolution at 0.143 than ``method``'s by more than one Fourier shell (:func:`shell_step_A`): there the
    bound does not bound, e.g. where averaging the true classes of a symmetric particle went wrong.

    >>> rows = [{"protein": "p", "snr": 0.1, "method": METHODS[m], "frc0143_A": v, "pixel_A": 4.0}
    ...         for m, v in (("ml2d", 16.1), ("true-averages", 38.7))]
    >>> coarser_bounds(pd.DataFrame(rows), 64)
    ['p at SNR 0.1 (38.7 Å against 16.1 Å)']
    """
    t = long.pivot_table(index=["protein", "snr"], columns="method", values="frc0143_A", sort=False)
    a, b = METHODS[bound], METHODS[method]
    if a not in t or b not in t:
        return []
    px = long.groupby("protein")["pixel_A"].first()
    return [f"{p} at SNR {snr:g} ({t.loc[(p, snr), a]:.1f} Å against {t.loc[(p, snr), b]:.1f} Å)" for p, snr in t.index
            if t.loc[(p, snr), a] - t.loc[(p, snr), b] > shell_step_A(t.loc[(p, snr), b], size, px[p])]


def bound_gaps(long: pd.DataFrame, method: str = "ML2D (raw)") -> pd.DataFrame:
    """Per (protein, SNR): ``method``'s F1 minus each bound's (:data:`BOUNDS` that the benchmark holds)."""
    t = f1_table(long)
    out = {}
    for key in BOUNDS:
        if METHODS[key] in t and method in t:
            out[f"minus {METHODS[key]}"] = t[method] - t[METHODS[key]]
    return pd.DataFrame(out)


def _resolution_sentence(d: dict, a: str, b: str, ties: dict) -> str:
    """``d``: per protein, ``a``'s FRC resolution minus ``b``'s (Angstrom; negative is sharper), as words;
    differences within ``ties[protein]`` (Angstrom) are ties."""
    sharper = [f"{k} ({-v:.1f} Å)" for k, v in d.items() if tie_sign(v, ties[k]) < 0]
    blurrier = [f"{k} ({v:.1f} Å)" for k, v in d.items() if tie_sign(v, ties[k]) > 0]
    same = [k for k, v in d.items() if tie_sign(v, ties[k]) == 0]
    parts = ([f"sharper on {', '.join(sharper)}"] if sharper else []) + (
        [f"blurrier on {', '.join(blurrier)}"] if blurrier else []) + (
        [f"as sharp on {', '.join(same)} (within one Fourier shell)"] if same else [])
    return f"class averages of {a} against {b}: " + "; ".join(parts) + "."


def denoising_counts(long: pd.DataFrame, tie: float = F1_TIE) -> dict[tuple[str, str], dict]:
    """Per pair of :data:`DENOISING_PAIRS` present in ``long`` (labels ``(with, without)``, as in
    :data:`METHODS`): the F1 differences over the (protein, SNR) cases and how many went ``up``, ``down`` or
    stayed within ``tie`` (``same``).

    >>> rows = [{"protein": "adk", "snr": s, "method": METHODS[m], "f1": f}
    ...         for s, m, f in ((0.1, "ml2d", 0.9), (0.1, "ml2d-denoise", 0.95), (0.2, "ml2d", 0.9),
    ...                         (0.2, "ml2d-denoise", 0.901))]
    >>> c = denoising_counts(pd.DataFrame(rows))[(METHODS["ml2d-denoise"], METHODS["ml2d"])]
    >>> c["up"], c["down"], c["same"], c["n"]
    (1, 0, 1, 2)
    """
    t = long.pivot_table(index=["protein", "snr"], columns="method", values="f1", sort=False)
    out = {}
    for with_, without in DENOISING_PAIRS:
        a, b = METHODS[with_], METHODS[without]
        if a in t and b in t:
            d = (t[a] - t[b]).dropna()
            up, down = sum(tie_sign(v, tie) > 0 for v in d), sum(tie_sign(v, tie) < 0 for v in d)
            out[(a, b)] = {"diffs": d, "up": up, "down": down, "same": len(d) - up - down, "n": len(d)}
    return out


def denoising_answer(long: pd.DataFrame, tie: float = F1_TIE) -> str:
    """The count a teacher quotes: of the (protein, SNR) cases, where denoising first raised, lowered or did
    not change the F1 (beyond ``tie``), over every pair of :data:`DENOISING_PAIRS`.

    >>> rows = [{"protein": "adk", "snr": 0.05, "method": METHODS[m], "f1": f, "frc05_A": 1.0, "frc0143_A": 1.0}
    ...         for m, f in (("ml2d", 0.90), ("ml2d-denoise", 0.95), ("kmeans", 0.3), ("kmeans-denoise", 0.3))]
    >>> denoising_answer(pd.DataFrame(rows))
    'PCA + k-means (general denoiser first): higher F1 in 0, lower in 0, unchanged in 1 of 1 cases. ML2D (started from general-denoised images): higher F1 in 1, lower in 0, unchanged in 0 of 1 cases.'
    """
    return " ".join(f"{a}: higher F1 in {c['up']}, lower in {c['down']}, unchanged in {c['same']} of {c['n']} cases."
                    for (a, _), c in denoising_counts(long, tie).items())
