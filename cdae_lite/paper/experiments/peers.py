"""``python -m cdae_lite.paper peers``: Topaz-Denoise and ASPIRE's Cov2D beside the general denoiser."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.common import add_recording as add_args  # noqa: F401 (the experiment's options)
from cdae_lite.paper.experiments.common import ExperimentError, recorded

NAME = "peers"
HELP = "score Topaz-Denoise and ASPIRE's Cov2D beside the general denoiser (needs the [peers] extra)"


def main(args: argparse.Namespace) -> int:
    """Run the peers and record them; :class:`ExperimentError` when a peer is not installed."""
    from cdae_lite.paper.peers import PeerError, record_peers

    try:
        return recorded(record_peers, args)
    except PeerError as e:
        raise ExperimentError(f"peers: {e}") from e
