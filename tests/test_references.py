"""Chapter 6 judges the shipped models only against maps they never trained on (issue 33).

The training maps are read from the shipped checkpoints' records, so these tests follow the weights:
retraining a model on a map that chapter 6 draws a verdict from makes them fail, and so does adding a
training map to the chapter's list of references.
"""

import json
import re
from pathlib import Path

import pytest

from cdae_lite.denoise import load_denoiser
from cdae_lite.paper import references
from cdae_lite.simulation.bank import TRAINING_MAPS

CHAPTER_6 = Path(__file__).resolve().parents[1] / "book" / "06_real_particles.ipynb"


@pytest.fixture(scope="module")
def trained():
    """Shipped model -> the maps its record says it trained on."""
    return {name: references.training_maps(load_denoiser(name)[1]["record"]) for name in ("general", "cdae")}


def test_no_map_chapter_6_draws_a_verdict_from_is_a_training_map(trained):
    for model, maps in trained.items():
        seen = {label: f for label, f in references.REFERENCE_MAPS.items() if f in maps.values()}
        assert not seen, (f"chapter 6 draws verdicts from {sorted(seen)}, but the shipped model '{model}' trained on "
                          f"{sorted(seen.values())}: it is not an independent reference for that model")


def test_the_records_name_the_maps_each_shipped_model_trained_on(trained):
    assert set(trained["general"].values()) == set(TRAINING_MAPS.values())  # RuBisCO, the 70S ribosome, TRPV1
    assert references.TRPV1_MAP in trained["general"].values()
    assert list(trained["cdae"]) == ["rubisco"]  # the training protein and pseudo-proteins only


def test_maps_chapter_6_shows_without_judging_are_training_maps(trained):
    # a map outside REFERENCE_MAPS is shown labelled "not independent": that label must be true
    seen = set().union(*(set(m.values()) for m in trained.values()))
    shown_only = {label: f for label, f in references.SIMULATOR_TEST_MAPS.items()
                  if label not in references.REFERENCE_MAPS}
    assert all(f in seen for f in shown_only.values()), "an independent map is left unjudged: add it to REFERENCE_MAPS"
    assert references.REFERENCE_MAPS, "chapter 6 draws no verdict from any map"


def test_chapter_6_takes_its_maps_and_its_verdicts_from_the_named_lists():
    cells = json.loads(CHAPTER_6.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "references.REFERENCE_MAPS" in code and "references.training_maps" in code
    assert not re.search(r"[\"']maps/", code), "chapter 6 names a map file: take it from cdae_lite.paper.references"


def test_training_maps_reads_a_warm_start_and_refuses_an_unknown_recipe():
    record = {"config": {"maps": ["rubisco"], "diameter_px": [20, 60]},
              "init": {"record": {"config": {"maps": ["trpv1"], "diameter_px": [20, 60]}}}}
    assert references.training_maps(record) == {"rubisco": TRAINING_MAPS["rubisco"], "trpv1": TRAINING_MAPS["trpv1"]}
    # the recorded bank is what was trained on, whatever the configuration says
    banked = {"config": {"maps": ["rubisco", "trpv1"], "diameter_px": [20, 60]},
              "bank": [{"structure": "trpv1"}, {"structure": "phantom0"}]}
    assert references.training_maps(banked) == {"trpv1": TRAINING_MAPS["trpv1"]}
    with pytest.raises(ValueError, match="cannot tell"):
        references.training_maps({"config": {"epochs": 3}})


def test_independence_names_the_models_that_saw_each_map(trained):
    table = references.independence({**references.SIMULATOR_TEST_MAPS, **references.REAL_PARTICLE_MAPS}, trained)
    assert table.loc["26S proteasome (polnet)", "independent"]
    assert table.loc["TRPV1 (cryojax)", "general"] == "trpv1" and not table.loc["TRPV1 (cryojax)", "independent"]
    assert table.loc["EMPIAR-10076 (E. coli 50S ribosome)", "general"] == "ribosome"
    assert table.loc["EMPIAR-10268 class averages", "independent"]
