"""``python -m cdae_lite.paper all``: the cascade on the first seed, chapters 4 and 5, then the other seeds."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments import cdae

NAME = "all"
HELP = "cdae (first seed), baselines, clustering, then cdae for every seed"


def add_args(parser: argparse.ArgumentParser) -> None:
    """The options of ``cdae`` (:func:`cdae_lite.paper.experiments.cdae.add_args`)."""
    cdae.add_args(parser)


def main(args: argparse.Namespace) -> int:
    """The most important single-seed results first, the extra seeds last.

    ``--out`` names the cascade's record; chapters 4 and 5 go to their default files.
    """
    p = cdae.plan(args)
    first = args.seeds[0]
    cdae.run_seeds(p, args, [first])
    cdae.run_chapter(p, "baselines", first, args.device, None)
    cdae.run_chapter(p, "clustering", first, args.device, None)
    if len(args.seeds) > 1:
        cdae.run_seeds(p, args, args.seeds)
    return 0
