"""How far each scale of ``benchmarks/quick_scale.py`` agrees with the recorded run: the scorecard's
measured answer to "is the quick build's disagreement a matter of scale?" (``results/cpu/quick_scale.json``).
"""

from __future__ import annotations

import pandas as pd


#: The conclusions that ``benchmarks/quick_scale.py`` compares across scales, worded as claims.
SCALE_CONCLUSIONS = {"pretrained": "pre-trained CDAE beats the single DAE",
                     "ft_gain": "fine-tuning adds more to the cascade than to the single DAE",
                     "ft": "fine-tuned CDAE beats the fine-tuned single DAE",
                     "vs_bm3d": "fine-tuned CDAE beats a tuned BM3D",
                     "clustering": "k-means on CDAE's output beats k-means on the raw images"}


def scale_agreement(rows: list[dict], timed: bool = True) -> pd.DataFrame:
    """How well each scale of ``benchmarks/quick_scale.py`` agrees with the recorded run, and its cost.

    ``rows``: the benchmark's rows (one per variant and protein, the recorded run's rows last, their
    ``seconds`` empty). Returns one row per variant, in order: ``seconds``, ``cost`` (relative to the
    first variant, the quick profile; NaN unless ``timed``, i.e. when the runs shared the machine with
    other work), and per conclusion of :data:`SCALE_CONCLUSIONS` the number of proteins on which its
    sign (positive favours the claim) is the recorded run's, then ``total`` and ``not counted``: the
    signs left out because they rest on an output that collapsed in that run (the benchmark's
    ``collapsed`` column; :data:`~cdae_lite.paper.results.SCALE_INPUTS`).
    """
    from cdae_lite.paper.results import SCALE_INPUTS

    frame = pd.DataFrame(rows)
    recorded = frame[frame["seconds"] == ""].set_index("protein")
    runs = frame[frame["seconds"] != ""]
    out = []
    for variant, part in runs.groupby("variant", sort=False):
        part = part.set_index("protein")
        gone = {c: [q for q in part.index if set(str(part.loc[q].get("collapsed", "")).split(", "))
                    & set(SCALE_INPUTS[c])] for c in SCALE_CONCLUSIONS}
        agree = {c: int(sum((part.loc[q, c] > 0) == (recorded.loc[q, c] > 0) for q in part.index if q not in gone[c]))
                 for c in SCALE_CONCLUSIONS}
        out.append({"variant": variant, "seconds": int(part["seconds"].iloc[0]), **agree,
                    "total": sum(agree.values()), "not counted": sum(len(g) for g in gone.values()),
                    "proteins": len(part)})
    table = pd.DataFrame(out).set_index("variant")
    table.insert(1, "cost", (table["seconds"] / table["seconds"].iloc[0]).round(2) if timed else float("nan"))
    return table


def scale_verdicts(agree: pd.DataFrame) -> list[str]:
    """Sentences computed from :func:`scale_agreement`'s table: per larger scale, the conclusions on which it
    agrees with the recorded run on more or on fewer proteins than the first row (the quick profile), and
    whether that makes the scale a measured reason for the quick verdicts' disagreements."""
    quick, out, worse = agree.index[0], [], []
    for v in agree.index[1:]:
        d = {name: int(agree.loc[v, c]) - int(agree.loc[quick, c]) for c, name in SCALE_CONCLUSIONS.items()}
        more, fewer = [c for c in d if d[c] > 0], [c for c in d if d[c] < 0]
        skipped = {r: int(agree.loc[r, "not counted"]) for r in (quick, v)
                   if "not counted" in agree and agree.loc[r, "not counted"] > 0}
        out.append(f"{v} agrees with the recorded run on more proteins than {quick} for {len(more)} of {len(d)} "
                   f"conclusions{' (' + '; '.join(more) + ')' if more else ''}, on fewer for {len(fewer)}"
                   f"{' (' + '; '.join(fewer) + ')' if fewer else ''}"
                   + (" (signs not counted, resting on a collapsed output: "
                      + "; ".join(f"{r}: {n}" for r, n in skipped.items()) + ")" if skipped else "") + ".")
        worse += [v] if fewer else []
    if worse:
        out.append(f"On these counts the scale is not a measured reason for every disagreement: {' and '.join(worse)} "
                   f"agree{'s' if len(worse) == 1 else ''} less often than {quick} on some conclusions. The counts are "
                   "of the signs this benchmark counted; where the recorded run's own outputs collapsed, its signs are "
                   "no firmer than the quick profile's.")
    elif len(agree) > 1:
        out.append(f"No larger scale agrees less often than {quick} on any conclusion.")
    return out


def scale_settings_note(result: dict, exp) -> str:
    """Whether the first scale of ``benchmarks/quick_scale.py`` ran with this build's quick epochs.

    ``result``: ``results/cpu/quick_scale.json``; ``exp``: this build's
    :class:`~cdae_lite.paper.configs.CDAEExperiment`. Records made before the benchmark wrote its
    epochs (``pretrain_epochs``, ``finetune_epochs`` in each row) name only the commit they ran at.

    >>> rows = [{"variant": "32 px, 100/view", "pretrain_epochs": 8, "finetune_epochs": 10}]
    >>> from cdae_lite.paper import CDAEExperiment
    >>> scale_settings_note({"rows": rows, "commit": "0123abcd"}, CDAEExperiment.quick())
    "The benchmark's epochs: pre-training 8, fine-tuning 10 per block; this build's: 8 and 5, so its 32 px, 100/view row did not run this build's epochs."
    """
    first, ours = result["rows"][0], (exp.pretrain.epochs, exp.finetune.train.epochs)
    if "finetune_epochs" not in first:
        return (f"The benchmark ran the quick profile of commit {result['commit'][:8]}; its record names no epochs, so its "
                f"{first['variant']} row is that commit's quick profile, which need not be this build's.")
    theirs = (first["pretrain_epochs"], first["finetune_epochs"])
    return (f"The benchmark's epochs: pre-training {theirs[0]}, fine-tuning {theirs[1]} per block; this build's: "
            f"{ours[0]} and {ours[1]}" + (", the same." if theirs == ours else
                                          f", so its {first['variant']} row did not run this build's epochs."))
