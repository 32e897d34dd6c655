"""The paper's claims, checked at every scale we ran: the book's scorecard, computed, never typed.

Each chapter keeps the tables it computed (:func:`remember`, in the cache beside the trained models,
stamped with the package's code hash so a table of older code is never shown); the recorded runs are
read from ``results/``. :func:`score_claims` turns both into one row per claim and scale: the measured
differences per protein and a verdict worded from their signs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from cdae_lite.io.paths import cache_dir
from cdae_lite.paper.cache import code_hash
from cdae_lite.paper.results import load_result
from cdae_lite.paper.tables import pivot


def _store(profile: str):
    return cache_dir() / "book" / f"tables-{profile}.json"


def remember(chapter: str, tables: dict[str, pd.DataFrame], profile: str) -> None:
    """Keep a chapter's tables (proteins or methods x columns) for the scorecard of ``profile``."""
    path = _store(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = json.loads(path.read_text()) if path.exists() else {}
    if kept.get("code") != code_hash():
        kept = {"code": code_hash()}
    kept[chapter] = {name: t.to_json(orient="split") for name, t in tables.items()}
    path.write_text(json.dumps(kept))


def remembered(profile: str) -> dict[str, dict[str, pd.DataFrame]]:
    """The tables the chapters kept for ``profile`` with this code; {} when none."""
    path = _store(profile)
    if not path.exists():
        return {}
    kept = json.loads(path.read_text())
    if kept.pop("code", None) != code_hash():
        return {}
    from io import StringIO
    return {ch: {n: pd.read_json(StringIO(t), orient="split") for n, t in tables.items()}
            for ch, tables in kept.items()}


def _seed_mean(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Cell-wise mean over seeds, each cell over the seeds that recorded it (the control: seed 0 only)."""
    return pd.concat(frames).groupby(level=0, sort=False).mean()


def recorded_tables(profile: str) -> dict[str, dict[str, pd.DataFrame]]:
    """The recorded runs of ``profile`` as the same tables the chapters keep."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    cdae = load_result("cdae", profile)
    if cdae is not None:
        runs = [r for r in cdae["metrics"]["per_seed"] if r["psnr"]]
        ft = [r for r in runs if r.get("finetuned")]
        out["ch2"] = {"psnr": _seed_mean([pivot(r["psnr"]) for r in runs])}
        if ft:
            out["ch3"] = {"psnr": _seed_mean([pivot(r["psnr"]) for r in ft]),
                          "psnr_he": _seed_mean([pivot(r["psnr_he"]) for r in ft])}
            if "bm3d_tuned" in out["ch3"]["psnr"]:  # BM3D with its factor tuned, on the same images
                out["ch3"]["bm3d"] = out["ch3"]["psnr"][["cdae_ft_same_images", "bm3d_tuned"]]
    base = load_result("baselines", profile)
    if base is not None:
        rows = pd.DataFrame(base["metrics"]["table1"])
        out["ch4"] = {"table1": rows.pivot_table(index="method", columns="protein", values="psnr_mean", sort=False)}
    clus = load_result("clustering", profile)
    if clus is not None:
        rows = pd.DataFrame(clus["metrics"]["table2"])
        out["ch5"] = {"f1": rows.pivot_table(index="method", columns="protein", values="f1", sort=False),
                      "largest": rows.pivot_table(index="method", columns="protein", values="largest_cluster",
                                                  sort=False)}
    return out


@dataclass(frozen=True)
class Claim:
    """A claim of the paper, where the book tests it, and how to measure it from the kept tables.

    ``measure(tables) -> (differences per protein, unit)`` or None when its tables are missing; a
    positive difference means the claim holds for that protein.
    """

    claim: str
    where: str
    measure: Callable


def _get(tables, chapter, name):
    return tables.get(chapter, {}).get(name)


def difference(chapter: str, table: str, a: str, b: str) -> Callable:
    """A measure: column ``a`` minus column ``b`` of a kept table (proteins x methods), in dB."""
    def measure(tables):
        t = _get(tables, chapter, table)
        if t is None or a not in t or b not in t:
            return None
        return (t[a] - t[b]).to_dict(), "dB"
    return measure


def _he(tables):
    t, he = _get(tables, "ch3", "psnr"), _get(tables, "ch3", "psnr_he")
    if t is None or he is None or "cdae_ft" not in he:
        return None
    return (he["cdae_ft"] - t["cdae_ft"]).to_dict(), "dB"


_CDAE = "CDAE (fine-tuned)"


def _vs_bm3d(tables):
    """CDAE minus BM3D with its sigma factor tuned: Table 1 when its BM3D was tuned (it then also has a
    'BM3D (factor 1)' row), else the cascade experiment's BM3D rows, else Table 1's untuned BM3D."""
    t, same = _get(tables, "ch4", "table1"), _get(tables, "ch3", "bm3d")
    tuned = t is not None and "BM3D (factor 1)" in t.index
    if same is not None and not tuned:
        return (same["cdae_ft_same_images"] - same["bm3d_tuned"]).to_dict(), "dB, BM3D tuned"
    if t is None or _CDAE not in t.index or "BM3D" not in t.index:
        return None
    return (t.loc[_CDAE] - t.loc["BM3D"]).to_dict(), "dB, BM3D tuned" if tuned else "dB, BM3D factor 1"


def _vs_all(tables):
    t = _get(tables, "ch4", "table1")
    if t is None or _CDAE not in t.index:
        return None
    others = t.drop(index=[m for m in t.index if m == "raw" or "CDAE" in m or "DAE" in m])
    return (t.loc[_CDAE] - others.max()).to_dict(), "dB over the best other method"


def _clustering(tables):
    t = _get(tables, "ch5", "f1")
    if t is None or "CDAE + k-means" not in t.index or "k-means (raw)" not in t.index:
        return None
    return (t.loc["CDAE + k-means"] - t.loc["k-means (raw)"]).to_dict(), "F1"


def _collapse(tables):
    f1, big = _get(tables, "ch5", "f1"), _get(tables, "ch5", "largest")
    if f1 is None or big is None or "adk" not in f1 or "CDAE + k-means" not in f1.index:
        return None
    others = big["adk"].drop(index=[m for m in big.index if "CDAE" in m])
    # holds when every other method puts most images into one cluster while CDAE does not
    return {"adk": float(min(others.min() - 0.5, 0.5 - big.loc["CDAE + k-means", "adk"]))}, \
        "share margin (other methods' smallest largest-cluster share - 0.5, or 0.5 - CDAE's)"


CLAIMS = [
    Claim("The pre-trained cascade denoises better than a single DAE", "chapter 2.4",
          difference("ch2", "psnr", "cdae", "single")),
    Claim("Fine-tuning on neighbour means improves the cascade", "chapter 3.2", difference("ch3", "psnr", "cdae_ft", "cdae")),
    Claim("After fine-tuning, the cascade beats the single DAE", "chapter 3.2",
          difference("ch3", "psnr", "cdae_ft", "single_ft")),
    Claim("Fine-tuned CDAE beats BM3D", "chapter 4.4", _vs_bm3d),
    Claim("Fine-tuned CDAE beats every other method of Table 1", "chapter 4.4", _vs_all),
    Claim("Histogram equalisation raises CDAE's PSNR", "chapter 3.3", _he),
    Claim("Denoising with CDAE improves clustering (k-means F1)", "chapter 5.2", _clustering),
    Claim("Only CDAE keeps the small featureless protein from collapsing into one cluster (adk for 5wth)",
          "chapter 5.2", _collapse),
]


def word(diffs: dict, unit: str) -> tuple[str, str]:
    """``(measured, verdict)``: the differences per protein, and 'holds', 'fails' or 'mixed (n of m)'."""
    measured = ", ".join(f"{k} {v:+.2f}" if unit != "F1" else f"{k} {v:+.3f}" for k, v in diffs.items())
    up = sum(v > 0 for v in diffs.values())
    verdict = "holds" if up == len(diffs) else "fails" if up == 0 else f"mixed ({up} of {len(diffs)})"
    return f"{measured} ({unit})", verdict


def score_claims(live: dict | None = None, live_label: str = "quick (this build)",
              profiles=("cpu", "full")) -> pd.DataFrame:
    """One row per claim and scale: the measured differences, the verdict and where the book shows it.

    Parameters
    ----------
    live : dict, optional -- the tables this build's chapters kept (:func:`remembered`); left out
        when None or empty.
    live_label : str -- the scale's name for ``live``.
    profiles : recorded profiles to read from ``results/``.

    Returns
    -------
    DataFrame with columns claim, scale, measured, verdict, where; a scale without the tables a claim
    needs says 'not measured at this scale'.
    """
    sources = {live_label: live} if live else {}
    for p in profiles:
        rec = recorded_tables(p)
        if rec:
            sources[f"{p} (recorded)"] = rec
    rows = []
    for c in CLAIMS:
        for scale, tables in sources.items():
            got = c.measure(tables)
            measured, verdict = ("not measured at this scale", "-") if got is None else word(*got)
            rows.append({"claim": c.claim, "scale": scale, "measured": measured, "verdict": verdict, "where": c.where})
    return pd.DataFrame(rows)


def beyond_the_paper(profile: str = "cpu") -> pd.DataFrame:
    """What the book adds, from the recorded files of ``profile``: one row per method and preset.

    Rows: the recorded cascade variants (without output dropout; with better targets) against BM3D
    with its sigma factor tuned, on the same images; the general denoisers' margins over BM3D with its sigma factor tuned on the training protein
    (``general.json``: test proteins and the held-out structure), and ``cdae-lite cluster``'s worst F1
    over the test proteins per SNR, without and with denoising and refinement (``cluster_eval.json``).
    Columns: what, measured, verdict ('holds' when above the reference everywhere).
    """
    rows = []
    for name, label in (("cdae_no_output_dropout", "fine-tuned cascade without dropout before the output"),
                        ("cdae_no_output_dropout_better_targets", "the same, fine-tuned on chapter 3.4's better targets")):
        variant = load_result(name, profile)
        if variant is not None:
            ft = [r for r in variant["metrics"]["per_seed"] if r.get("finetuned")]
            p = _seed_mean([pivot(r["psnr"]) for r in ft]) if ft else None
            if p is not None and {"cdae_ft_same_images", "bm3d_tuned"} <= set(p.columns):
                measured, verdict = word((p["cdae_ft_same_images"] - p["bm3d_tuned"]).to_dict(), "dB over tuned BM3D")
                rows.append({"what": f"{label} beats a tuned BM3D", "measured": measured, "verdict": verdict})
    general = load_result("general", profile)
    if general is not None:
        by: dict[tuple, dict] = {}
        for key, margin in general["metrics"]["margins_db"].items():
            method, protein, preset = (s.strip() for s in key.split("|"))
            name = method.replace("general", "general denoiser", 1) if method.startswith("general") else \
                method.replace("cdae", "general CDAE", 1)
            by.setdefault((name, preset), {})[protein] = margin
        for (method, preset), margins in by.items():
            measured, verdict = word(margins, "dB over tuned BM3D")
            rows.append({"what": f"{method} ({preset} preset) beats a tuned BM3D", "measured": measured,
                         "verdict": verdict})
    loop = load_result("cluster_eval", profile)
    if loop is not None:
        from cdae_lite.paper.cluster_eval import worst_f1
        worst = worst_f1(loop["metrics"]["rows"])
        for snr in sorted({s for _, s in worst}, reverse=True):
            per = {setting: f1 for (setting, s), f1 in worst.items() if s == snr}
            best = max(per, key=per.get)
            rows.append({"what": f"cdae-lite cluster, worst F1 over the test proteins at SNR {snr}",
                         "measured": ", ".join(f"{k} {v:.3f}" for k, v in per.items()),
                         "verdict": f"best: {best}"})
    return pd.DataFrame(rows, columns=["what", "measured", "verdict"])


#: The conclusions that ``benchmarks/quick_scale.py`` compares across scales, worded as claims.
SCALE_CONCLUSIONS = {"pretrained": "pre-trained CDAE beats the single DAE",
                     "ft_gain": "fine-tuning adds more to the cascade than to the single DAE",
                     "ft": "fine-tuned CDAE beats the fine-tuned single DAE",
                     "vs_bm3d": "fine-tuned CDAE beats a tuned BM3D",
                     "clustering": "k-means on CDAE's output beats k-means on the raw images"}


def scale_agreement(rows: list[dict]) -> pd.DataFrame:
    """How well each scale of ``benchmarks/quick_scale.py`` agrees with the recorded run, and its cost.

    ``rows``: the benchmark's rows (one per variant and protein, the recorded run's rows last, their
    ``seconds`` empty). Returns one row per variant, in order: ``seconds``, ``cost`` (relative to the
    first variant, the quick profile), and per conclusion of :data:`SCALE_CONCLUSIONS` the number of
    proteins on which its sign (positive favours the claim) is the recorded run's, then ``total``.
    """
    frame = pd.DataFrame(rows)
    recorded = frame[frame["seconds"] == ""].set_index("protein")
    runs = frame[frame["seconds"] != ""]
    out = []
    for variant, part in runs.groupby("variant", sort=False):
        part = part.set_index("protein")
        agree = {c: int(((part[c] > 0) == (recorded.loc[part.index, c] > 0)).sum()) for c in SCALE_CONCLUSIONS}
        out.append({"variant": variant, "seconds": int(part["seconds"].iloc[0]), **agree,
                    "total": sum(agree.values()), "proteins": len(part)})
    table = pd.DataFrame(out).set_index("variant")
    table.insert(1, "cost", (table["seconds"] / table["seconds"].iloc[0]).round(2))
    return table


def markdown_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (columns as they are, no index), for a chapter's text output."""
    cells = [[str(c) for c in frame.columns]] + [[str(v) for v in row] for row in frame.itertuples(index=False)]
    return "\n".join(["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(frame.columns)]
                     + ["| " + " | ".join(r) + " |" for r in cells[1:]])
