import json

import pandas as pd

from cdae_lite.paper import scorecard as sc


def psnr_table(single, cdae):
    return pd.DataFrame({"single": single, "cdae": cdae}, index=["proteasome", "cxcr4", "adk"])


def test_verdicts_are_worded_from_the_signs():
    assert sc.word({"a": 1.0, "b": 0.5}, "dB")[1] == "holds"
    assert sc.word({"a": -1.0, "b": 0.0}, "dB")[1] == "fails"
    measured, verdict = sc.word({"a": 1.234, "b": -0.5, "c": 2.0}, "dB")
    assert verdict == "mixed (2 of 3)" and measured == "a +1.23, b -0.50, c +2.00 (dB)"


def test_live_tables_round_trip_and_are_forgotten_when_the_code_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("CDAE_CACHE", str(tmp_path))
    sc.remember("ch2", {"psnr": psnr_table([20, 21, 22], [21, 20, 23])}, "quick")
    kept = sc.remembered("quick")
    assert kept["ch2"]["psnr"].loc["cxcr4", "cdae"] == 20
    card = sc.score_claims(kept, profiles=())
    row = card[card["claim"].str.startswith("The pre-trained cascade")].iloc[0]
    assert row["verdict"] == "mixed (2 of 3)" and "cxcr4 -1.00" in row["measured"]
    assert (card[card["claim"] != row["claim"]]["verdict"] == "-").all()  # other chapters not kept
    path = tmp_path / "book" / "tables-quick.json"
    stale = json.loads(path.read_text()) | {"code": "older"}
    path.write_text(json.dumps(stale))
    assert sc.remembered("quick") == {}


def test_recorded_results_are_read_per_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("CDAE_RESULTS", str(tmp_path))
    rows = [{"protein": p, "method": m, "psnr_mean": v, "n": 10, "he": False}
            for p, vals in {"adk": (20, 25, 22, 26)}.items()
            for m, v in zip(("single", "single_ft", "cdae", "cdae_ft"), vals)]
    he = [dict(r, psnr_mean=r["psnr_mean"] - 10, he=True) for r in rows]
    table1 = [{"protein": "adk", "method": m, "psnr_mean": v} for m, v in
              (("raw", 5), ("BM3D", 27), ("Wiener", 24), ("CDAE (fine-tuned)", 26))]
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cdae.json").write_text(json.dumps(
        {"metrics": {"per_seed": [{"psnr": rows, "psnr_he": he, "finetuned": True}]}}))
    (tmp_path / "cpu" / "baselines.json").write_text(json.dumps({"metrics": {"table1": table1}}))
    card = sc.score_claims(None, profiles=("cpu", "full")).set_index("claim")
    assert set(card["scale"]) == {"cpu (recorded)"}  # no full-profile files: no full rows
    assert card.loc["The pre-trained cascade denoises better than a single DAE", "verdict"] == "holds"
    assert card.loc["After fine-tuning, the cascade beats the single DAE", "measured"] == "adk +1.00 (dB)"
    assert card.loc["Fine-tuned CDAE beats BM3D", "verdict"] == "fails"
    assert card.loc["Fine-tuned CDAE beats every other method of Table 1", "measured"].startswith("adk -1.00")
    assert card.loc["Histogram equalisation raises CDAE's PSNR", "measured"] == "adk -10.00 (dB)"
    assert card.filter(like="clustering", axis=0)["measured"].iloc[0] == "not measured at this scale"


def test_beyond_the_paper_rows_and_markdown(tmp_path, monkeypatch):
    monkeypatch.setenv("CDAE_RESULTS", str(tmp_path))
    (tmp_path / "cpu").mkdir()
    margins = {"general | adk | paper": 1.5, "general | apo | paper": -0.5, "cdae | adk | paper": -2.0,
               "cdae | apo | paper": -1.0}
    (tmp_path / "cpu" / "general.json").write_text(json.dumps({"metrics": {"margins_db": margins}}))
    extra = sc.beyond_the_paper("cpu").set_index("what")
    assert extra.loc["general denoiser (paper preset) beats a tuned BM3D", "verdict"] == "mixed (1 of 2)"
    assert extra.loc["general CDAE (paper preset) beats a tuned BM3D", "verdict"] == "fails"
    md = sc.markdown_table(extra.reset_index()).splitlines()
    assert md[0] == "| what | measured | verdict |" and md[1] == "|---|---|---|" and len(md) == 4


def test_seed_differences_pair_seeds_and_give_the_spread():
    from cdae_lite.paper.results import seed_differences

    def rec(values):  # seed -> PSNR of "cdae" on adk
        return {"metrics": {"per_seed": [{"seed": s, "psnr": [{"protein": "adk", "method": "cdae", "psnr_mean": v}]}
                                         for s, v in values.items()]}}

    d = seed_differences(rec({0: 21.0, 1: 22.0, 2: 20.0}), rec({0: 20.0, 1: 20.0, 5: 0.0}), "cdae")
    assert d.loc["adk", "seeds"] == 2 and d.loc["adk", "mean"] == 1.5  # seeds 0 and 1 only
    assert abs(d.loc["adk", "std"] - 0.7071) < 1e-3
    assert seed_differences(rec({0: 1.0}), rec({0: 1.0}), "cdae_ft").empty


def test_scale_agreement_counts_signs_against_the_recorded_run_and_prices_each_variant():
    from cdae_lite.paper.scorecard import SCALE_CONCLUSIONS, scale_agreement

    def row(variant, seconds, protein, sign):
        return {"variant": variant, "seconds": seconds, "protein": protein,
                **{c: sign[i] for i, c in enumerate(SCALE_CONCLUSIONS)}}

    rows = [row("quick", 100, "a", [1, 1, 1, 1, 1]), row("quick", 100, "b", [1, -1, -1, -1, 0]),
            row("big", 250, "a", [-1, -1, -1, -1, -1]), row("big", 250, "b", [-1, -1, -1, -1, -1]),
            row("recorded", "", "a", [-1, 1, -1, 1, -1]), row("recorded", "", "b", [-1, -1, -1, 1, 0.0])]
    t = scale_agreement(rows)
    assert list(t.index) == ["quick", "big"]
    assert t.loc["quick", "cost"] == 1.0 and t.loc["big", "cost"] == 2.5
    assert t.loc["quick", ["pretrained", "ft_gain", "ft", "vs_bm3d", "clustering"]].tolist() == [0, 2, 1, 1, 1]
    assert t.loc["big", ["pretrained", "ft_gain", "ft", "vs_bm3d", "clustering"]].tolist() == [2, 1, 2, 0, 2]
    assert t.loc["big", "total"] == 7 and t.loc["quick", "proteins"] == 2
