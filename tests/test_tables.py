"""Tests of ``cdae_lite.paper.tables``."""

import numpy as np
import pandas as pd
from test_fidelity import _views

from cdae_lite.paper.tables import (best_methods, collapsed_proteins, collapsed_table, denoising_table, psnr_rows,
                                    verdict)


def test_tables_mark_collapsed_outputs_and_never_crown_them():
    rng = np.random.default_rng(4)
    clean, lab = _views(rng)
    est = {"raw": clean + 1.2 * rng.normal(size=clean.shape), "blob": np.tile(clean.mean(0), (len(clean), 1, 1)),
           "smooth": clean + 0.5 * rng.normal(size=clean.shape)}
    rows = psnr_rows(est, clean, "toy", labels=lab)
    table = pd.DataFrame(rows).pivot_table(index="protein", columns="method", values="psnr_mean")
    ct = collapsed_table(rows)
    assert ct.loc["toy", "blob"] and not ct.loc["toy", "smooth"]
    assert table.loc["toy", "blob"] > table.loc["toy", "smooth"]  # PSNR alone would crown the blob
    assert best_methods(table, ct) == {"toy": "smooth"}
    assert collapsed_proteins(ct, "blob", "smooth") == ["toy"] and collapsed_proteins(ct, "smooth") == []
    shown = denoising_table(rows)
    assert shown.loc["toy", ("view accuracy", "blob")].endswith("collapsed")
    assert "collapsed" not in shown.loc["toy", ("view accuracy", "smooth")]
    diffs = (table["blob"] - table["smooth"]).to_dict()
    assert "no verdict" in verdict(diffs, "blob", "smooth", collapsed=collapsed_proteins(ct, "blob", "smooth")).lower()
