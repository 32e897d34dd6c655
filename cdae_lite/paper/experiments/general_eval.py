"""``python -m cdae_lite.paper general-eval``: score the shipped general denoiser and general CDAE against a tuned BM3D."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.common import add_recording as add_args  # noqa: F401 (the experiment's options)
from cdae_lite.paper.experiments.common import recorded

NAME = "general-eval"
HELP = "score the general denoiser and the general CDAE against a tuned BM3D"


def main(args: argparse.Namespace) -> int:
    """Score the general models against a tuned BM3D; record it."""
    from cdae_lite.paper.general_eval import record_general_eval

    return recorded(record_general_eval, args)
