"""Which maps may judge the shipped models on chapter 6's data (beyond the paper).

A map is an independent reference for a model only if the model never trained on it. The shipped
models' training maps are read from their own checkpoint records (:func:`training_maps`), so the
answer follows the weights in ``data/weights``, not a sentence. Chapter 6 draws verdicts only from
:data:`REFERENCE_MAPS`; ``tests/test_references.py`` fails when one of them is a training map of a
shipped model. A map a model trained on may still be shown, labelled as not independent, with no verdict
drawn from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from cdae_lite.simulation.bank import TRAINING_MAPS
from cdae_lite.simulation.proteins import training_protein

#: 6.2's test maps, projected by another simulator (label -> file under ``data/``).
SIMULATOR_TEST_MAPS = {"26S proteasome (polnet)": "maps/polnet_4cr2_10A.mrc.gz",
                       "70S ribosome (polnet)": "maps/polnet_4v4r_10A.mrc.gz",
                       "TRPV1 (cryojax)": "maps/cryojax_trpv1_volume.mrc.gz"}
#: 6.4: the map the ten TRPV1 particles were refined against (cryojax's test data).
TRPV1_MAP = "maps/cryojax_trpv1_volume.mrc.gz"
#: Chapter 6's real particle sets -> shipped maps of the same structure or of a complex that contains it.
REAL_PARTICLE_MAPS = {"EMPIAR-10076 (E. coli 50S ribosome)": ("maps/polnet_4v4r_10A.mrc.gz",),
                      "TRPV1 particles (cryojax)": (TRPV1_MAP,),
                      "EMPIAR-10268 class averages": ()}
#: The maps chapter 6 draws verdicts from (label -> file): each must be a map no shipped model trained on.
#: 6.2's ribosome and TRPV1 and 6.4's TRPV1 map are training maps of the general denoiser: shown, not judged.
REFERENCE_MAPS = {"26S proteasome (polnet)": "maps/polnet_4cr2_10A.mrc.gz"}


def training_maps(record: Mapping) -> dict[str, str]:
    """The shipped maps a model was trained on, read from its checkpoint record.

    Parameters
    ----------
    record : dict -- a checkpoint's ``meta["record"]`` (``cdae_lite.denoise.load_denoiser(name)[1]``).
        For the general denoiser, the structures of its recorded training bank (``record["bank"]``), else
        its configuration's ``maps`` (keys of :data:`cdae_lite.simulation.bank.TRAINING_MAPS`); a record made
        before that option existed trained on all of them (its default). The general CDAE's recipe
        (:class:`cdae_lite.paper.GeneralModelConfig`) always trains on the training protein. A warm start
        adds the maps of the run it continued (``record["init"]["record"]``).

    Returns
    -------
    dict -- structure name -> map file under ``data/`` (pseudo-proteins are made, not shipped: not listed).

    Raises
    ------
    ValueError
        If the record's configuration is neither of the shipped recipes'.

    Examples
    --------
    >>> training_maps({"config": {"maps": ["ribosome"], "diameter_px": [20, 60]}})
    {'ribosome': 'maps/polnet_4v4r_10A.mrc.gz'}
    >>> training_maps({"config": {"n_phantoms": 15, "base_snrs": [0.1], "ladder": [4.0]}})
    {'rubisco': 'maps/rubisco.mrc.gz'}
    """
    cfg = record.get("config") or {}
    cfg = cfg["bank"] if isinstance(cfg.get("bank"), Mapping) else cfg  # the recipe's layout (denoise.recipe)
    if record.get("bank"):
        names = dict.fromkeys(row["structure"] for row in record["bank"] if row["structure"] in TRAINING_MAPS)
        out = {name: TRAINING_MAPS[name] for name in names}
    elif "diameter_px" in cfg:
        out = {name: TRAINING_MAPS[name] for name in cfg.get("maps", TRAINING_MAPS)}
    elif "ladder" in cfg and "base_snrs" in cfg:
        protein = training_protein()
        out = {protein.name: protein.map_file}
    else:
        raise ValueError(f"cannot tell which maps this record's model trained on (config keys {sorted(cfg)})")
    init = record.get("init")
    if isinstance(init, Mapping) and isinstance(init.get("record"), Mapping):
        out.update(training_maps(init["record"]))
    return out


def independence(maps: Mapping[str, str | Sequence[str]], trained: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    """Which models trained on which maps: one row per item, one column per model, and ``independent``.

    Parameters
    ----------
    maps : dict -- label -> a map file, or the files of the structures an item contains or is part of.
    trained : dict -- model name -> its :func:`training_maps`.

    Returns
    -------
    pandas.DataFrame -- a model's cell names the training maps among the item's ("" if none);
        ``independent`` is True when no model trained on any of them.

    Examples
    --------
    >>> t = independence({"a": "maps/x.mrc.gz", "b": ("maps/y.mrc.gz",)}, {"m": {"y": "maps/y.mrc.gz"}})
    >>> t.to_dict("index")
    {'a': {'m': '', 'independent': True}, 'b': {'m': 'y', 'independent': False}}
    """
    rows = {}
    for label, files in maps.items():
        files = {files} if isinstance(files, str) else set(files)
        row = {model: ", ".join(n for n, f in tm.items() if f in files) for model, tm in trained.items()}
        row["independent"] = not any(row.values())
        rows[label] = row
    return pd.DataFrame.from_dict(rows, orient="index")

