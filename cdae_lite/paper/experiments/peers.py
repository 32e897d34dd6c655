"""``python -m cdae_lite.paper peers``: Topaz-Denoise and ASPIRE's Cov2D beside the general denoiser."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.common import ExperimentError, add_recording

NAME = "peers"
HELP = "score Topaz-Denoise and ASPIRE's Cov2D beside the general denoiser (needs the [peers] extra)"


def add_args(parser: argparse.ArgumentParser) -> None:
    """``--profile``, ``--device``, ``--out`` and ``--notes``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The experiment's parser; gains the options.
    """
    add_recording(parser)


def main(args: argparse.Namespace) -> int:
    """Run the peers and record them (default: ``results/<profile>/peers.json``).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of :func:`add_args`.

    Returns
    -------
    int
        0.

    Raises
    ------
    ExperimentError
        When a peer is not installed.
    """
    from cdae_lite.paper.peers import PeerError, record_peers

    try:
        print(f"wrote {record_peers(args.profile, args.device, args.out, args.notes)}")
    except PeerError as e:
        raise ExperimentError(f"peers: {e}") from e
    return 0
