"""Recorded results with provenance (``results/<profile>/<experiment>.json``) and their tables."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cdae_lite import __version__
from cdae_lite.denoise.checkpoint import json_default
from cdae_lite.io.paths import results_dir
from cdae_lite.paper.tables import pivot
from cdae_lite.runtime import command_line, device_name, git_commit


def record(experiment: str, profile: str, config: dict, metrics_: dict, seeds, device=None,
           out: str | Path | None = None, notes: str = "") -> Path:
    """Write ``results/<profile>/<experiment>.json`` with provenance; returns its path."""
    payload = {"experiment": experiment, "profile": profile,
               "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "device": device_name(device), "torch": torch.__version__, "cdae_lite": __version__,
               "commit": git_commit(), "seeds": list(seeds), "command": command_line(),
               "notes": notes, "config": config, "metrics": metrics_}
    path = Path(out) if out else results_dir() / profile / f"{experiment}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=json_default) + "\n")
    return path


def load_result(experiment: str, profile: str = "full") -> dict | None:
    """A recorded result, or None when it was never recorded."""
    path = results_dir() / profile / f"{experiment}.json"
    return json.loads(path.read_text()) if path.exists() else None


def largest_recorded(experiment: str) -> dict | None:
    """The recorded result at the largest scale there is: the full profile (paper scale, run on a
    GPU), else the ``cpu`` profile (the full protocol with fewer images, see :data:`~cdae_lite.paper.configs.CPU_PROFILE_NOTE`),
    else None. Its ``profile`` key says which."""
    for profile in ("full", "cpu"):
        result = load_result(experiment, profile)
        if result is not None:
            return result
    return None


def recorded_table(result: dict, key: str = "psnr", methods: list[str] | None = None,
                   value: str = "psnr_mean", decimals: int = 2) -> pd.DataFrame:
    """A recorded result's proteins x methods table: ``mean ± std (n seeds)`` per cell.

    A method recorded for only some seeds (e.g. fine-tuning) is averaged over those; a single seed
    shows its value alone. Where the recording holds view fidelity, a cell whose output collapsed in
    any seed ends with ``collapsed in k of n``.

    >>> rows = [{"protein": "adk", "method": "cdae", "psnr_mean": 20.0, "collapsed": True}]
    >>> recorded_table({"metrics": {"per_seed": [{"psnr": rows}]}}).loc["adk", "cdae"]
    '20.00, collapsed in 1 of 1'
    """
    runs = [run[key] for run in result["metrics"]["per_seed"] if run[key]]
    frames = [pivot(rows, value=value) for rows in runs]
    gone = [_collapsed_pivot(rows) for rows in runs]
    methods = methods or list(dict.fromkeys(m for f in frames for m in f.columns))
    proteins = list(dict.fromkeys(p for f in frames for p in f.index))
    out = pd.DataFrame(index=proteins, columns=methods, dtype=object)
    for p in proteins:
        for m in methods:
            held = [i for i, f in enumerate(frames) if m in f.columns and p in f.index]
            v = np.array([frames[i].loc[p, m] for i in held])
            k = sum(bool(gone[i].loc[p, m]) for i in held if gone[i] is not None)
            out.loc[p, m] = ("-" if v.size == 0 else f"{v[0]:.{decimals}f}" if v.size == 1
                             else f"{v.mean():.{decimals}f} ± {v.std():.{decimals}f} (n={v.size})") + (
                f", collapsed in {k} of {v.size}" if k else "")
    out.index.name = "protein"
    return out


def recorded_collapse_reasons(result: dict, methods=None, key: str = "psnr") -> dict:
    """Per protein, the measured words for a recorded result's collapsed outputs among ``methods``.

    The recorded counterpart of :func:`cdae_lite.paper.cdae.collapse_reasons`, for
    :func:`quick_vs_recorded`'s ``recorded_collapsed``; empty when the recording has no view fidelity.

    >>> runs = [{"psnr": [{"protein": "adk", "method": "cdae", "view_accuracy": a, "collapsed": a < 0.3}]}
    ...         for a in (0.26, 0.9)]
    >>> recorded_collapse_reasons({"metrics": {"per_seed": runs}})
    {'adk': 'cdae: collapsed in 1 of 2 seeds (view accuracy 0.26)'}
    """
    seen: dict[tuple[str, str], list[dict]] = {}
    for run in result["metrics"]["per_seed"]:
        for r in run.get(key) or []:
            if "collapsed" in r and (methods is None or r["method"] in methods):
                seen.setdefault((r["protein"], r["method"]), []).append(r)
    out: dict[str, str] = {}
    for (protein, method), rows in seen.items():
        bad = [r for r in rows if r["collapsed"]]
        if bad:
            acc = ", ".join(f"{r['view_accuracy']:.2f}" for r in bad)
            words = f"{method}: collapsed in {len(bad)} of {len(rows)} seeds (view accuracy {acc})"
            out[protein] = f"{out[protein]}; {words}" if protein in out else words
    return out


def recorded_blocks(result: dict, key: str = "blocks_ft", decimals: int = 2, value: str = "psnr_mean") -> pd.DataFrame:
    """PSNR (dB) after each CDAE block, proteins x blocks, averaged over the seeds that recorded it.

    ``key``: ``"blocks"`` (pre-trained cascade) or ``"blocks_ft"`` (after fine-tuning); ``value``:
    another column of the block rows instead of the PSNR (``"gain_mean"``, ``"affine_psnr_mean"``).
    """
    frames = [pd.DataFrame(run[key]).pivot_table(index="protein", columns="block", values=value, sort=False)
              for run in result["metrics"]["per_seed"] if run.get(key)]
    if not frames:
        return pd.DataFrame()
    out = (sum(frames) / len(frames)).round(decimals)
    out.columns = [f"after block {b}" for b in out.columns]
    out.columns.name = f"mean of {len(frames)} seed(s)"
    return out


def provenance(result: dict) -> str:
    """One paragraph saying where a recorded result (or benchmark table) came from (for the book)."""
    if "benchmark" in result and "parts" in result:  # several runs of one benchmark, merged row by row
        runs = "; ".join(f"`{p['command']}` (commit `{p['commit'][:12]}`, created {p['created']})" for p in result["parts"])
        return (f"Recorded benchmark: {result['benchmark']}, on {result['machine']}, torch {result['torch']}, "
                f"merged from {len(result['parts'])} runs: {runs}." + (f" {result['notes']}" if result.get("notes") else ""))
    if "benchmark" in result:  # python benchmarks/<name>.py --json results/<profile>/<name>.json
        return (f"Recorded benchmark: {result['benchmark']}. Created {result['created']} on {result['machine']}, "
                f"torch {result['torch']}, commit `{result['commit'][:12]}"
                f"{'-dirty' if result['commit'].endswith('-dirty') else ''}`. Command: `{result['command']}`.")
    command, notes = result["command"], result.get("notes") or ""
    head, _, given = command.partition(" --notes ")
    if given and notes.startswith(given):  # the notes are printed next: not twice
        command = head + " --notes (the notes below)"
    return (f"Recorded result `{result['experiment']}` ({result['profile']} profile): created "
            f"{result['created']} on {result['device']}, torch {result['torch']}, commit "
            f"`{result['commit'][:12]}{'-dirty' if result['commit'].endswith('-dirty') else ''}`, seeds "
            f"{result['seeds']}. Command: `{command}`."
            + (f" {result['notes']}" if result.get("notes") else ""))


def recorded_or_none(experiment: str) -> tuple[dict | None, str]:
    """:func:`largest_recorded` and one paragraph for the book: its :func:`provenance`, or what is missing."""
    result = largest_recorded(experiment)
    if result is None:
        return None, (f"No larger-scale result is recorded yet (`results/full/{experiment}.json` and "
                      f"`results/cpu/{experiment}.json` are missing).")
    return result, provenance(result)


def seed_differences(a: dict, b: dict, method: str, key: str = "psnr", value: str = "psnr_mean") -> pd.DataFrame:
    """Per protein, ``a - b`` of one method's value over the seeds both recordings hold.

    Parameters
    ----------
    a, b : recorded results of the same experiment (e.g. a variant and the paper's version).
    method : the method row compared (e.g. ``"cdae"`` pre-trained, ``"cdae_ft"`` fine-tuned).
    key, value : which table of each seed and which column (``"gain_mean"`` for the gain).

    Returns
    -------
    DataFrame indexed by protein with columns ``mean``, ``std`` (over seeds; 0 for one seed) and
    ``seeds`` (how many); empty when no seed holds the method in both.
    """
    def per_seed(result):
        return {r["seed"]: pivot(r[key], value=value)[method] for r in result["metrics"]["per_seed"]
                if r[key] and any(row["method"] == method for row in r[key])}

    pa, pb = per_seed(a), per_seed(b)
    common = sorted(set(pa) & set(pb))
    if not common:
        return pd.DataFrame(columns=["mean", "std", "seeds"])
    diffs = pd.DataFrame({s: pa[s] - pb[s] for s in common})
    return pd.DataFrame({"mean": diffs.mean(axis=1), "std": diffs.std(axis=1, ddof=1).fillna(0.0),
                         "seeds": len(common)})


def recorded_collapsed(result: dict, key: str = "psnr") -> pd.DataFrame | None:
    """Proteins x methods: did a method's output collapse in any seed of a recorded result? ``None``
    when the recording predates the view-fidelity measure (its rows carry no ``collapsed``)."""
    return _collapsed_pivot([row for run in result["metrics"]["per_seed"] for row in run.get(key) or []])


def _collapsed_pivot(rows: list[dict]) -> pd.DataFrame | None:
    """Proteins x methods: did any of ``rows`` mark the output collapsed? ``None`` without view fidelity."""
    if not rows or not any("collapsed" in row for row in rows):
        return None
    return pivot([{**r, "collapsed": float(bool(r.get("collapsed", False)))} for r in rows], "collapsed") > 0


def fidelity_note(result: dict, key: str = "psnr") -> str:
    """One sentence: whether a recorded result holds the view fidelity (view accuracy, collapsed)."""
    if recorded_collapsed(result, key) is None:
        return (f"View fidelity: not in this recording (`{result['experiment']}`, made before the measure; no "
                "outputs are stored to compute it from): re-record to add it. Whether its outputs collapsed is "
                "not measured.")
    return f"View fidelity: recorded (`{result['experiment']}`); collapsed outputs get no verdict."


#: The outputs each conclusion of ``benchmarks/quick_scale.py`` compares (its ``collapsed`` column names them).
SCALE_INPUTS = {"pretrained": ("cdae", "single"), "ft_gain": ("cdae", "single", "cdae_ft", "single_ft"),
                "ft": ("cdae_ft", "single_ft"), "vs_bm3d": ("cdae_ft_same_images", "bm3d_tuned"), "clustering": ()}


def scale_conclusion(conclusion: str, result: dict | None = None, recorded: dict | None = None,
                     label: str = "recorded") -> pd.DataFrame | None:
    """One conclusion of ``benchmarks/quick_scale.py`` at every scale it ran (``results/cpu/quick_scale.json``).

    Parameters
    ----------
    conclusion : str -- a column of the benchmark: ``pretrained`` (pre-trained CDAE minus single DAE),
        ``ft_gain`` (what fine-tuning adds to CDAE minus what it adds to the single DAE), ``ft``
        (fine-tuned CDAE minus fine-tuned single DAE), ``vs_bm3d``, ``clustering``.
    result : the recorded benchmark; read from ``results/cpu`` when omitted.
    recorded : dict -- per protein, the same difference in the recorded run the chapter shows; it
        replaces the benchmark's own copy of the recorded run (taken when the benchmark ran, maybe from
        an older recording), so one quantity has one value on a page.
    label : str -- the row name of ``recorded``.

    Returns
    -------
    DataFrame, variants (e.g. ``"64 px, 40/view"``, then ``label``) x proteins, or ``None`` when the
    benchmark is not recorded. A cell whose difference rests on an output that collapsed in that run
    (the benchmark's ``collapsed`` column, :data:`SCALE_INPUTS`) is NaN.
    """
    result = load_result("quick_scale", "cpu") if result is None else result
    if result is None:
        return None
    rows = [r for r in result["rows"] if not str(r["variant"]).startswith("recorded")]
    needs = SCALE_INPUTS.get(conclusion, ())
    rows = [{**r, conclusion: float("nan")} if set(str(r.get("collapsed", "")).split(", ")) & set(needs) else r
            for r in rows]  # a sign that rests on a collapsed output is not counted
    out = pd.DataFrame(rows).pivot_table(index="variant", columns="protein", values=conclusion, sort=False,
                                         dropna=False)
    if recorded is not None:
        out.loc[label] = pd.Series(recorded)
    out.columns.name = None
    out = out.astype(float)
    out.attrs["view_fidelity"] = any("collapsed" in r for r in rows)  # False: its signs rest on PSNR alone
    return out


def _scale_reason(table: pd.DataFrame | None, protein: str, quick_sign: float, recorded_sign: float) -> str:
    """Why the quick run's sign differs from the recorded one on ``protein``, as far as the runs of
    ``benchmarks/quick_scale.py`` measure it: its 32-px run must reproduce the quick sign, and its 64-px
    runs must all give the recorded sign, for the image size to be the measured reason."""
    if table is None or protein not in table:
        return "not measured"
    blank = [v for v in table.index if v.startswith("64 px") and np.isnan(table.loc[v, protein])]
    small = [v for v in table.index if v.startswith("32 px") and not np.isnan(table.loc[v, protein])]
    large = [v for v in table.index if v.startswith("64 px") and v not in blank]
    if blank and not large:
        return "not measured (benchmarks/quick_scale.py's 64-px runs rest on outputs that collapsed)"
    if not large or (small and not any(np.sign(table.loc[v, protein]) == quick_sign for v in small)):
        return ("not measured (benchmarks/quick_scale.py's 32-px run, made at another commit, does not give this "
                "run's sign)" if large else "not measured")
    k = int(sum(np.sign(table.loc[v, protein]) == recorded_sign for v in large))
    runs = f"benchmarks/quick_scale.py's 64-px runs give the recorded sign in {k} of {len(large)} variants" + (
        "" if table.attrs.get("view_fidelity", True) else ", on PSNR alone: the benchmark records no view fidelity")
    return (f"measured, the image size ({runs})" if k == len(large) else
            f"not measured ({runs}, so the image size alone does not explain it)")


def quick_vs_recorded(quick: dict, recorded: dict, what: str, scale: pd.DataFrame | None = None,
                      collapsed: dict | None = None, unit: str = "dB", decimals: int = 1,
                      recorded_collapsed: dict | None = None) -> str:
    """Do this build's quick run and the recorded run agree on the sign of a difference, and if not, why?

    Proteins where either run's output collapsed are not compared: a collapsed output's sign is no
    conclusion (where both collapsed, neither run has a sign to compare).

    Parameters
    ----------
    quick, recorded : dict -- per protein, the difference in each run.
    what : str -- the difference in words ("fine-tuned CDAE minus fine-tuned single DAE").
    scale : :func:`scale_conclusion` of the same difference, or ``None``.
    collapsed : dict -- protein -> the measured words for the quick run's collapsed output there.
    recorded_collapsed : dict -- the same for the recorded run (:func:`recorded_collapse_reasons`).

    >>> quick_vs_recorded({"adk": 1.3, "cxcr4": 0.2, "p": 1.0}, {"adk": -6.0, "cxcr4": -1.0, "p": -2.0},
    ...                   "A minus B", collapsed={"adk": "A: view accuracy 0.25", "p": "A: 0.3"},
    ...                   recorded_collapsed={"p": "A: collapsed in 1 of 1 seeds"})
    'The quick run and the recorded run agree on the sign of A minus B on 0 of 1 proteins whose outputs did not collapse. They disagree on cxcr4 (quick +0.2 dB, recorded -1.0 dB): not measured. Not compared on adk (quick +1.3 dB, recorded -6.0 dB): the quick output collapsed (A: view accuracy 0.25), so its sign is no conclusion; p (quick +1.0 dB, recorded -2.0 dB): collapsed in both runs (quick: A: 0.3; recorded: A: collapsed in 1 of 1 seeds).'
    """
    collapsed, rec_gone = collapsed or {}, recorded_collapsed or {}
    common = [p for p in quick if p in recorded]

    def sign(d, p):
        return np.sign(round(d[p], decimals))

    def both(p):
        return f"quick {quick[p]:+.{decimals}f} {unit}, recorded {recorded[p]:+.{decimals}f} {unit}"

    def why(p):
        if p in collapsed and p in rec_gone:
            return f"collapsed in both runs (quick: {collapsed[p]}; recorded: {rec_gone[p]})"
        if p in collapsed:
            return f"the quick output collapsed ({collapsed[p]}), so its sign is no conclusion"
        return f"the recorded output collapsed ({rec_gone[p]})"

    live = [p for p in common if p not in collapsed and p not in rec_gone]
    same = [p for p in live if sign(quick, p) == sign(recorded, p)]
    differ = [p for p in live if p not in same]
    out = (f"The quick run and the recorded run agree on the sign of {what} on {len(same)} of {len(live)} proteins"
           + (" whose outputs did not collapse" if len(live) < len(common) else "")
           + (f" ({', '.join(same)})." if same else ".") if live else
           f"No comparison of {what} between the quick run and the recorded run: an output collapsed on every "
           "protein.")
    if differ:
        out += " They disagree on " + "; ".join(
            f"{p} ({both(p)}): {_scale_reason(scale, p, sign(quick, p), sign(recorded, p))}" for p in differ) + "."
    gone = [p for p in common if p not in live]
    if gone:
        out += " Not compared on " + "; ".join(f"{p} ({both(p)}): {why(p)}" for p in gone) + "."
    return out


def scale_signs(table: pd.DataFrame, positive: str) -> str:
    """Per variant of :func:`scale_conclusion`, on how many proteins the difference is positive.

    >>> t = pd.DataFrame({"adk": [1.0, -2.0], "cxcr4": [0.5, 1.0]}, index=["32 px", "64 px"])
    >>> scale_signs(t, "the cascade gained most")
    'Where the cascade gained most: 32 px on 2 of 2 proteins (adk, cxcr4); 64 px on 1 of 2 (cxcr4).'
    >>> scale_signs(t.where(t < 1), "the cascade gained most")
    'Where the cascade gained most: 32 px on 1 of 1 proteins (cxcr4), 1 not counted (blank); 64 px on 0 of 1, 1 not counted (blank).'
    >>> scale_signs(t.where(t > 5), "the cascade gained most")
    'Where the cascade gained most: 32 px: no protein counted (all 2 blank); 64 px: no protein counted (all 2 blank).'
    """
    parts = []
    for i, (v, row) in enumerate(table.iterrows()):
        up, blank = [str(p) for p, x in row.items() if x > 0], int(row.isna().sum())
        if blank == len(row):
            parts.append(f"{v}: no protein counted (all {blank} blank)")
            continue
        parts.append(f"{v} on {len(up)} of {len(row) - blank}" + (" proteins" if i == 0 else "")
                     + (f" ({', '.join(up)})" if up else "") + (f", {blank} not counted (blank)" if blank else ""))
    return f"Where {positive}: " + "; ".join(parts) + "."
