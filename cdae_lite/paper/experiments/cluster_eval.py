"""``python -m cdae_lite.paper cluster-eval``: score ``cdae-lite cluster`` with and without denoising and refinement."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.common import add_recording as add_args  # noqa: F401 (the experiment's options)
from cdae_lite.paper.experiments.common import recorded

NAME = "cluster-eval"
HELP = "score cdae-lite cluster with and without denoising and refinement"


def main(args: argparse.Namespace) -> int:
    """Score ``cdae-lite cluster`` with and without denoising and refinement; record it."""
    from cdae_lite.paper.cluster_eval import record_cluster_eval

    return recorded(record_cluster_eval, args)
