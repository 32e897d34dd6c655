"""The bank of clean projections (cdae_lite.simulation.bank): what it holds and what it leaves out."""

import numpy as np
import pytest

from cdae_lite.paper.general import HELD_OUT
from cdae_lite.simulation.bank import TRAINING_MAPS, BankConfig, clean_bank


def test_training_data_exclude_the_test_proteins_and_cover_the_sizes():
    names = " ".join(TRAINING_MAPS.values())
    assert not any(p in names for p in ("proteasome", "4cr2", "3j9i", "adk", "cxcr4", "apoferritin"))
    assert "apoferritin" in HELD_OUT
    cfg = BankConfig(n_phantoms=1, images_per_structure=6, scales=2, seed=0)
    bank, rows = clean_bank(cfg, "cpu")
    assert bank.shape == (len(rows) * 3, 64, 64) and np.isfinite(bank).all()
    assert {r["structure"] for r in rows} == {*TRAINING_MAPS, "phantom0"}
    assert all(cfg.diameter_px[0] <= r["diameter_px"] <= cfg.diameter_px[1] for r in rows)
    assert any(r["ctf"] for r in rows) and not all(r["ctf"] for r in rows)


def test_the_training_structures_can_be_restricted_to_some_maps():
    cfg = BankConfig(maps=("rubisco",), n_phantoms=0, images_per_structure=4, scales=1)
    bank, rows = clean_bank(cfg, "cpu")
    assert [r["structure"] for r in rows] == ["rubisco"] and len(bank) == 4
    with pytest.raises(ValueError, match="maps must be among"):
        BankConfig(maps=("proteasome",))
    with pytest.raises(ValueError, match="at least one structure"):
        BankConfig(maps=(), n_phantoms=0)
