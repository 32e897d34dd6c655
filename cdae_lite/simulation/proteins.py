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
import logging
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from cdae_lite.io.paths import cache_dir, data_path, download
from cdae_lite.simulation.maps import load_map, resample

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Protein:
    """A shipped protein: its map, its role in the paper's protocol and its four views.

    Attributes
    ----------
    name : str
        Short name (``"rubisco"``).
    pdb_id : str
        PDB entry of the atomic model.
    role : str
        ``"train"`` or ``"test"``.
    stands_for : str
        The paper's entry it replaces.
    description : str
        What the protein is, in a few words.
    mass_kDa : float
        Mass, kDa.
    symmetry : str
        Point-group symmetry of the particle.
    box : int
        Box size of the shipped map, voxels.
    pixel_size_A : float
        Voxel size of the shipped map, Angstrom.
    resolution_A : float
        Resolution the map was low-passed to, Angstrom.
    views_deg : tuple
        The four view orientations ``(rot, tilt, psi)`` in degrees (RELION ZYZ).
    map_file, model_file : str
        Paths relative to ``data/``.
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
        """The map, resampled if asked, and its pixel size.

        Parameters
        ----------
        size : int, optional
            Box size wanted, voxels (default: as shipped, ``box``).

        Returns
        -------
        volume : numpy.ndarray
            ``(size, size, size)`` float32, indexed ``[z, y, x]``.
        pixel_size_A : float
            Its voxel size, Angstrom (``pixel_size_A * box / size`` after resampling).
        """

        vol, _ = load_map(data_path(self.map_file))
        if size is None or size == self.box:
            return vol, self.pixel_size_A
        return resample(vol, size), self.pixel_size_A * self.box / size


@lru_cache(maxsize=1)
def _registry() -> dict:
    with open(data_path("proteins.json")) as f:
        return json.load(f)


def protein_names(role: str | None = None) -> list[str]:
    """Names of the shipped proteins.

    Parameters
    ----------
    role : str, optional
        Only those of this role, ``"train"`` or ``"test"``.

    Returns
    -------
    list of str
        Names in the order of ``data/proteins.json``.
    """
    reg = _registry()["proteins"]
    return [k for k, v in reg.items() if role is None or v["role"] == role]


def load_protein(name: str) -> Protein:
    """A shipped protein by name, or by the paper's PDB ID it stands for (``"5flc"``).

    Parameters
    ----------
    name : str
        ``"adk"``, ``"rubisco"``... or one of the paper's IDs, any case.

    Returns
    -------
    Protein

    Raises
    ------
    ValueError
        An unknown name (the message lists the shipped ones).
    """
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
    """The protein the paper pre-trains on (stand-in for 5flc).

    Returns
    -------
    Protein
    """
    return load_protein(protein_names("train")[0])


def test_proteins() -> list[Protein]:
    """The three test proteins, largest first (stand-ins for 5gjq, 5k0y, 5wth).

    Returns
    -------
    list of Protein
        Sorted by decreasing mass.
    """
    return sorted((load_protein(n) for n in protein_names("test")), key=lambda p: -p.mass_kDa)


def fetch_entry(entry_id: str, timeout: float = 30.0) -> Path:
    """Download a PDB model (``"5flc"``) or an EMDB map (``"EMD-8117"``) into the cache.

    When the download fails (offline), the paper's four entries fall back to the shipped stand-in
    models with a logged warning (see ``data/README.md``); any other entry raises ``ConnectionError``
    with what to do.

    Parameters
    ----------
    entry_id : str
        A 4-character PDB ID (the mmCIF model is fetched) or ``EMD-NNNN`` (the map).
    timeout : float, optional
        Seconds to wait for the server.

    Returns
    -------
    pathlib.Path
        The cached file (``.cif.gz`` or ``.map.gz``), or the shipped stand-in model.

    Raises
    ------
    ValueError
        An ID of neither form.
    ConnectionError
        The download failed and the entry has no stand-in.
    """
    from cdae_lite.io.paths import data_path
    from cdae_lite.simulation.proteins import PAPER_STANDINS

    eid = entry_id.strip()
    if eid.upper().startswith("EMD-") or eid.upper().startswith("EMD_"):
        num = eid[4:]
        url = f"https://ftp.ebi.ac.uk/pub/databases/emdb/structures/EMD-{num}/map/emd_{num}.map.gz"
        dest = cache_dir() / "emdb" / f"emd_{num}.map.gz"
    else:
        if len(eid) != 4 or not eid.isalnum():
            raise ValueError(f"{entry_id!r} is neither a 4-character PDB ID nor an EMD-NNNN ID")
        url = f"https://files.rcsb.org/download/{eid.upper()}.cif.gz"
        dest = cache_dir() / "pdb" / f"{eid.lower()}.cif.gz"
    if dest.exists():
        return dest
    try:
        return download(url, dest, timeout)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        standin = PAPER_STANDINS.get(eid.lower())
        if standin is None:
            raise ConnectionError(
                f"could not download {entry_id} from {url} ({exc}). Offline, use a local file "
                "(load_map / model_to_map) or one of the shipped proteins (cdae_lite.simulation.proteins)."
            ) from exc
        log.warning("offline: could not download %s; using the shipped stand-in %s (%s)", entry_id,
                    standin["model"], standin["why"])
        return data_path(standin["model"])
