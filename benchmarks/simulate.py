"""Projections per second of cdae-lite's projector, on the CPU and (when present) a CUDA GPU.

Usage::

    python benchmarks/simulate.py [--sizes 64 128] [--n 4096] [--repeats 3] [--json out.json]

Prints a table: for each device and image size, clean projections per second at random orientations
(median of ``--repeats`` timed runs after one warm-up) and full simulated images per second (projection,
CTF and noise, the realistic preset). The 3D Fourier transform of the map is made once per map and not
timed (it is shared by all projections of a map). The map is the shipped RuBisCO map resampled to
the image size.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cdae_lite.simulation.config import SimulationConfig  # noqa: E402
from cdae_lite.simulation.projection import Projector  # noqa: E402
from cdae_lite.simulation.proteins import training_protein  # noqa: E402
from cdae_lite.simulation.rotations import euler_to_matrix  # noqa: E402
from cdae_lite.simulation.stacks import simulate  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_projection(size: int, n: int, device: torch.device, repeats: int) -> float:
    vol, _ = training_protein().volume(size)
    proj = Projector(vol, device=device)
    rng = np.random.default_rng(0)
    mats = torch.as_tensor(euler_to_matrix(rng.uniform(-180, 180, n), np.degrees(np.arccos(rng.uniform(-1, 1, n))),
                                           rng.uniform(-180, 180, n)), dtype=torch.float32, device=device)
    batch = 8192 if device.type == "cuda" else 512
    proj.project(mats[:batch], batch_size=batch)  # warm-up
    times = []
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        proj.project(mats, batch_size=batch)
        _sync(device)
        times.append(time.perf_counter() - t)
    return n / float(np.median(times))


def bench_simulation(size: int, n: int, device: torch.device) -> float:
    p = training_protein()
    vol, px = p.volume(size)
    cfg = SimulationConfig(image_size=size, images_per_view=max(1, n // 4)).realistic()
    simulate(vol, px, p.views_deg, SimulationConfig(image_size=size, images_per_view=8).realistic(),
             device=device)  # warm-up
    t = time.perf_counter()
    simulate(vol, px, p.views_deg, cfg, snrs=(0.1,), device=device)
    return 4 * cfg.images_per_view / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--n", type=int, default=4096, help="projections per timed run (CPU)")
    ap.add_argument("--n-gpu", type=int, default=262144, help="projections per timed run (GPU)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", help="also write the table as JSON here")
    args = ap.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    for dev in devices:
        name = torch.cuda.get_device_name(0) if dev.type == "cuda" else f"{platform.processor() or 'cpu'} ({torch.get_num_threads()} threads)"
        for size in args.sizes:
            n = args.n_gpu if dev.type == "cuda" else args.n
            pps = bench_projection(size, n, dev, args.repeats)
            sps = bench_simulation(size, min(n, 8192), dev)
            rows.append(dict(device=dev.type, device_name=name, size_px=size, projections_per_s=round(pps),
                             simulated_images_per_s=round(sps)))
    print(f"cdae-lite projector, torch {torch.__version__}")
    print(f"{'device':8s} {'size':>5s} {'projections/s':>14s} {'simulated images/s':>19s}  device name")
    for r in rows:
        print(f"{r['device']:8s} {r['size_px']:5d} {r['projections_per_s']:14d} {r['simulated_images_per_s']:19d}  {r['device_name']}")
    print("simulated images: projection + CTF + noise at one SNR, realistic preset (jitter, in-plane rotation,"
          " shifts)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
