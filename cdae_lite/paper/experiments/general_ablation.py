"""``python -m cdae_lite.paper general-ablation``: train and score one change of the general denoiser's recipe at a time."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.common import add_recording

NAME = "general-ablation"
HELP = "train and score one change of the general denoiser's recipe at a time"


def add_args(parser: argparse.ArgumentParser) -> None:
    """``--profile``, ``--device``, ``--out`` and ``--notes``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The experiment's parser; gains the options.
    """
    add_recording(parser)


def main(args: argparse.Namespace) -> int:
    """Run it and record it (default: ``results/<profile>/``).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of :func:`add_args`.

    Returns
    -------
    int
        0.
    """
    from cdae_lite.paper.general_ablation import record_ablation

    print(f"wrote {record_ablation(args.profile, args.device, args.out, args.notes)}")
    return 0
