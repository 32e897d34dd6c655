"""``python -m cdae_lite.paper clustering``: chapter 5 (the paper's Table 2 and beyond) on the first seed."""

from __future__ import annotations

import argparse
from dataclasses import replace

from cdae_lite.paper.experiments.cdae import Plan, add_family_args, plan

NAME = "clustering"
HELP = "chapter 5: clustering the test proteins by view (the paper's Table 2), first seed"


def add_args(parser: argparse.ArgumentParser) -> None:
    """The cascade family's options (:func:`~cdae_lite.paper.experiments.cdae.add_family_args`).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The experiment's parser; gains the options.
    """
    add_family_args(parser)


def run(p: Plan, seed: int, device, out) -> None:
    """Run chapter 5's experiment on the cascade's data at ``seed`` and record it.

    Parameters
    ----------
    p : Plan
        The configs the command line names.
    seed : int
        Seed of the data and the cascade's networks.
    device : str or None
        Torch device.
    out : str or None
        Output JSON (default ``results/<profile>/clustering.json``).
    """
    from cdae_lite.paper.clustering import run_clustering
    from cdae_lite.paper.results import record

    cx = replace(p.clustering, cdae=p.exp.with_seed(seed))
    print("wrote", record("clustering", p.profile, cx.as_dict(), run_clustering(cx, device), [seed], device, out,
                          p.notes))


def main(args: argparse.Namespace) -> int:
    """Run it on the first seed of ``--seeds``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of :func:`add_args`.

    Returns
    -------
    int
        0.
    """
    run(plan(args), args.seeds[0], args.device, args.out)
    return 0
