"""The paper's claims, checked at every scale we ran: the book's scorecard, computed, never typed.

Each chapter keeps the tables it computed (:func:`remember`, in the cache beside the trained models,
stamped with the package's code hash so a table of older code is never shown); the recorded runs are
read from ``results/``. :func:`score_claims` turns both into one row per claim and scale: the measured
differences per protein and a verdict worded from their signs, none on a protein where a compared output
collapsed (:func:`~cdae_lite.metrics.view_fidelity`), and a note where a scale carries no view fidelity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from cdae_lite.io.paths import cache_dir
from cdae_lite.paper.cache import code_hash
from cdae_lite.paper.results import load_result
from cdae_lite.paper.tables import collapsed_proteins, collapsed_table, pivot, rounding_tie, tie_sign

#: Written after a verdict whose scale kept no view fidelity: a collapsed output is not ruled out there.
NO_FIDELITY = "no view-fidelity data"


def _store(profile: str):
    """The folder of ``profile``'s kept tables: one file per chapter, so chapters run side by side never
    overwrite each other's tables."""
    return cache_dir() / "book" / f"tables-{profile}"


def remember(chapter: str, tables: dict[str, pd.DataFrame], profile: str) -> None:
    """Keep a chapter's tables (proteins or methods x columns) for the scorecard of ``profile``."""
    from cdae_lite.io.files import atomic_write

    kept = {"code": code_hash(), "tables": {name: t.to_json(orient="split") for name, t in tables.items()}}
    with atomic_write(_store(profile) / f"{chapter}.json", overwrite=True, make_parents=True) as tmp:
        with open(tmp, "w") as f:
            json.dump(kept, f)


def remembered(profile: str) -> dict[str, dict[str, pd.DataFrame]]:
    """The tables the chapters kept for ``profile`` with this code, by chapter name; {} when none."""
    from io import StringIO

    out = {}
    for path in sorted(_store(profile).glob("*.json")):
        kept = json.loads(path.read_text())
        if kept.get("code") == code_hash():
            out[path.stem] = {n: pd.read_json(StringIO(t), orient="split") for n, t in kept["tables"].items()}
    return out


def seed_mean(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Cell-wise mean over seeds, each cell over the seeds that recorded it (the control: seed 0 only)."""
    return pd.concat(frames).groupby(level=0, sort=False).mean()


def recorded_flags(row_lists: list[list[dict]]) -> pd.DataFrame | None:
    """Proteins x methods: collapsed in any of the recorded row lists; None when a row has no view fidelity."""
    rows = [r for part in row_lists for r in part]
    if not rows or not all("collapsed" in r for r in rows):
        return None
    return pd.concat([collapsed_table(part) for part in row_lists if part]).groupby(level=0, sort=False).max()


def recorded_tables(profile: str) -> dict[str, dict[str, pd.DataFrame]]:
    """The recorded runs of ``profile`` as the same tables the chapters keep (with ``collapsed``, proteins x
    methods, only when the recording carries view fidelity)."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    cdae = load_result("cdae", profile)
    if cdae is not None:
        runs = [r for r in cdae["metrics"]["per_seed"] if r["psnr"]]
        ft = [r for r in runs if r.get("finetuned")]
        out["ch2"] = {"psnr": seed_mean([pivot(r["psnr"]) for r in runs])}
        if ft:
            out["ch3"] = {"psnr": seed_mean([pivot(r["psnr"]) for r in ft]),
                          "psnr_he": seed_mean([pivot(r["psnr_he"]) for r in ft])}
            if "bm3d_tuned" in out["ch3"]["psnr"]:  # BM3D with its factor tuned, on the same images
                out["ch3"]["bm3d"] = out["ch3"]["psnr"][["cdae_ft_same_images", "bm3d_tuned"]]
        for chapter, part in (("ch2", runs), ("ch3", ft)):
            if chapter in out and (flags := recorded_flags([r["psnr"] for r in part])) is not None:
                out[chapter]["collapsed"] = flags
    base = load_result("baselines", profile)
    if base is not None:
        rows = pd.DataFrame(base["metrics"]["table1"])
        out["ch4"] = {"table1": rows.pivot_table(index="method", columns="protein", values="psnr_mean", sort=False)}
        if (flags := recorded_flags([base["metrics"]["table1"]])) is not None:
            out["ch4"]["collapsed"] = flags
    clus = load_result("clustering", profile)
    if clus is not None:
        rows = pd.DataFrame(clus["metrics"]["table2"])
        out["ch5"] = {"f1": rows.pivot_table(index="method", columns="protein", values="f1", sort=False),
                      "largest": rows.pivot_table(index="method", columns="protein", values="largest_cluster",
                                                  sort=False)}
        if vf := clus["metrics"].get("view_fidelity"):  # the fine-tuned CDAE's denoised images, per protein
            out["ch5"]["collapsed"] = pd.DataFrame({"CDAE + k-means": {p: v["collapsed"] for p, v in vf.items()}})
    return out


@dataclass(frozen=True)
class Claim:
    """A claim of the paper, where the book tests it, and how to measure it from the kept tables.

    ``measure(tables) -> (differences per protein, unit, collapsed)`` or None when its tables are
    missing; a positive difference favours the claim. ``collapsed``: the proteins where a compared output
    collapsed (no verdict there), None when the tables carry no view fidelity.
    """

    claim: str
    where: str
    measure: Callable


def _get(tables, chapter, name):
    return tables.get(chapter, {}).get(name)


def _flag_table(tables, chapter: str, methods) -> pd.DataFrame | None:
    """The chapter's kept ``collapsed`` table (proteins x methods, bools) restricted to ``methods``; None
    when the chapter kept none or it lacks one of them (no view fidelity for that method)."""
    c = _get(tables, chapter, "collapsed")
    if c is None:
        return None
    return c[list(methods)].astype(bool) if set(methods) <= set(c.columns) else None


def _flags(tables, chapter: str, *methods: str) -> list[str] | None:
    """Proteins on which any of ``methods`` collapsed in ``chapter``; None without view fidelity."""
    flags = _flag_table(tables, chapter, methods)
    return None if flags is None else collapsed_proteins(flags, *methods)


def difference(chapter: str, table: str, a: str, b: str) -> Callable:
    """A measure: column ``a`` minus column ``b`` of a kept table (proteins x methods), in dB, with the
    proteins on which either output collapsed."""
    def measure(tables):
        t = _get(tables, chapter, table)
        if t is None or a not in t or b not in t:
            return None
        return (t[a] - t[b]).to_dict(), "dB", _flags(tables, chapter, a, b)
    return measure


def _he(tables):
    t, he = _get(tables, "ch3", "psnr"), _get(tables, "ch3", "psnr_he")
    if t is None or he is None or "cdae_ft" not in he:
        return None
    return (he["cdae_ft"] - t["cdae_ft"]).to_dict(), "dB", _flags(tables, "ch3", "cdae_ft")


_CDAE = "CDAE (fine-tuned)"


def _vs_bm3d(tables):
    """CDAE minus BM3D with its sigma factor tuned: Table 1 when its BM3D was tuned (it then also has a
    'BM3D (factor 1)' row), else the cascade experiment's BM3D rows, else Table 1's untuned BM3D."""
    t, same = _get(tables, "ch4", "table1"), _get(tables, "ch3", "bm3d")
    tuned = t is not None and "BM3D (factor 1)" in t.index
    if same is not None and not tuned:
        return ((same["cdae_ft_same_images"] - same["bm3d_tuned"]).to_dict(), "dB, BM3D tuned",
                _flags(tables, "ch3", "cdae_ft_same_images", "bm3d_tuned"))
    if t is None or _CDAE not in t.index or "BM3D" not in t.index:
        return None
    return ((t.loc[_CDAE] - t.loc["BM3D"]).to_dict(), "dB, BM3D tuned" if tuned else "dB, BM3D factor 1",
            _flags(tables, "ch4", _CDAE, "BM3D"))


def _vs_all(tables):
    """CDAE minus the best other method of Table 1 whose output did not collapse, per protein. The
    paper's own networks (the DAEs: single, pre-trained and fine-tuned) are its subject, not its
    competitors, so they are left out, and the unit says so."""
    t, unit = _get(tables, "ch4", "table1"), "dB over the best other method that is not a DAE"
    if t is None or _CDAE not in t.index:
        return None
    others = t.drop(index=[m for m in t.index if m == "raw" or "CDAE" in m or "DAE" in m])
    flags = _flag_table(tables, "ch4", [_CDAE, *others.index])
    if flags is None:
        return (t.loc[_CDAE] - others.max()).to_dict(), unit, None
    flags = flags.reindex(t.columns).fillna(False).astype(bool)  # proteins x methods
    best = others.mask(flags[list(others.index)].T).max()  # a collapsed output is never the best other
    gone = [p for p in t.columns if flags.loc[p, _CDAE] or pd.isna(best[p])]
    return (t.loc[_CDAE] - best.fillna(others.max())).to_dict(), unit + " that did not collapse", gone


def _clustering(tables):
    t = _get(tables, "ch5", "f1")
    if t is None or "CDAE + k-means" not in t.index or "k-means (raw)" not in t.index:
        return None
    # no verdict where CDAE's denoised views collapsed (chapter 5.2's view fidelity), as for every claim
    flags = _flags(tables, "ch5", "CDAE + k-means")  # k-means on the raw images cannot collapse
    return (t.loc["CDAE + k-means"] - t.loc["k-means (raw)"]).to_dict(), "F1", flags


def _collapse(tables):
    f1, big = _get(tables, "ch5", "f1"), _get(tables, "ch5", "largest")
    if f1 is None or big is None or "adk" not in f1 or "CDAE + k-means" not in f1.index:
        return None
    others = big["adk"].drop(index=[m for m in big.index if "CDAE" in m])
    # holds when every other method puts most images into one cluster while CDAE does not; no verdict where
    # CDAE's denoised views collapsed (chapter 5.2), as for every claim
    flags = _flags(tables, "ch5", "CDAE + k-means")
    return {"adk": float(min(others.min() - 0.5, 0.5 - big.loc["CDAE + k-means", "adk"]))}, \
        "share margin (other methods' smallest largest-cluster share - 0.5, or 0.5 - CDAE's)", \
        None if flags is None else [p for p in flags if p == "adk"]


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


def word(diffs: dict, unit: str, collapsed=()) -> tuple[str, str]:
    """``(measured, verdict)``: the differences per protein, and 'holds', 'fails' or 'mixed (n of m)'.

    Proteins in ``collapsed`` are marked so and get no verdict: a claim holds only when it is favoured
    on every protein and no output collapsed, and fails only when it is favoured on none and no output
    collapsed ('collapsed (no verdict)' when every protein collapsed). Where some collapsed, the others
    say 'favoured where judged', 'against where judged' or 'tied where judged' when they all agree, else 'mixed';
    '(n of m)' counts the proteins that favour the claim among the m judged. A difference that
    rounds to zero as the chapters' verdicts round (below 0.005 F1, 0.05 dB) does not favour the claim.
    ``collapsed=None`` means the tables carry no view fidelity: the verdict says so (:data:`NO_FIDELITY`).

    >>> word({"adk": 1.0, "apo": 2.0}, "dB", collapsed=["apo"])
    ('adk +1.00, apo +2.00 collapsed (dB)', 'favoured where judged (1 of 1); no verdict on apo (collapsed)')
    >>> word({"adk": -1.0, "apo": 2.0}, "dB", collapsed=["apo"])[1]
    'against where judged (0 of 1); no verdict on apo (collapsed)'
    >>> word({"adk": 1.0}, "dB", collapsed=None)[1]
    'holds (no view-fidelity data)'
    >>> word({"adk": 1.0, "apo": 0.04}, "dB")[1]
    'mixed (1 of 2)'
    """
    gone = [k for k in diffs if k in set(collapsed or ())]
    fmt = "{:+.3f}" if unit == "F1" else "{:+.2f}"
    measured = ", ".join(f"{k} {fmt.format(v)}" + (" collapsed" if k in gone else "") for k, v in diffs.items())
    kept = {k: v for k, v in diffs.items() if k not in gone}
    tie = rounding_tie(1 if "dB" in unit and not unit.startswith("F1") else 2)  # F1_TIE for F1: rounds to zero
    up = sum(tie_sign(v, tie) > 0 for v in kept.values())  # a tie does not favour the claim
    down = sum(tie_sign(v, tie) < 0 for v in kept.values())
    verdict = ("collapsed (no verdict)" if not kept else "holds" if up == len(diffs) else "fails" if up == 0 and not gone
               else f"favoured where judged ({up} of {len(kept)})" if gone and up == len(kept)
               else f"against where judged ({up} of {len(kept)})" if gone and down == len(kept)
               else f"tied where judged ({up} of {len(kept)})" if gone and up == down == 0
               else f"mixed ({up} of {len(kept)})")  # a collapsed protein keeps a claim from holding and from failing
    verdict += (f"; no verdict on {', '.join(gone)} (collapsed)" if gone and kept else "") + \
        (f" ({NO_FIDELITY})" if collapsed is None else "")
    return f"{measured} ({unit})", verdict


def as_shown(tables: dict[str, dict[str, pd.DataFrame]]) -> dict[str, dict[str, pd.DataFrame]]:
    """The kept tables rounded as the chapters show them (F1 to 3 decimals, the rest to 2; collapse
    flags untouched), so that every difference the scorecard prints is one of numbers the book shows.

    >>> as_shown({"ch5": {"f1": pd.DataFrame({"adk": [0.96251]})}})["ch5"]["f1"].iloc[0, 0]
    np.float64(0.963)
    """
    return {ch: {name: t if name == "collapsed" else t.round(3 if name == "f1" else 2) for name, t in kept.items()}
            for ch, kept in tables.items()}


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
    needs says 'not measured at this scale'. Verdicts follow :func:`word`: no verdict on a protein
    where a compared output collapsed, and a note where the scale carries no view fidelity.
    """
    sources = {live_label: live} if live else {}
    sources.update({f"{p} (recorded)": rec for p in profiles if (rec := recorded_tables(p))})
    rows = []
    for c in CLAIMS:
        for scale, tables in sources.items():
            got = c.measure(as_shown(tables))
            measured, verdict = ("not measured at this scale", "-") if got is None else word(*got)
            rows.append({"claim": c.claim, "scale": scale, "measured": measured, "verdict": verdict, "where": c.where})
    return pd.DataFrame(rows)


def verdict_summary(card: pd.DataFrame) -> list[str]:
    """Sentences on :func:`score_claims`'s table: per scale, how many claims hold, fail, are mixed, have
    no verdict (collapsed) or were not measured, and which verdicts rest on PSNR alone; then the claims
    whose verdict differs between scales (among those with a verdict at every scale), and those with a
    verdict at one scale but none at another because an output collapsed there."""
    out, first = [], card["verdict"].str.extract(r"^([^\s;(]+)", expand=False)  # 'fails; no verdict on ...': fails
    for scale, part in card.groupby("scale", sort=False):
        n = first[part.index].value_counts()
        judged = {w: n.get(w, 0) for w in ("favoured", "against", "tied")}
        part_judged = (f"{judged['favoured']} are favoured, {judged['against']} contradicted and {judged['tied']} tied on "
                       "every protein where judged (the others collapsed), " if sum(judged.values()) else "")
        out.append(f"{scale}: {n.get('holds', 0)} of {len(part)} claims hold, {n.get('fails', 0)} fail, {part_judged}"
                   f"{n.get('mixed', 0)} are mixed, {n.get('collapsed', 0)} have no verdict (a collapsed "
                   f"output), {n.get('-', 0)} not measured.")
        if blind := int(part["verdict"].str.contains(NO_FIDELITY, regex=False).sum()):
            out.append(f"{scale}: {blind} of these verdicts rest on PSNR alone: its tables carry no view "
                       "fidelity, so a collapsed output is not ruled out there"
                       + (" (re-record the run to add it)." if "recorded" in scale else "."))
    scales = list(dict.fromkeys(card["scale"]))
    if len(scales) > 1:  # first words compared per claim
        verdicts = [(c, set(v)) for c, v in first.groupby(card["claim"], sort=False)]
        differ = [c for c, v in verdicts if not {"-", "collapsed"} & v and len(v) > 1]
        void = [c for c, v in verdicts if "collapsed" in v and v - {"-", "collapsed"}]
        out.append(f"Claims whose verdict differs between {' and '.join(scales)}: "
                   + ("; ".join(differ) if differ else "none") + ".")
        out.append("Claims with a verdict at one scale and none at another (a collapsed output there): "
                   + ("; ".join(void) if void else "none") + ".")
    return out
