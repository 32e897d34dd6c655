"""The ``cdae-lite`` command line: one module per command, each parsing its arguments and calling the library.

Every subcommand has ``--help`` with an example. A mistake in the input (missing or unreadable file,
wrong shape, bad value) prints one line to stderr and exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys

from cdae_lite.cli import cluster, denoise, evaluate, simulate, train
from cdae_lite.cli.common import USER_ERRORS, Formatter

COMMANDS = (simulate, denoise, train, cluster, evaluate)


def build_parser() -> argparse.ArgumentParser:
    """The ``cdae-lite`` parser with every subcommand."""
    from cdae_lite import __version__

    parser = argparse.ArgumentParser(
        prog="cdae-lite",
        description="Simulate, denoise and cluster single-particle cryo-EM images with a cascade of "
                    "denoising autoencoders (CDAE). Run 'cdae-lite COMMAND --help' for each command.",
        formatter_class=Formatter)
    parser.add_argument("--version", action="version", version=f"cdae-lite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``cdae-lite`` with ``argv`` (default: the command line); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"cdae-lite {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cdae-lite {args.command}: interrupted; no partial output was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
