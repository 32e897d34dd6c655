"""``python -m cdae_lite.paper gain``: write the training protein's gain into a checkpoint's record."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.common import add_device

NAME = "gain"
HELP = "write the training-protein gain into a checkpoint's record"


def add_args(parser: argparse.ArgumentParser) -> None:
    """``--out`` (the checkpoint to update: a path, 'general' or 'cdae') and ``--device``."""
    parser.add_argument("--out", help="the checkpoint whose record gains the gain: a path, 'general' (the default) "
                                      "or 'cdae'")
    add_device(parser)


def main(args: argparse.Namespace) -> int:
    """Measure the gain, rewrite the checkpoint's record and print it."""
    from cdae_lite.paper.general import add_recorded_gain

    print(add_recorded_gain(args.out or "general", args.device))
    return 0
