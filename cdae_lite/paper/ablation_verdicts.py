"""Reading the recorded ablation of the general denoiser's recipe: sentences computed from its effects.

:mod:`cdae_lite.paper.general_ablation` trains and scores the rows; this module says, from the
recorded ``effects`` and ``rows``, which changes cost PSNR, which add to it, which stay within the
seeds' spread, and whether the ablation confirms the recipe's choices. Rows whose output collapsed
(:func:`~cdae_lite.metrics.view_fidelity`) keep their numbers and get no verdict.
"""

from __future__ import annotations

import numpy as np

from cdae_lite.paper.general_ablation import RECIPE, SHIPPED, mean_over_test_proteins
from cdae_lite.paper.tables import rounding_tie, tie_sign


def collapsed_methods(rows: list[dict]) -> tuple[list[str], list[str]]:
    """``(on a test protein, on the held-out set only)``: methods whose output collapsed (rows' ``collapsed``).
    Verdicts rest on the test proteins, so the first lose theirs; the second only the held-out column's.

    >>> collapsed_methods([{"protein": "adk", "method": "a", "collapsed": True},
    ...                    {"protein": "apoferritin (held out)", "method": "b", "collapsed": True}])
    (['a'], ['b'])
    """
    test = sorted({r["method"] for r in rows if r.get("collapsed") and "held out" not in r["protein"]})
    return test, sorted({r["method"] for r in rows if r.get("collapsed")} - set(test))


def overall_effect(effects_: list[dict], method: str) -> tuple[float, float, int]:
    """A row's effect averaged over the presets: (mean over seeds, its standard error, seeds), dB.

    Per seed the test-protein effects of the presets are averaged; the standard error is the standard
    deviation of those per-seed means over the square root of their number (0 for one seed).

    >>> e = [{"method": "a", "preset": "paper", "test_proteins_db": 0.5, "test_proteins_db_seeds": [0.4, 0.6]},
    ...      {"method": "a", "preset": "realistic", "test_proteins_db": 0.3, "test_proteins_db_seeds": [0.2, 0.4]}]
    >>> tuple(round(v, 2) for v in overall_effect(e, "a"))
    (0.4, 0.1, 2)
    """
    es = [e for e in effects_ if e["method"] == method]
    if not es:
        raise KeyError(f"no effect recorded for {method!r}")
    seeds = np.mean([e.get("test_proteins_db_seeds", [e["test_proteins_db"]]) for e in es], axis=0)
    se = float(seeds.std(ddof=1) / np.sqrt(seeds.size)) if seeds.size > 1 else 0.0
    return float(seeds.mean()), se, int(seeds.size)


def ablation_verdicts(effects_: list[dict], reference: str = RECIPE, decimals: int = 1,
                      collapsed=(), held_out_collapsed=(), apart=(SHIPPED,)) -> list[str]:
    """Sentences computed from :func:`~cdae_lite.paper.general_ablation.effects` or
    :func:`~cdae_lite.paper.general_ablation.seeded_effects`: each row's effect against
    ``reference`` (mean over the test proteins, per preset, and on the held-out set), then which
    changes cost and which help.

    A difference that rounds to zero at ``decimals`` is called no change. With several seeds each
    effect is given as mean ± standard deviation over seeds, and a change counts as a cost or a help
    only when its mean over the presets is more than twice its standard error (the per-seed means'
    standard deviation over the square root of the number of seeds); otherwise it is within the
    seeds' spread. Rows in ``collapsed`` (methods whose output collapsed: no view fidelity) keep their
    numbers but are counted neither as a cost nor as a help. Rows in ``held_out_collapsed`` (collapsed
    on the held-out set) show no held-out difference, and no row does when ``reference`` is among them
    (every difference is to it). Rows in
    ``apart`` (the shipped model: not a one-factor change) keep their line and are not counted among
    the changes.

    >>> e = [{"method": "a", "preset": "paper", "test_proteins_db": -1.26, "held_out_db": -0.8},
    ...      {"method": "b", "preset": "paper", "test_proteins_db": 0.31, "held_out_db": 0.02}]
    >>> ablation_verdicts(e)[-1]
    'Averaged over the presets, 1 change costs PSNR on the test proteins (a -1.3 dB) and 1 adds to it (b +0.3 dB).'
    >>> ablation_verdicts(e, collapsed=["b"])[-1].split("(a -1.3 dB)")[1]
    '; no verdict on b (a collapsed output).'
    >>> ablation_verdicts(e, held_out_collapsed=["recipe"])[0]
    'a: -1.3 dB (paper preset) on the test proteins.'
    >>> ablation_verdicts(e, held_out_collapsed=["b"], apart=["b"])[1:]
    ['b: +0.3 dB (paper preset) on the test proteins; held-out set not ranked (a collapsed output).', 'Averaged over the presets, 1 change costs PSNR on the test proteins (a -1.3 dB).']
    >>> e = [{"method": "a", "preset": "paper", "test_proteins_db": -0.3, "held_out_db": 0.1,
    ...       "test_proteins_db_std": 0.4, "test_proteins_db_seeds": [0.1, -0.2, -0.8], "n_seeds": 3}]
    >>> v = ablation_verdicts(e)
    >>> v[0]
    'a: -0.3 ± 0.4 dB (paper preset) on the test proteins; held-out set +0.1 dB.'
    >>> v[1].startswith("Averaged over the presets, 1 change is within the spread of 3 training seeds")
    True
    >>> v[1].endswith("(a -0.3 ± 0.3 dB, mean ± standard error).")
    True
    """
    rows: dict = {}
    for e in effects_:
        if e["method"] != reference:
            rows.setdefault(e["method"], []).append(e)
    out = _row_lines(rows, reference, decimals, held_out_collapsed)
    gone = [m for m in rows if m in set(collapsed)]
    n = max(len(es[0].get("test_proteins_db_seeds", [0])) for es in rows.values()) if rows else 1
    summary = _summary(effects_, [m for m in rows if m not in gone and m not in set(apart)], n, decimals)
    void = f"no verdict on {', '.join(gone)} (a collapsed output)" if gone else ""
    if summary:
        out.append(summary + (f"; {void}." if void else "."))
    elif void:
        out.append(void[0].upper() + void[1:] + ".")
    return out


def _row_lines(rows: dict, reference: str, decimals: int, held_out_collapsed) -> list[str]:
    """One sentence per row of :func:`ablation_verdicts`: its effect per preset, then the held-out set's."""
    tie = rounding_tie(decimals)

    def word(v: float, std: float | None = None) -> str:
        if std:
            return f"{v:+.{decimals}f} ± {std:.{decimals}f} dB"
        return "no change" if tie_sign(v, tie) == 0 else f"{v:+.{decimals}f} dB"

    out, void_all = [], reference in set(held_out_collapsed)
    for m, es in rows.items():
        per = ", ".join(f"{word(e['test_proteins_db'], e.get('test_proteins_db_std'))} ({e['preset']} preset)"
                        for e in es)
        void = m in set(held_out_collapsed) and not void_all
        held = "" if void or void_all else ", ".join(word(e["held_out_db"]) for e in es if np.isfinite(e["held_out_db"]))
        out.append(f"{m}: {per} on the test proteins" + (f"; held-out set {held}." if held else
                                                         "; held-out set not ranked (a collapsed output)." if void else "."))
    return out


def _summary(effects_: list[dict], judged: list[str], n: int, decimals: int) -> str:
    """'Averaged over the presets, ...': which of the ``judged`` rows cost PSNR, add to it or stay within
    the spread of ``n`` seeds (:func:`overall_effect`); '' when none is judged."""
    tie = rounding_tie(decimals)
    mean, se = {}, {}
    for m in judged:
        mean[m], se[m], _ = overall_effect(effects_, m)
    cost = sorted(((m, v) for m, v in mean.items() if tie_sign(v, tie) < 0 and v < -2 * se[m]), key=lambda t: t[1])
    gain = sorted(((m, v) for m, v in mean.items() if tie_sign(v, tie) > 0 and v > 2 * se[m]), key=lambda t: -t[1])
    same = [m for m in mean if m not in dict(cost) and m not in dict(gain)]

    def fmt(items):
        return ", ".join(f"{m} {v:+.{decimals}f} dB" for m, v in items)

    parts = []
    if cost:
        parts.append(f"{len(cost)} change{'s' if len(cost) > 1 else ''} cost{'' if len(cost) > 1 else 's'} PSNR on "
                     f"the test proteins ({fmt(cost)})")
    if gain:
        parts.append(f"{len(gain)} add{'' if len(gain) > 1 else 's'} to it ({fmt(gain)})")
    if same and n > 1:
        parts.append(f"{len(same)} change{'s are' if len(same) > 1 else ' is'} within the spread of {n} "
                     "training seeds ("
                     + ", ".join(f"{m} {mean[m]:+.{decimals}f} ± {se[m]:.{decimals}f} dB" for m in same)
                     + ", mean ± standard error)")
    elif same:
        parts.append(f"{len(same)} change{'s' if len(same) > 1 else ''} nothing ({', '.join(same)})")
    if not parts:
        return ""
    return "Averaged over the presets, " + (parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1])


def recipe_check(effects_: list[dict], variant: str, choice: str, collapsed=(), decimals: int = 2) -> str:
    """One sentence: does the ablation confirm a choice of the recipe (``choice``) against the ``variant``
    that undoes it? Confirmed when the variant costs PSNR on the test proteins (mean over presets and
    seeds, :func:`overall_effect`) by more than twice its standard error and at least 0.05 dB,
    contradicted when it adds as much, unsettled otherwise; no verdict when the variant collapsed.

    >>> e = [{"method": "fixed", "preset": "paper", "test_proteins_db": 0.2,
    ...       "test_proteins_db_seeds": [0.1, 0.2, 0.3]}]
    >>> recipe_check(e, "fixed", "Fresh noise").split(", ")[:2]
    ['Fresh noise against fixed: contradicted at this budget', 'fixed adds +0.20 ± 0.06 dB (mean ± standard error']
    >>> recipe_check(e, "fixed", "Fresh noise", collapsed=["fixed"])
    'Fresh noise against fixed: no verdict, the output of fixed collapsed.'
    """
    if variant in set(collapsed):
        return f"{choice} against {variant}: no verdict, the output of {variant} collapsed."
    v, se, n = overall_effect(effects_, variant)
    bar = max(0.05, 2 * se)
    spread = f"{v:+.{decimals}f} ± {se:.{decimals}f} dB (mean ± standard error, {n} seed{'s' if n > 1 else ''})"
    if v <= -bar:
        return f"{choice} against {variant}: confirmed at this budget, {variant} costs {spread}."
    if v >= bar:
        return f"{choice} against {variant}: contradicted at this budget, {variant} adds {spread}."
    return (f"{choice} against {variant}: not settled at this budget, {variant} gives {spread}, "
            f"within {bar:.{decimals}f} dB of no change.")


def mean_margins(margins_db: dict, method: str) -> dict:
    """``{preset: mean over the test proteins of method's PSNR minus the tuned BM3D's}`` (dB), from the
    ``"method | protein | preset"`` keys of a recorded ``margins_db``; the held-out set is left out."""
    parsed = ((key.split(" | "), v) for key, v in margins_db.items())
    return mean_over_test_proteins({(protein, preset): v for (m, protein, preset), v in parsed if m == method})
