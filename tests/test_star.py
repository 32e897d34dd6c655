"""Tests of ``cdae_lite.io.star``."""

import pandas as pd
import pytest

from cdae_lite.io.star import image_names, read_star, write_star


def test_star_round_trip(tmp_path):
    df = pd.DataFrame({"rlnImageName": image_names(3, "s.mrcs"), "rlnAngleRot": [1.5, -2.25, 3.0],
                       "rlnDefocusU": [15000.0, 16000.5, 17000.25], "rlnClassNumber": [1, 2, 1]})
    optics = {"rlnOpticsGroup": 1, "rlnVoltage": 300.0, "rlnImagePixelSize": 1.5}
    write_star(tmp_path / "s.star", df, optics)
    back, opt = read_star(tmp_path / "s.star")
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    assert opt["rlnVoltage"] == 300.0 and opt["rlnImagePixelSize"] == 1.5


def test_star_image_names_map_to_stack_indices():
    import pandas as pd

    from cdae_lite.io.star import image_indices

    rows = pd.DataFrame({"rlnImageName": ["000003@Extract/job7/a.mrcs", "1@a.mrcs", "000002@a.mrcs.gz"]})
    assert image_indices(rows, "/data/a.mrcs", 3).tolist() == [2, 0, 1]  # folders and .gz do not matter
    with pytest.raises(ValueError, match="no rlnImageName"):
        image_indices(pd.DataFrame({"rlnDefocusU": [1.0]}), "a.mrcs", 3)
