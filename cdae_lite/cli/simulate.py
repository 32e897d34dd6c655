"""``cdae-lite simulate``: a labelled particle stack (.mrcs + .star) from a shipped protein or a map."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from cdae_lite.cli.common import add_command


def run(args: argparse.Namespace) -> int:
    from cdae_lite.paper.profiles import for_profile
    from cdae_lite.simulation import (SimulationConfig, distinct_views, load_map, load_protein, parse_views,
                                      resolve_views, write_simulation)

    over = {k: v for k, v in dict(image_size=args.size, images_per_view=args.per_view, seed=args.seed).items()
            if v is not None}
    cfg = replace(for_profile(SimulationConfig, args.profile), **over)  # the paper's quick or full scale
    cfg = cfg.realistic() if args.preset == "realistic" else cfg
    explicit = parse_views(args.views_deg) if args.views_deg else None
    if args.map:
        vol, px = load_map(args.map)
        px = args.pixel_size or px
        if not px:
            raise ValueError(f"{args.map} has no pixel size in its header: give --pixel-size")
        views = resolve_views(explicit, args.views, lambda n: distinct_views(vol, n or cfg.n_views))
        name = Path(args.map).name.split(".")[0]
    else:
        prot = load_protein(args.protein)
        vol, px = prot.volume()
        views = resolve_views(explicit, args.views, np.array(prot.views_deg))
        name = prot.name
    cfg = replace(cfg, n_views=len(views))
    report = write_simulation(vol, px, views, cfg, tuple(args.snr), args.out, name, clean=args.clean,
                              overwrite=args.overwrite, device=args.device)
    print(report.summary(args.out))
    return 0


def add_parser(sub) -> None:
    p = add_command(
        sub, "simulate", "simulate a labelled particle stack (.mrcs + .star) from a shipped protein or a map",
        "Simulate projections of a 3D map from a few view directions, with noise at the requested SNR(s) "
        "(variance of the clean image / variance of the noise). Writes NAME_snrS.mrcs and NAME_snrS.star per "
        "SNR (and NAME_clean.* with --clean), block by block, so stacks larger than memory are fine.",
        ["cdae-lite simulate --protein rubisco --snr 0.1 0.4 0.6 --clean -o sim/",
         "cdae-lite simulate --protein adk --profile quick --preset realistic -o sim/",
         "cdae-lite simulate --map mymap.mrc --pixel-size 1.1 --views 4 --per-view 500 -o sim/"])
    src = p.add_mutually_exclusive_group()
    src.add_argument("--protein", default="rubisco",
                     help="shipped protein (rubisco, proteasome, cxcr4, adk) or the paper's ID it stands for")
    src.add_argument("--map", help="simulate from this MRC map instead of a shipped protein")
    p.add_argument("--pixel-size", type=float, help="pixel size of --map in Angstrom (default: its header)")
    p.add_argument("--snr", type=float, nargs="+", default=[0.1], help="one or more SNRs")
    p.add_argument("--profile", choices=["quick", "full"],
                   help="scale: quick = 32 px, 100 images per view; full = 64 px, 1000 per view "
                        "(default: $CDAE_PROFILE, else full on a GPU and quick on a CPU)")
    p.add_argument("--preset", choices=["paper", "realistic"], default="paper",
                   help="paper: exact views, no CTF; realistic: jitter, in-plane rotation, shifts, CTF")
    p.add_argument("--views", type=int, help="number of view directions: for a shipped protein up to 4 its first "
                   "N views, more: N directions spread over a hemisphere; for --map the N most distinct (default 4)")
    p.add_argument("--views-deg", help="explicit views 'rot,tilt,psi;...' in degrees (RELION ZYZ; --views-deg=... "
                                       "when it starts with '-'); their number is the number of views")
    p.add_argument("--per-view", type=int, help="images per view")
    p.add_argument("--size", type=int, help="box size in pixels (multiple of 8)")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--clean", action="store_true", help="also write the noise-free stack")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("-o", "--out", required=True, help="output directory")
    p.set_defaults(func=run)
