"""The ``cdae-lite`` command line: thin wrappers over the library.

Every subcommand has ``--help`` with an example. A mistake in the input (missing or unreadable file,
wrong shape, bad value) prints one line to stderr and exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

#: Exceptions that mean "the user's input is wrong", reported without a traceback.
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError,
               NotADirectoryError, KeyError)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps examples' line breaks; shows a default only where there is one worth showing."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.default not in (None, False, argparse.SUPPRESS) and "default" not in text
                and action.option_strings):
            text += " (default: %(default)s)"
        return text


def _progress(total: int, desc: str, unit: str = "img"):
    from tqdm.auto import tqdm

    from .config import progress_enabled

    return tqdm(total=total, desc=desc, unit=unit, disable=not progress_enabled(), file=sys.stderr)


# -------------------------------------------------------------------------------------- simulate
def _parse_views(text: str) -> np.ndarray:
    try:
        rows = [[float(x) for x in v.split(",")] for v in text.split(";") if v.strip()]
        arr = np.array(rows, float)
    except ValueError as exc:
        raise ValueError(f"--views-deg must look like 'rot,tilt,psi;rot,tilt,psi', got {text!r}") from exc
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"--views-deg must list (rot, tilt, psi) triples, got {text!r}")
    return arr


def cmd_simulate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .config import SimulationConfig
    from .datasets import load_protein
    from .io import StackWriter, image_names, write_star
    from .maps import load_map
    from .simulate import distinct_views, simulate_blocks

    cfg = SimulationConfig.for_profile(args.profile)
    over = {k: v for k, v in dict(image_size=args.size, images_per_view=args.per_view,
                                  n_views=args.views, seed=args.seed).items() if v is not None}
    cfg = replace(cfg, **over)
    if args.preset == "realistic":
        cfg = cfg.realistic()
    if args.map:
        vol, px = load_map(args.map)
        px = args.pixel_size or px
        if not px:
            raise ValueError(f"{args.map} has no pixel size in its header: give --pixel-size")
        views = _parse_views(args.views_deg) if args.views_deg else distinct_views(vol, cfg.n_views)
        name = Path(args.map).name.split(".")[0]
    else:
        prot = load_protein(args.protein)
        vol, px = prot.volume()
        views = _parse_views(args.views_deg) if args.views_deg else np.array(prot.views_deg)
        name = prot.name
    snrs = tuple(args.snr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta, optics, px_out, blocks = simulate_blocks(vol, px, views, cfg, snrs, device=args.device)
    n, size = len(meta), cfg.image_size
    stems = {s: f"{name}_snr{s:g}" for s in snrs}
    if args.clean:
        stems[None] = f"{name}_clean"
    t0 = time.perf_counter()
    writers = {s: StackWriter(out / f"{stem}.mrcs", n, size, px_out, overwrite=args.overwrite)
               for s, stem in stems.items()}
    sigmas = {s: np.zeros(n) for s in snrs}
    bar = _progress(n, f"simulating {name}")
    try:
        for w in writers.values():
            w.__enter__()
        for start, clean, noisy, sig in blocks:
            for s in snrs:
                writers[s].write(start, noisy[float(s)])
                sigmas[s][start:start + len(clean)] = sig[float(s)]
            if args.clean:
                writers[None].write(start, clean)
            bar.update(len(clean))
    except BaseException as exc:
        for w in writers.values():
            w.__exit__(type(exc), exc, None)
        raise
    finally:
        bar.close()
    for w in writers.values():
        w.__exit__(None, None, None)
    for s, stem in stems.items():
        df = meta.copy()
        df.insert(0, "rlnImageName", image_names(n, f"{stem}.mrcs"))
        df["cdaeSNR"] = np.inf if s is None else float(s)
        if s is not None:
            df["cdaeNoiseSigma"] = sigmas[s]
        write_star(out / f"{stem}.star", df, optics, overwrite=args.overwrite)
    dt = time.perf_counter() - t0
    print(f"wrote {len(stems)} stack(s) of {n} images ({size} px, {px_out:.3f} A/px) to {out} "
          f"in {dt:.1f} s ({n / max(dt, 1e-9):.0f} images/s): " + ", ".join(f"{v}.mrcs" for v in stems.values()))
    return 0


# ------------------------------------------------------------------------------------------ main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdae-lite",
        description="Simulate, denoise and cluster single-particle cryo-EM images with a cascade of "
                    "denoising autoencoders (CDAE). Run 'cdae-lite COMMAND --help' for each command.",
        formatter_class=_Formatter)
    from . import __version__

    parser.add_argument("--version", action="version", version=f"cdae-lite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "simulate", formatter_class=_Formatter,
        help="simulate a labelled particle stack (.mrcs + .star) from a shipped protein or a map",
        description="Simulate projections of a 3D map from a few view directions, with noise at the "
                    "requested SNR(s) (variance of the clean image / variance of the noise). Writes "
                    "NAME_snrS.mrcs and NAME_snrS.star per SNR (and NAME_clean.* with --clean), "
                    "block by block, so stacks larger than memory are fine.",
        epilog="examples:\n"
               "  cdae-lite simulate --protein rubisco --snr 0.1 0.4 0.6 --clean -o sim/\n"
               "  cdae-lite simulate --protein adk --profile quick --preset realistic -o sim/\n"
               "  cdae-lite simulate --map mymap.mrc --pixel-size 1.1 --views 4 --per-view 500 -o sim/")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--protein", default="rubisco",
                     help="shipped protein (rubisco, proteasome, cxcr4, adk) or the paper's ID it stands for")
    src.add_argument("--map", help="simulate from this MRC map instead of a shipped protein")
    p.add_argument("--pixel-size", type=float, help="pixel size of --map in Angstrom (default: its header)")
    p.add_argument("--snr", type=float, nargs="+", default=[0.1], help="one or more SNRs")
    p.add_argument("--profile", choices=["quick", "full"],
                   help="scale: quick = 32 px, 150 images per view; full = 64 px, 1000 per view "
                        "(default: $CDAE_PROFILE, else full on a GPU and quick on a CPU)")
    p.add_argument("--preset", choices=["paper", "realistic"], default="paper",
                   help="paper: exact views, no CTF; realistic: jitter, in-plane rotation, shifts, CTF")
    p.add_argument("--views", type=int, help="number of view directions")
    p.add_argument("--views-deg", help="explicit views 'rot,tilt,psi;...' in degrees (RELION ZYZ)")
    p.add_argument("--per-view", type=int, help="images per view")
    p.add_argument("--size", type=int, help="box size in pixels (multiple of 8)")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--clean", action="store_true", help="also write the noise-free stack")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("-o", "--out", required=True, help="output directory")
    p.set_defaults(func=cmd_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"cdae-lite {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cdae-lite {args.command}: interrupted; no partial output was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
