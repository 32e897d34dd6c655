"""Make book/figures/overview.png, the picture at the top of README.md.

Run from the repository root: ``python book/figures/make_readme_figure.py``. It simulates one image of
each shipped protein at SNR 0.1 (seed 0, 64 px) and shows it beside its clean projection.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from cdae_lite import plot  # noqa: E402
from cdae_lite.simulation.config import SimulationConfig  # noqa: E402
from cdae_lite.simulation.proteins import test_proteins, training_protein
from cdae_lite.simulation.stacks import simulate_protein  # noqa: E402

cfg = SimulationConfig(images_per_view=1)
rows, names = [], []
for p in [training_protein(), *test_proteins()]:
    s = simulate_protein(p, cfg, snrs=(0.1,), device="cpu")
    rows.append(np.stack([s.noisy[0.1][1], s.clean[1]]))
    names.append(p.name)
grid = np.stack(rows).transpose(1, 0, 2, 3)
fig = plot.gallery(grid, titles=names, row_labels=["SNR 0.1", "clean"], size=1.5)
fig.savefig(HERE / "overview.png", dpi=100)
print("wrote", HERE / "overview.png")
