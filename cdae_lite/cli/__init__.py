"""The ``cdae-lite`` command line: one module per command, each parsing its arguments and calling the library.

Every subcommand has ``--help`` with an example. A mistake in the input (missing or unreadable file,
wrong shape, bad value) prints one line to stderr and exits with status 2; no traceback. Messages (the
library's log, through ``logging``) go to stderr one line each; ``--quiet`` keeps warnings and errors
only and hides progress bars, ``--verbose`` adds debug messages. Results go to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading

from cdae_lite.cli import cluster, denoise, evaluate, relion_external, simulate, train
from cdae_lite.cli.common import USER_ERRORS, Formatter, add_verbosity, messages

COMMANDS = (simulate, denoise, train, cluster, evaluate, relion_external)

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The ``cdae-lite`` parser with every subcommand."""
    from cdae_lite import __version__

    parser = argparse.ArgumentParser(
        prog="cdae-lite",
        description="Simulate, denoise and cluster single-particle cryo-EM images with a cascade of "
                    "denoising autoencoders (CDAE). Run 'cdae-lite COMMAND --help' for each command.",
        formatter_class=Formatter)
    parser.add_argument("--version", action="version", version=f"cdae-lite {__version__}")
    add_verbosity(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    for subparser in sub.choices.values():
        add_verbosity(subparser, suppress=True)
    return parser


class Terminated(KeyboardInterrupt):
    """Raised by SIGTERM or SIGHUP, so that partial outputs are cleaned up as for Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum, frame):
    raise Terminated(signum)


@contextlib.contextmanager
def _cleanup_on_signals():
    """SIGTERM and SIGHUP (a job scheduler's kill, a closed terminal) unwind like Ctrl-C while a command runs."""
    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {n: signal.signal(getattr(signal, n), _terminate) for n in names}
    try:
        yield
    finally:
        for n, handler in old.items():
            signal.signal(getattr(signal, n), handler)


def main(argv: list[str] | None = None) -> int:
    """Run ``cdae-lite`` with ``argv``.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``cdae-lite`` (default: the command line).

    Returns
    -------
    int
        The exit status. 0: done; 2: a mistake in the input, a full disk or too little memory (one line
        on stderr, nothing written); 1: a bug (traceback and where to report it); 130 after Ctrl-C,
        128 + N after signal N (SIGTERM, SIGHUP), with partial outputs removed.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "extra_arguments", False):  # only RELION's External job takes (and ignores) more
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from cdae_lite.distributed import is_main

    with messages(args.quiet, args.verbose, main_process=is_main()):
        return _run(args, f"cdae-lite {args.command}", is_main())


def _run(args: argparse.Namespace, prefix: str, main_process: bool) -> int:
    """Run the command; an expected failure becomes one logged line and an exit status."""
    say = log.error if main_process else (lambda *a, **k: None)  # under torchrun, one message from rank 0
    try:
        with _cleanup_on_signals():
            return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        say(f"{prefix}: error: {msg}")
        return 2
    except OSError as exc:  # a full disk, an I/O error, a broken gzip stream
        where = f" ({exc.filename})" if exc.filename else ""
        say(f"{prefix}: error: {exc.strerror or exc}{where}; no partial output was kept")
        return 2
    except MemoryError:
        say(f"{prefix}: error: out of memory; try a smaller --batch-size (nothing was written)")
        return 2
    except Exception:  # not an expected failure: a bug; show where it happened
        import traceback

        from cdae_lite import REPOSITORY_URL

        say(traceback.format_exc().rstrip())
        say(f"{prefix}: unexpected error (a bug in cdae-lite): please report it at {REPOSITORY_URL}/issues "
            "with the command and the traceback above")
        return 1
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        what = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
        say(f"{prefix}: {what}; no partial output was kept")
        return 128 + int(signum)


if __name__ == "__main__":
    sys.exit(main())
