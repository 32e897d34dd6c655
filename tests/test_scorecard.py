import json

import pandas as pd

from cdae_lite.paper import beyond_paper as bp
from cdae_lite.paper import scorecard as sc


def psnr_table(single, cdae):
    return pd.DataFrame({"single": single, "cdae": cdae}, index=["proteasome", "cxcr4", "adk"])


PROTEINS = ["proteasome", "cxcr4", "adk"]


def flags(**collapsed):
    """A proteins x methods table of bools: ``method=[proteins where it collapsed]``."""
    return pd.DataFrame({m: [p in ps for p in PROTEINS] for m, ps in collapsed.items()}, index=PROTEINS)


def test_verdicts_are_worded_from_the_signs():
    assert sc.word({"a": 1.0, "b": 0.5}, "dB")[1] == "holds"
    assert sc.word({"a": -1.0, "b": 0.0}, "dB")[1] == "fails"
    measured, verdict = sc.word({"a": 1.234, "b": -0.5, "c": 2.0}, "dB")
    assert verdict == "mixed (2 of 3)" and measured == "a +1.23, b -0.50, c +2.00 (dB)"


def test_a_collapsed_output_gets_no_verdict_and_no_data_is_said():
    measured, verdict = sc.word({"a": 1.0, "b": 3.0}, "dB", collapsed=["b"])
    assert measured == "a +1.00, b +3.00 collapsed (dB)"
    assert verdict == "favoured where judged (1 of 1); no verdict on b (collapsed)"  # favoured everywhere, yet no "holds"
    assert sc.word({"a": 1.0}, "dB", collapsed=["a"])[1] == "collapsed (no verdict)"
    assert sc.word({"a": 0.02, "b": 2.0}, "dB", collapsed=["b"])[1] == "tied where judged (0 of 1); no verdict on b (collapsed)"
    # symmetric: a collapsed protein keeps a claim from failing as it keeps it from holding
    assert sc.word({"a": -1.0, "b": 2.0}, "dB", collapsed=["b"])[1] == "against where judged (0 of 1); no verdict on b (collapsed)"
    assert sc.word({"a": 1.0}, "dB", collapsed=None)[1] == f"holds ({sc.NO_FIDELITY})"
    assert sc.word({"a": 1.0}, "dB", collapsed=[])[1] == "holds"


def test_live_tables_round_trip_and_are_forgotten_when_the_code_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("CDAE_CACHE", str(tmp_path))
    sc.remember("ch2", {"psnr": psnr_table([20, 21, 22], [21, 20, 23]), "collapsed": flags(single=[], cdae=[])},
                "quick")
    kept = sc.remembered("quick")
    assert kept["ch2"]["psnr"].loc["cxcr4", "cdae"] == 20
    assert not kept["ch2"]["collapsed"].to_numpy().any()
    card = sc.score_claims(kept, profiles=())
    row = card[card["claim"].str.startswith("The pre-trained cascade")].iloc[0]
    assert row["verdict"] == "mixed (2 of 3)" and "cxcr4 -1.00" in row["measured"]
    assert (card[card["claim"] != row["claim"]]["verdict"] == "-").all()  # other chapters not kept
    sc.remember("ch4", {"table1": psnr_table([1, 2, 3], [1, 2, 3])}, "quick")  # a second chapter keeps the first's
    assert set(sc.remembered("quick")) == {"ch2", "ch4"}
    for path in (tmp_path / "book" / "tables-quick").glob("*.json"):
        stale = json.loads(path.read_text()) | {"code": "older"}
        path.write_text(json.dumps(stale))
    assert sc.remembered("quick") == {}


def test_a_collapsed_method_that_would_have_won_cannot_make_a_claim_hold(tmp_path, monkeypatch):
    monkeypatch.setenv("CDAE_CACHE", str(tmp_path))
    # the cascade is above the single DAE on every protein, but collapsed on cxcr4
    sc.remember("ch2", {"psnr": psnr_table([20, 20, 20], [21, 25, 21]),
                        "collapsed": flags(single=[], cdae=["cxcr4"])}, "quick")
    # Table 1 (methods x proteins): CDAE is above BM3D everywhere, but collapsed everywhere; Wiener would
    # be the best other method on adk, but its output collapsed there: the best other is BM3D
    table1 = pd.DataFrame({p: {"raw": 5.0, "BM3D": 20.0, "Wiener": 30.0 if p == "adk" else 10.0,
                               "CDAE (fine-tuned)": 22.0} for p in PROTEINS})
    sc.remember("ch4", {"table1": table1,
                        "collapsed": flags(**{"CDAE (fine-tuned)": PROTEINS, "BM3D": [], "Wiener": ["adk"]})},
                "quick")
    card = sc.score_claims(sc.remembered("quick"), profiles=()).set_index("claim")
    row = card.loc["The pre-trained cascade denoises better than a single DAE"]
    assert row["verdict"] == "favoured where judged (2 of 2); no verdict on cxcr4 (collapsed)"
    assert "cxcr4 +5.00 collapsed" in row["measured"]
    assert card.loc["Fine-tuned CDAE beats BM3D", "verdict"] == "collapsed (no verdict)"
    every = card.loc["Fine-tuned CDAE beats every other method of Table 1"]
    assert every["verdict"] == "collapsed (no verdict)"
    assert "adk +2.00 collapsed" in every["measured"]  # against BM3D, not the collapsed Wiener (-8.00)
    assert not card["verdict"].str.startswith("holds").any()
    # the same tables without the collapse flags would have made both claims hold
    sc.remember("ch2", {"psnr": psnr_table([20, 20, 20], [21, 25, 21])}, "quick")
    blind = sc.score_claims(sc.remembered("quick"), profiles=()).set_index("claim")
    assert blind.loc["The pre-trained cascade denoises better than a single DAE", "verdict"] == \
        f"holds ({sc.NO_FIDELITY})"


def write_recorded(root, fidelity: bool):
    rows = [{"protein": p, "method": m, "psnr_mean": v, "n": 10, "he": False}
            for p, vals in {"adk": (20, 25, 22, 26)}.items()
            for m, v in zip(("single", "single_ft", "cdae", "cdae_ft"), vals)]
    he = [dict(r, psnr_mean=r["psnr_mean"] - 10, he=True) for r in rows]
    table1 = [{"protein": "adk", "method": m, "psnr_mean": v} for m, v in
              (("raw", 5), ("BM3D", 27), ("Wiener", 24), ("CDAE (fine-tuned)", 26))]
    if fidelity:  # a newer recording: the cascade's output collapsed, nothing else did
        rows = [dict(r, collapsed=r["method"] == "cdae") for r in rows]
        table1 = [dict(r, collapsed=False) for r in table1]
    (root / "cpu").mkdir(exist_ok=True)
    (root / "cpu" / "cdae.json").write_text(json.dumps(
        {"metrics": {"per_seed": [{"psnr": rows, "psnr_he": he, "finetuned": True}]}}))
    (root / "cpu" / "baselines.json").write_text(json.dumps({"metrics": {"table1": table1}}))


def test_recorded_results_are_read_per_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("CDAE_RESULTS", str(tmp_path))
    write_recorded(tmp_path, fidelity=False)
    card = sc.score_claims(None, profiles=("cpu", "full")).set_index("claim")
    assert set(card["scale"]) == {"cpu (recorded)"}  # no full-profile files: no full rows
    # recordings made before the view-fidelity measure: the verdict says it rests on PSNR alone
    assert card.loc["The pre-trained cascade denoises better than a single DAE", "verdict"] == \
        f"holds ({sc.NO_FIDELITY})"
    assert card.loc["After fine-tuning, the cascade beats the single DAE", "measured"] == "adk +1.00 (dB)"
    assert card.loc["Fine-tuned CDAE beats BM3D", "verdict"] == f"fails ({sc.NO_FIDELITY})"
    assert card.loc["Fine-tuned CDAE beats every other method of Table 1", "measured"].startswith("adk -1.00")
    assert card.loc["Histogram equalisation raises CDAE's PSNR", "measured"] == "adk -10.00 (dB)"
    assert card.filter(like="clustering", axis=0)["measured"].iloc[0] == "not measured at this scale"
    write_recorded(tmp_path, fidelity=True)
    card = sc.score_claims(None, profiles=("cpu",)).set_index("claim")
    assert card.loc["The pre-trained cascade denoises better than a single DAE", "verdict"] == \
        "collapsed (no verdict)"
    assert card.loc["After fine-tuning, the cascade beats the single DAE", "verdict"] == "holds"
    assert card.loc["Fine-tuned CDAE beats BM3D", "verdict"] == "fails"


def test_the_summary_counts_verdicts_and_names_the_scales_without_view_fidelity():
    card = pd.DataFrame({"claim": ["x", "y", "x", "y"], "scale": ["quick", "quick", "cpu (recorded)", "cpu (recorded)"],
                         "verdict": ["holds", "collapsed (no verdict)", f"fails ({sc.NO_FIDELITY})",
                                     f"fails ({sc.NO_FIDELITY})"]})
    lines = sc.verdict_summary(card)
    assert lines[0] == ("quick: 1 of 2 claims hold, 0 fail, 0 are mixed, 1 have no verdict (a collapsed output), "
                        "0 not measured.")
    assert lines[2].startswith("cpu (recorded): 2 of these verdicts rest on PSNR alone")
    # y has no verdict in the quick build: not counted as differing, but named as decided at one scale only
    assert len(lines) == 5 and lines[3] == "Claims whose verdict differs between quick and cpu (recorded): x."
    assert lines[4] == ("Claims with a verdict at one scale and none at another (a collapsed output there): y.")
    partial = card.assign(verdict=["fails; no verdict on adk (collapsed)", "holds", "fails", "mixed (1 of 2)"])
    assert sc.verdict_summary(partial)[0].startswith("quick: 1 of 2 claims hold, 1 fail,")  # 'fails;' is a fail
    judged = card.assign(verdict=["favoured where judged (1 of 1); no verdict on a, b (collapsed)",
                                  "against where judged (0 of 2); no verdict on a (collapsed)", "holds", "holds"])
    assert sc.verdict_summary(judged)[0] == (
        "quick: 0 of 2 claims hold, 0 fail, 1 are favoured, 1 contradicted and 0 tied on every protein where judged (the "
        "others collapsed), 0 are mixed, 0 have no verdict (a collapsed output), 0 not measured.")
    card.loc[1, "verdict"] = "holds"  # now y is decided at both scales, differently
    assert sc.verdict_summary(card)[3:] == [
        "Claims whose verdict differs between quick and cpu (recorded): x; y.",
        "Claims with a verdict at one scale and none at another (a collapsed output there): none."]


def test_beyond_the_paper_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("CDAE_RESULTS", str(tmp_path))
    (tmp_path / "cpu").mkdir()
    margins = {"general | adk | paper": 1.5, "general | apo | paper": -0.5, "cdae | adk | paper": -2.0,
               "cdae | apo | paper": -1.0}
    (tmp_path / "cpu" / "general.json").write_text(json.dumps({"metrics": {"margins_db": margins}}))
    extra = bp.beyond_the_paper("cpu").set_index("what")
    assert extra.loc["general denoiser (paper preset) beats a tuned BM3D", "verdict"] == \
        f"mixed (1 of 2) ({sc.NO_FIDELITY})"
    assert extra.loc["general CDAE (paper preset) beats a tuned BM3D", "verdict"] == f"fails ({sc.NO_FIDELITY})"
    # with view fidelity in the rows: the general denoiser collapsed on apo, BM3D nowhere
    rows = [{"protein": p, "preset": "paper", "method": m, "collapsed": m == "general" and p == "apo"}
            for p in ("adk", "apo") for m in ("general", "cdae", "BM3D (tuned)")]
    margins["general | apo | paper"] = 3.0  # it would now be above BM3D everywhere
    (tmp_path / "cpu" / "general.json").write_text(json.dumps({"metrics": {"margins_db": margins, "rows": rows}}))
    extra = bp.beyond_the_paper("cpu").set_index("what")
    assert extra.loc["general denoiser (paper preset) beats a tuned BM3D", "verdict"] == \
        "favoured where judged (1 of 1); no verdict on apo (collapsed)"
    assert extra.loc["general CDAE (paper preset) beats a tuned BM3D", "verdict"] == "fails"


def test_seed_differences_pair_seeds_and_give_the_spread():
    from cdae_lite.paper.results import seed_differences

    def rec(values):  # seed -> PSNR of "cdae" on adk
        return {"metrics": {"per_seed": [{"seed": s, "psnr": [{"protein": "adk", "method": "cdae", "psnr_mean": v}]}
                                         for s, v in values.items()]}}

    d = seed_differences(rec({0: 21.0, 1: 22.0, 2: 20.0}), rec({0: 20.0, 1: 20.0, 5: 0.0}), "cdae")
    assert d.loc["adk", "seeds"] == 2 and d.loc["adk", "mean"] == 1.5  # seeds 0 and 1 only
    assert abs(d.loc["adk", "std"] - 0.7071) < 1e-3
    assert seed_differences(rec({0: 1.0}), rec({0: 1.0}), "cdae_ft").empty


def test_beyond_the_paper_names_no_best_clustering_on_a_tie(tmp_path, monkeypatch):
    monkeypatch.setenv("CDAE_RESULTS", str(tmp_path))
    (tmp_path / "cpu").mkdir()
    rows = [{"protein": p, "snr": snr, "setting": s, "f1": f1} for p, snr, s, f1 in (
        ("adk", 0.1, "raw", 0.9), ("adk", 0.1, "denoised", 0.9), ("cxcr4", 0.1, "raw", 1.0),
        ("adk", 0.02, "raw", 0.8), ("adk", 0.02, "denoised", 0.85))]
    (tmp_path / "cpu" / "cluster_eval.json").write_text(json.dumps({"metrics": {"rows": rows}}))
    verdicts = bp.beyond_the_paper("cpu").set_index("what")["verdict"].tolist()
    assert verdicts == ["tie: 'raw' and 'denoised'", "best: denoised"]  # SNR 0.1 (worst 0.900 both), then 0.02
    rows[-1]["f1"] = 0.8 + bp.F1_TIE / 2  # closer than the tie: named as a tie, not a best
    (tmp_path / "cpu" / "cluster_eval.json").write_text(json.dumps({"metrics": {"rows": rows}}))
    assert bp.beyond_the_paper("cpu")["verdict"].iloc[1] == "tie: 'raw' and 'denoised'"


def test_the_clustering_claim_gives_no_verdict_where_the_denoised_views_collapsed(tmp_path, monkeypatch):
    monkeypatch.setenv("CDAE_CACHE", str(tmp_path))
    monkeypatch.setenv("CDAE_RESULTS", str(tmp_path))
    claim = "Denoising with CDAE improves clustering (k-means F1)"
    f1 = pd.DataFrame({p: {"k-means (raw)": 0.5, "CDAE + k-means": 0.9} for p in PROTEINS})
    largest = pd.DataFrame({p: {"k-means (raw)": 0.9, "CDAE + k-means": 0.3} for p in PROTEINS})
    sc.remember("ch5", {"f1": f1, "largest": largest, "collapsed": flags(**{"CDAE + k-means": ["adk"]})}, "quick")
    card = sc.score_claims(sc.remembered("quick"), profiles=()).set_index("claim")
    assert card.loc[claim, "verdict"] == "favoured where judged (2 of 2); no verdict on adk (collapsed)"
    # the 5wth claim is about adk's clustering by CDAE: no verdict either where its views collapsed
    assert card.filter(like="Only CDAE", axis=0)["verdict"].iloc[0] == "collapsed (no verdict)"
    # the recorded side reads the view fidelity that run_clustering keeps per protein
    (tmp_path / "cpu").mkdir()
    table2 = [{"protein": p, "method": m, "f1": v, "largest_cluster": 0.3}
              for p in PROTEINS for m, v in (("k-means (raw)", 0.5), ("CDAE + k-means", 0.9))]
    vf = {p: {"view_accuracy": 0.9, "view_margin": 0.1, "collapsed": p == "cxcr4"} for p in PROTEINS}
    (tmp_path / "cpu" / "clustering.json").write_text(json.dumps({"metrics": {"table2": table2, "view_fidelity": vf}}))
    row = sc.score_claims(None, profiles=("cpu",)).set_index("claim").loc[claim]
    assert row["verdict"] == "favoured where judged (2 of 2); no verdict on cxcr4 (collapsed)"


def test_the_realistic_classification_rows_count_each_case_once():
    rows = [{"protein": p, "snr": s, "F1 kmeans": 0.3, "F1 kmeans-denoise": 0.3 + dk, "F1 ml2d": 0.8,
             "F1 ml2d-denoise": 0.8 + dm} for p, s, dk, dm in
            (("adk", 0.05, 0.0, 0.02), ("adk", 0.02, 0.001, -0.03), ("cxcr4", 0.05, 0.1, 0.01))]
    out = {r["what"].split(", F1 of ")[1].split(" minus")[0]: r for r in bp._classification_rows({"rows": rows})}
    km, ml = out["PCA + k-means (general denoiser first)"], out["ML2D (started from general-denoised images)"]
    assert km["verdict"] == "raises F1" and "higher in 1, lower in 0, within 0.005 in 2 of 3" in km["measured"]
    assert ml["verdict"] == "mixed" and "higher in 2, lower in 1" in ml["measured"] and "-0.030" in ml["measured"]
    assert bp._classification_rows(None) == []
