"""Tests of ``cdae_lite.simulation.write``."""

import numpy as np

from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.proteins import load_protein


def test_writing_a_simulation_logs_instead_of_printing(tmp_path, caplog, capsys, monkeypatch):
    from cdae_lite.simulation.write import write_simulation

    monkeypatch.setenv("CDAE_PROGRESS", "0")
    vol, px = load_protein("adk").volume()
    with caplog.at_level("DEBUG", logger="cdae_lite"):
        cfg = SimulationConfig(image_size=32, images_per_view=3, n_views=2)
        write_simulation(vol, px, np.zeros((2, 3)), cfg, (0.1,), tmp_path, "adk")
    assert "simulating 6 images of 32 px" in caplog.text and "adk_snr0.1.star" in caplog.text
    assert capsys.readouterr() == ("", "")  # nothing printed: a library user chooses with logging
