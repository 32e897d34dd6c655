"""Make the book's density maps and view list from the atomic models in data/models/.

Run from the repository root::

    python data/make_maps.py            # writes data/maps/*.mrc.gz and data/proteins.json
    python data/make_maps.py --held-out # writes data/maps/apoferritin_6z6u.mrc.gz (the general
                                        # denoiser's held-out structure)

For each protein the pixel size is chosen so that the particle's diameter (twice the largest distance
of an atom from the centroid) spans 2/3 of a 64-pixel box, the Coulomb potential is computed with
gemmi's electron scattering factors and low-passed to max(8 A, 2.5 pixels) (cdae_lite.simulation.maps.model_to_map),
and four view directions are chosen whose projections differ most, symmetry mates excluded
(cdae_lite.simulation.views.distinct_views). The result is deterministic.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from cdae_lite.simulation import maps  # noqa: E402
from cdae_lite.simulation.projection import Projector  # noqa: E402
from cdae_lite.simulation.views import distinct_views, invariant_similarity  # noqa: E402

BOX = 64
FILL = 2 / 3
MIN_RESOLUTION_A = 8.0

PROTEINS = {
    "rubisco": dict(pdb_id="1BXN", role="train", stands_for="5flc", symmetry="D4",
                    model_file="models/1bxn_rubisco.pdb.gz",
                    description="RuBisCO L8S8 from Alcaligenes eutrophus (X-ray, biological assembly "
                                "built from the file's REMARK 350)"),
    "proteasome": dict(pdb_id="3J9I", role="test", stands_for="5gjq", symmetry="D7",
                       model_file="models/3j9i_20S_proteasome.pdb.gz",
                       description="20S proteasome from Thermoplasma acidophilum (cryo-EM)"),
    "cxcr4": dict(pdb_id="8ZPM", role="test", stands_for="5k0y", symmetry="C1",
                  model_file="models/8zpm_cxcr4.cif.gz",
                  description="CXCR4 chemokine receptor with antagonist AMD070 (cryo-EM; both chains "
                              "of the file's assembly)"),
    "adk": dict(pdb_id="1AKE", role="test", stands_for="5wth", symmetry="C1",
                model_file="models/1ake_adk_closed.pdb.gz",
                description="adenylate kinase, closed form, one chain (X-ray): small and featureless "
                            "at 8 A"),
}


def main() -> None:
    registry = {}
    for name, info in PROTEINS.items():
        st = maps.read_model(HERE / info["model_file"])
        px = round(maps.pixel_size_to_fill(st, BOX, FILL), 2)
        res = round(max(MIN_RESOLUTION_A, 2.5 * px), 1)
        vol = maps.model_to_map(HERE / info["model_file"], BOX, px, res)
        map_file = f"maps/{name}.mrc.gz"
        maps.save_map(HERE / map_file, vol, px, overwrite=True)
        views = distinct_views(vol, k=4, device="cpu")
        proj = Projector(vol, device="cpu").project_euler(views[:, 0], views[:, 1], views[:, 2])
        sim = invariant_similarity(proj)
        mass = sum(a.element.weight for ch in st[0] for r in ch for a in r) / 1000
        registry[name] = dict(
            pdb_id=info["pdb_id"], role=info["role"], stands_for=info["stands_for"],
            description=info["description"], mass_kDa=round(mass, 1), symmetry=info["symmetry"],
            box=BOX, pixel_size_A=px, resolution_A=res, views_deg=views.tolist(),
            map_file=map_file, model_file=info["model_file"])
        off = sim[~np.eye(4, dtype=bool)]
        print(f"{name:10s} {info['pdb_id']}  {mass:6.1f} kDa  {px:.2f} A/px  res {res:.1f} A  "
              f"views {views[:, :2].tolist()}  view similarity max {off.max():.3f}")
    out = {"note": "made by data/make_maps.py; do not edit by hand",
           "box_fill": round(FILL, 4), "proteins": registry}
    (HERE / "proteins.json").write_text(json.dumps(out, indent=1) + "\n")


#: Kept out of every training and tuning choice of the general denoiser (cdae_lite.paper.general.HELD_OUT).
HELD_OUT = {"file": "maps/apoferritin_6z6u.mrc.gz", "model_file": "models/6z6u_apoferritin.pdb.gz"}


def make_held_out() -> None:
    """The held-out apoferritin map (PDB 6Z6U), made as the proteins' maps are (2/3 of a 64 px box)."""
    st = maps.read_model(HERE / HELD_OUT["model_file"])
    px = round(maps.pixel_size_to_fill(st, BOX, FILL), 2)
    res = round(max(MIN_RESOLUTION_A, 2.5 * px), 1)
    vol = maps.model_to_map(HERE / HELD_OUT["model_file"], BOX, px, res)
    maps.save_map(HERE / HELD_OUT["file"], vol, px, overwrite=True)
    print(f"held out: 6Z6U apoferritin  {px:.2f} A/px  res {res:.1f} A -> {HELD_OUT['file']}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--held-out"]:
        make_held_out()
    else:
        main()
