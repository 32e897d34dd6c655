"""How many look-alikes should stack-aware denoising average? Measured on validation pseudo-proteins only.

Usage: ``python benchmarks/stack_neighbours.py [--phantoms 3] [--neighbours 30 60 120] [--presets paper
realistic] [--align auto|on|off] [--ctf-aware W ...] [--per-view 250] [--score 64] [--snr 0.1] [--json out]``

Issue 28 asks for a stack-aware margin over ASPIRE's Cov2D that today's default (30 look-alikes) does not
reach on every test set, and for any variant to be chosen on validation structures, never on a test
protein. Each stack here is a validation pseudo-protein (:data:`cdae_lite.paper.general.VALIDATION`'s
seeds, in no training bank) seen from 4 distinct views, ``--per-view`` images each, 64 px, in the paper's
preset (no CTF, no rotation) or the realistic one (CTF, in-plane rotation, shifts, jitter). Per stack and
``--neighbours`` value (candidates: at least 100, and twice the neighbours), the mean PSNR (dB) against the
clean images of ``--score`` evenly spaced images (:func:`cdae_lite.denoise.stack_denoise`, shipped general
model), beside the shipped model on the single images. ``--align auto`` searches rotations and shifts on
the realistic preset only (``--no-align`` on the paper's); ``on`` everywhere, as the recorded
"stack-aware (aligned)" rows do. ``--ctf-aware`` adds, on stacks with a CTF, the CTF-aware combination of
the look-alikes (each image's CTF from its STAR row, :func:`cdae_lite.denoise.preprocess.star_ctfs`) at each
Wiener regulariser given (columns ``K=30 ctf W``). The rows are written after every stack.
"""

import argparse
import time
from dataclasses import replace

import numpy as np
from _common import print_table, write_json

from cdae_lite import metrics
from cdae_lite.denoise import StackAwareConfig, load_denoiser, predict, stack_denoise
from cdae_lite.denoise.preprocess import star_ctfs
from cdae_lite.paper.general import VALIDATION
from cdae_lite.simulation import SimulationConfig, distinct_views, simulate
from cdae_lite.simulation.bank import phantom_seeds, stretched_phantom


def validation_stack(seed: int, preset: str, per_view: int, snr: float):
    """A pseudo-protein (``seed``) seen from its 4 most distinct views, ``per_view`` images each, 64 px."""
    vol = stretched_phantom(64, seed)
    sim = SimulationConfig(image_size=64, images_per_view=per_view, test_snr=snr, seed=seed)
    sim = sim.realistic() if preset == "realistic" else sim
    return simulate(vol, 2.0, distinct_views(vol, 4, device="cpu"), sim, snrs=(snr,), name=f"phantom {seed}",
                    device="cpu")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phantoms", type=int, default=3)
    ap.add_argument("--neighbours", type=int, nargs="+", default=[30, 60, 120])
    ap.add_argument("--presets", nargs="+", default=["paper", "realistic"])
    ap.add_argument("--align", choices=["auto", "on", "off"], default="auto")
    ap.add_argument("--ctf-aware", type=float, nargs="*", default=[])
    ap.add_argument("--per-view", type=int, default=250)
    ap.add_argument("--score", type=int, default=64)
    ap.add_argument("--snr", type=float, default=0.1)
    ap.add_argument("--json")
    a = ap.parse_args()
    model = load_denoiser("general")[0]
    rows, todo = [], [(s, p) for p in a.presets for s in phantom_seeds(VALIDATION)[:a.phantoms]]
    for i, (seed, preset) in enumerate(todo):
        st = validation_stack(seed, preset, a.per_view, a.snr)
        x, clean = st.noisy[a.snr], st.clean
        q = np.linspace(0, len(x) - 1, a.score).round().astype(int)
        align = preset == "realistic" if a.align == "auto" else a.align == "on"
        row = {"phantom": seed, "preset": preset, "align": align,
               "single": round(float(metrics.psnr(predict(model, x[q]), clean[q]).mean()), 2)}
        ctfs = star_ctfs(x.shape[-1], st.pixel_size_A, st.meta, st.optics) if "rlnDefocusU" in st.meta else None
        for k in a.neighbours:
            cfg = replace(StackAwareConfig(align=align), neighbours=k, candidates=max(100, 2 * k))
            t = time.perf_counter()
            out = stack_denoise(model, x, cfg, queries=q)
            row[f"K={k}"] = round(float(metrics.psnr(out, clean[q]).mean()), 2)
            row[f"s K={k}"] = round(time.perf_counter() - t, 1)
            for w in a.ctf_aware if ctfs is not None else ():
                out = stack_denoise(model, x, replace(cfg, ctf_aware=True, wiener=w), queries=q, ctfs=ctfs)
                row[f"K={k} ctf {w:g}"] = round(float(metrics.psnr(out, clean[q]).mean()), 2)
        rows.append(row)
        print(row, flush=True)
        if a.json:
            write_json("stack-aware look-alikes on validation pseudo-proteins", rows, a.json,
                       partial="" if i == len(todo) - 1 else f"{i + 1} of {len(todo)} stacks done")
    print_table("stack-aware PSNR (dB) against the number of look-alikes, validation pseudo-proteins", rows)


if __name__ == "__main__":
    main()
