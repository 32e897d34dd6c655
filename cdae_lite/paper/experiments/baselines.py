"""``python -m cdae_lite.paper baselines``: chapter 4 (the paper's Table 1 and beyond) on the first seed."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.cdae import add_family_args as add_args  # noqa: F401 (the experiment's options)
from cdae_lite.paper.experiments.cdae import plan, run_chapter

NAME = "baselines"
HELP = "chapter 4: every denoiser on the same test images (the paper's Table 1), first seed"


def main(args: argparse.Namespace) -> int:
    """Run chapter 4's experiment on the first seed of ``--seeds`` and record it."""
    return run_chapter(plan(args), NAME, args.seeds[0], args.device, args.out)
