"""``python -m cdae_lite.paper cluster-eval``: score ``cdae-lite cluster`` with and without denoising and refinement."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.common import add_recording

NAME = "cluster-eval"
HELP = "score cdae-lite cluster with and without denoising and refinement"


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
    from cdae_lite.paper.cluster_eval import record_cluster_eval

    print(f"wrote {record_cluster_eval(args.profile, args.device, args.out, args.notes)}")
    return 0
