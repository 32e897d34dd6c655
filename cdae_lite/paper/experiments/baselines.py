"""``python -m cdae_lite.paper baselines``: chapter 4 (the paper's Table 1 and beyond) on the first seed."""

from __future__ import annotations

import argparse
from dataclasses import replace

from cdae_lite.paper.experiments.cdae import Plan, add_family_args, plan

NAME = "baselines"
HELP = "chapter 4: every denoiser on the same test images (the paper's Table 1), first seed"


def add_args(parser: argparse.ArgumentParser) -> None:
    """The cascade family's options (:func:`~cdae_lite.paper.experiments.cdae.add_family_args`).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The experiment's parser; gains the options.
    """
    add_family_args(parser)


def run(p: Plan, seed: int, device, out) -> None:
    """Run chapter 4's experiment on the cascade's data at ``seed`` and record it.

    Parameters
    ----------
    p : Plan
        The configs the command line names.
    seed : int
        Seed of the data and the cascade's networks.
    device : str or None
        Torch device.
    out : str or None
        Output JSON (default ``results/<profile>/baselines.json``).
    """
    from cdae_lite.paper.baselines import run_baselines
    from cdae_lite.paper.results import record

    bx = replace(p.baselines, cdae=p.exp.with_seed(seed))
    print("wrote", record("baselines", p.profile, bx.as_dict(), run_baselines(bx, device), [seed], device, out,
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
