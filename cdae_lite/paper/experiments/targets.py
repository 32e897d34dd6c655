"""``python -m cdae_lite.paper targets``: score the fine-tuning targets' choices of neighbours."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.common import add_recording as add_args  # noqa: F401 (the experiment's options)
from cdae_lite.paper.experiments.common import recorded

NAME = "targets"
HELP = "score the fine-tuning targets' choices of neighbours"


def main(args: argparse.Namespace) -> int:
    """Score the targets' choices of neighbours; record it."""
    from cdae_lite.paper.targets_eval import record_targets_eval

    return recorded(record_targets_eval, args)
