"""The agreement of each quick-scale run with the recorded run (:mod:`cdae_lite.paper.scales`)."""

import pandas as pd


def test_scale_agreement_counts_signs_against_the_recorded_run_and_prices_each_variant():
    from cdae_lite.paper.scales import SCALE_CONCLUSIONS, scale_agreement

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


def test_scale_verdicts_say_where_a_larger_scale_agrees_less():
    from cdae_lite.paper.scales import SCALE_CONCLUSIONS, scale_verdicts

    agree = pd.DataFrame([[3, 1, 1, 0, 3], [0, 2, 3, 3, 1], [3, 2, 2, 3, 3]], columns=list(SCALE_CONCLUSIONS),
                         index=["32 px", "64 px a", "64 px b"])
    lines = scale_verdicts(agree)
    assert lines[0].startswith("64 px a agrees with the recorded run on more proteins than 32 px for 3 of 5")
    assert "on fewer for 2 (pre-trained CDAE beats the single DAE; k-means" in lines[0]
    assert lines[1].endswith("on fewer for 0.")
    assert lines[2].startswith("On these counts the scale is not a measured reason") and "64 px a agrees less" in lines[2]
    assert scale_verdicts(agree.iloc[[0, 2]])[-1] == "No larger scale agrees less often than 32 px on any conclusion."


def test_scale_agreement_leaves_out_signs_resting_on_a_collapsed_output_and_untimed_costs():
    from cdae_lite.paper.scales import SCALE_CONCLUSIONS, scale_agreement

    def row(variant, seconds, protein, collapsed):
        return {"variant": variant, "seconds": seconds, "protein": protein, "collapsed": collapsed,
                **{c: 1.0 for c in SCALE_CONCLUSIONS}}

    rows = [row("quick", 100, "a", "cdae_ft"), row("quick", 100, "b", "none"),
            row("recorded", "", "a", ""), row("recorded", "", "b", "")]
    t = scale_agreement(rows, timed=False)
    # cdae_ft feeds ft_gain and ft: those two signs of protein a are not counted, the other eight are
    assert t.loc["quick", "ft"] == 1 and t.loc["quick", "pretrained"] == 2 and t.loc["quick", "not counted"] == 2
    assert t.loc["quick", "total"] == 8 and pd.isna(t.loc["quick", "cost"])
