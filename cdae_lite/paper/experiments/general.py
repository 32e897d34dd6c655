"""``python -m cdae_lite.paper general``: train the shipped general denoiser (``data/weights/denoiser_general.pt``)."""

from __future__ import annotations

import argparse
from dataclasses import replace

from cdae_lite.paper.experiments.common import add_device, add_profile, add_seeds

NAME = "general"
HELP = "train the shipped general denoiser"


def add_args(parser: argparse.ArgumentParser) -> None:
    """The training's options: profile, seed, time, learning rate, batch, bank and network widths.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The experiment's parser; gains the options.
    """
    add_profile(parser)
    add_seeds(parser)
    add_device(parser)
    parser.add_argument("--out", help="output checkpoint (default: the config's)")
    parser.add_argument("--minutes", type=float, help="general: training time (default: the config's)")
    parser.add_argument("--init", help="general: start from this checkpoint ('general' = the shipped one) instead of "
                                       "random weights, on a new bank (--seeds S: the bank's and training's seed)")
    parser.add_argument("--lr", type=float, help="general: peak learning rate (default: the config's)")
    parser.add_argument("--batch-size", type=int, help="general: images per step (default: the config's, 32; "
                                                       "larger on a GPU, e.g. 256)")
    parser.add_argument("--high-snr-fraction", type=float,
                        help="general: share of training images at SNR 0.3-3 (default: the config's)")
    parser.add_argument("--phantoms", type=int, help="general: pseudo-proteins in the bank (default: the config's)")
    parser.add_argument("--channels", type=int, nargs=4, metavar="C",
                        help="general: the U-Net's widths, three levels and the bottleneck (default: the config's, "
                             "32 64 128 128); wider on a GPU, e.g. 64 128 256 256")


def config(args: argparse.Namespace):
    """The training config the command line asks for: the profile's, then the options given.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of :func:`add_args`.

    Returns
    -------
    GeneralDenoiserConfig
        The profile's config (``cpu`` counts as ``full``) with every option given replacing its field.
    """
    from cdae_lite.denoise.models import GeneralUNetConfig
    from cdae_lite.paper.general import GeneralDenoiserConfig

    cfg = GeneralDenoiserConfig.for_profile("full" if args.profile in ("cpu", "full") else args.profile)
    train = {k: v for k, v in {"minutes": args.minutes, "lr": args.lr, "seed": args.seeds[0],
                               "high_snr_fraction": args.high_snr_fraction, "batch_size": args.batch_size}.items()
             if v is not None}
    net = GeneralUNetConfig(tuple(args.channels)) if args.channels else None
    top = {k: v for k, v in {"init": args.init, "seed": args.seeds[0], "n_phantoms": args.phantoms,
                             "net": net}.items() if v is not None}
    return replace(cfg, train=replace(cfg.train, **train), **top)


def main(args: argparse.Namespace) -> int:
    """Train and write the checkpoint (data-parallel under ``torchrun --nproc-per-node N``).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of :func:`add_args`.

    Returns
    -------
    int
        0.
    """
    from cdae_lite.distributed import is_main, local_device, process_group
    from cdae_lite.paper.general import train_general_denoiser
    from cdae_lite.runtime import get_device

    cfg = config(args)
    device = get_device(local_device(args.device))
    with process_group(device):  # torchrun --nproc-per-node N -m cdae_lite.paper general: data-parallel
        path = train_general_denoiser(cfg, args.out, device)
    if is_main():
        print(f"wrote {path}")
    return 0
