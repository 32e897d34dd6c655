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
    shows its value alone.
    """
    frames = [pivot(run[key], value=value) for run in result["metrics"]["per_seed"] if run[key]]
    methods = methods or list(dict.fromkeys(m for f in frames for m in f.columns))
    proteins = list(dict.fromkeys(p for f in frames for p in f.index))
    out = pd.DataFrame(index=proteins, columns=methods, dtype=object)
    for p in proteins:
        for m in methods:
            v = np.array([f.loc[p, m] for f in frames if m in f.columns and p in f.index])
            out.loc[p, m] = ("-" if v.size == 0 else f"{v[0]:.{decimals}f}" if v.size == 1
                             else f"{v.mean():.{decimals}f} ± {v.std():.{decimals}f} (n={v.size})")
    out.index.name = "protein"
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
    if "benchmark" in result:  # python benchmarks/<name>.py --json results/<profile>/<name>.json
        return (f"Recorded benchmark: {result['benchmark']}. Created {result['created']} on {result['machine']}, "
                f"torch {result['torch']}, commit `{result['commit'][:12]}"
                f"{'-dirty' if result['commit'].endswith('-dirty') else ''}`. Command: `{result['command']}`.")
    return (f"Recorded result `{result['experiment']}` ({result['profile']} profile): created "
            f"{result['created']} on {result['device']}, torch {result['torch']}, commit "
            f"`{result['commit'][:12]}{'-dirty' if result['commit'].endswith('-dirty') else ''}`, seeds "
            f"{result['seeds']}. Command: `{result['command']}`."
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
