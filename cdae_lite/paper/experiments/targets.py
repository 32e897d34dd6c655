"""``python -m cdae_lite.paper targets``: score the fine-tuning targets' choices of neighbours."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.common import add_recording

NAME = "targets"
HELP = "score the fine-tuning targets' choices of neighbours"


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
    from cdae_lite.paper.targets_eval import record_targets_eval

    print(f"wrote {record_targets_eval(args.profile, args.device, args.out, args.notes)}")
    return 0
