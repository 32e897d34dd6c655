"""The proteins shipped in ``data/`` and where to find data files.

The paper simulates four entries (5flc for training; 5wth, 5k0y, 5gjq for testing) that we could not
fetch offline; ``data/`` ships stand-ins that play the same roles (``data/README.md`` says why each
was chosen and where it came from). Their maps and the four view directions of each were made by
``data/make_maps.py`` and are listed in ``data/proteins.json``.

Data files are looked up in ``$CDAE_DATA`` if set, else in the ``data/`` folder of the repository
checkout the package was imported from, else downloaded from the repository into the cache.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import REPOSITORY_URL

#: The paper's entries and the shipped stand-ins used when they cannot be downloaded.
PAPER_STANDINS: dict[str, dict[str, str]] = {
    "5flc": {"protein": "rubisco", "model": "models/1bxn_rubisco.pdb.gz",
             "why": "training protein: a large complex with many distinct views"},
    "5gjq": {"protein": "proteasome", "model": "models/3j9i_20S_proteasome.pdb.gz",
             "why": "a proteasome, as the paper's 5gjq (human 26S proteasome); the largest test protein"},
    "5k0y": {"protein": "cxcr4", "model": "models/8zpm_cxcr4.cif.gz",
             "why": "a medium-sized test protein"},
    "5wth": {"protein": "adk", "model": "models/1ake_adk_closed.pdb.gz",
             "why": "small (22 kDa) and featureless at 8 A, as the paper's 5wth"},
}


def repo_root() -> Path | None:
    """The repository checkout the package lives in, or None for an installed wheel."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "data" / "proteins.json").exists() else None


def data_dir() -> Path:
    """The folder holding the shipped data (see the module docstring for the search order)."""
    env = os.environ.get("CDAE_DATA")
    if env:
        return Path(env)
    root = repo_root()
    if root is not None:
        return root / "data"
    from .maps import cache_dir

    return cache_dir() / "data"


def data_path(relative: str) -> Path:
    """Path of a shipped data file, e.g. ``data_path("maps/rubisco.mrc.gz")``.

    Downloads the file from the repository into the cache when the package runs without its
    checkout; raises ``FileNotFoundError`` with what to do when that fails.
    """
    path = data_dir() / relative
    if path.exists():
        return path
    if os.environ.get("CDAE_DATA") or repo_root() is not None:
        raise FileNotFoundError(f"shipped data file {relative} is missing from {data_dir()}")
    url = f"{REPOSITORY_URL}/raw/main/data/{relative}"
    try:
        from .maps import _download

        return _download(url, path)
    except (urllib.error.URLError, OSError) as exc:
        raise FileNotFoundError(
            f"{relative} is not in {data_dir()} and could not be downloaded from {url} ({exc}). "
            "Clone the repository and install it with `pip install -e .`, or set CDAE_DATA to its "
            "data/ folder.") from exc


def results_dir() -> Path:
    """Where recorded results live: ``results/`` of the checkout (or ``$CDAE_RESULTS``)."""
    env = os.environ.get("CDAE_RESULTS")
    if env:
        return Path(env)
    root = repo_root()
    return (root / "results") if root is not None else data_dir().parent / "results"


@dataclass(frozen=True)
class Protein:
    """A shipped protein: its map, its role in the paper's protocol and its four views.

    Attributes
    ----------
    name : str -- short name (``"rubisco"``).
    pdb_id : str -- PDB entry of the atomic model.
    role : str -- ``"train"`` or ``"test"``.
    stands_for : str -- the paper's entry it replaces.
    description : str
    mass_kDa : float
    symmetry : str -- point-group symmetry of the particle.
    box : int -- box size of the shipped map, voxels.
    pixel_size_A : float -- voxel size of the shipped map, Angstrom.
    resolution_A : float -- resolution the map was low-passed to, Angstrom.
    views_deg : tuple -- the four view orientations ``(rot, tilt, psi)`` in degrees (RELION).
    map_file, model_file : str -- paths relative to ``data/``.
    """

    name: str
    pdb_id: str
    role: str
    stands_for: str
    description: str
    mass_kDa: float
    symmetry: str
    box: int
    pixel_size_A: float
    resolution_A: float
    views_deg: tuple
    map_file: str
    model_file: str

    def volume(self, size: int | None = None) -> tuple[np.ndarray, float]:
        """The map resampled to ``size``^3 (default: as shipped) and its pixel size in Angstrom."""
        from .maps import load_map, resample

        vol, _ = load_map(data_path(self.map_file))
        if size is None or size == self.box:
            return vol, self.pixel_size_A
        return resample(vol, size), self.pixel_size_A * self.box / size


@lru_cache(maxsize=1)
def _registry() -> dict:
    with open(data_path("proteins.json")) as f:
        return json.load(f)


def protein_names(role: str | None = None) -> list[str]:
    """Names of the shipped proteins, optionally only those of a ``role`` (``train``/``test``)."""
    reg = _registry()["proteins"]
    return [k for k, v in reg.items() if role is None or v["role"] == role]


def load_protein(name: str) -> Protein:
    """A shipped protein by name, or by the paper's PDB ID it stands for (``"5flc"``)."""
    reg = _registry()["proteins"]
    key = name.lower()
    if key in PAPER_STANDINS:
        key = PAPER_STANDINS[key]["protein"]
    if key not in reg:
        raise ValueError(f"unknown protein {name!r}; shipped: {sorted(reg)} "
                         f"(or the paper's IDs {sorted(PAPER_STANDINS)})")
    d = dict(reg[key])
    d["views_deg"] = tuple(tuple(v) for v in d["views_deg"])
    return Protein(name=key, **d)


def training_protein() -> Protein:
    """The protein the paper pre-trains on (stand-in for 5flc)."""
    return load_protein(protein_names("train")[0])


def test_proteins() -> list[Protein]:
    """The three test proteins, largest first (stand-ins for 5gjq, 5k0y, 5wth)."""
    return sorted((load_protein(n) for n in protein_names("test")), key=lambda p: -p.mass_kDa)
