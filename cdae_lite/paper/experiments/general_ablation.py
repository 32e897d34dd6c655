"""``python -m cdae_lite.paper general-ablation``: train and score one change of the general denoiser's recipe at a time."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.common import add_recording as add_args  # noqa: F401 (the experiment's options)
from cdae_lite.paper.experiments.common import recorded

NAME = "general-ablation"
HELP = "train and score one change of the general denoiser's recipe at a time"


def main(args: argparse.Namespace) -> int:
    """Train and score each change of the recipe; record it."""
    from cdae_lite.paper.general_ablation import record_ablation

    return recorded(record_ablation, args)
