"""``python -m cdae_lite.paper general-select``: does a candidate checkpoint replace the shipped general denoiser?"""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.common import UsageError, add_recording, wrote

NAME = "general-select"
HELP = "compare a candidate checkpoint (--init PATH) with the shipped general denoiser on the validation pseudo-proteins"


def add_args(parser: argparse.ArgumentParser) -> None:
    """``--init`` (the candidate), ``--symmetrize`` and the recording options."""
    add_recording(parser)
    parser.add_argument("--init", help="the candidate checkpoint ('general' = the shipped one)")
    parser.add_argument("--symmetrize", type=int, choices=(1, 2, 4, 8), default=1,
                        help="general-select: score the candidate averaged over this many flips and transposes")


def main(args: argparse.Namespace) -> int:
    """Score the candidate and the shipped model on the validation pseudo-proteins; record the choice.

    :class:`UsageError` without ``--init``.
    """
    from cdae_lite.paper.general_select import record_selection

    if not args.init:
        raise UsageError("general-select: give the candidate checkpoint with --init PATH")
    return wrote(record_selection(args.init, "general", args.profile or "cpu", args.device, args.out, args.notes,
                                  args.symmetrize))
