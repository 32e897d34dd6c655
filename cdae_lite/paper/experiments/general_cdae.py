"""``python -m cdae_lite.paper general-cdae``: train the shipped general CDAE (``data/weights/cdae_general.pt``)."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.common import add_device, wrote

NAME = "general-cdae"
HELP = "train the shipped general CDAE"


def add_args(parser: argparse.ArgumentParser) -> None:
    """``--out`` (the checkpoint) and ``--device``."""
    parser.add_argument("--out", help="output checkpoint (default: the config's)")
    add_device(parser)


def main(args: argparse.Namespace) -> int:
    """Train the general CDAE with :class:`~cdae_lite.paper.general_cdae.GeneralModelConfig`'s defaults."""
    from cdae_lite.paper.general_cdae import GeneralModelConfig, train_general_model

    return wrote(train_general_model(GeneralModelConfig(), args.out, args.device))
