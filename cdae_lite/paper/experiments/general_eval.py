"""``python -m cdae_lite.paper general-eval``: score the shipped general denoiser and general CDAE against a tuned BM3D."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.common import add_recording

NAME = "general-eval"
HELP = "score the general denoiser and the general CDAE against a tuned BM3D"


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
    from cdae_lite.paper.general_eval import record_general_eval

    print(f"wrote {record_general_eval(args.profile, args.device, args.out, args.notes)}")
    return 0
