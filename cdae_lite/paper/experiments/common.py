"""Options and errors that several experiments share."""

from __future__ import annotations

import argparse


class UsageError(Exception):
    """A command line that names an impossible run: the dispatcher reports it as argparse does (exit 2)."""


class ExperimentError(Exception):
    """A run that cannot start (a missing optional dependency...): one line on stderr, exit 2."""


def add_profile(parser: argparse.ArgumentParser) -> None:
    """``--profile quick|full|cpu``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The experiment's parser; gains the option.
    """
    from cdae_lite.paper.configs import CPU_PROFILE_NOTE

    parser.add_argument("--profile", choices=["quick", "full", "cpu"],
                        help="quick, full (the paper's scale), or cpu: " + CPU_PROFILE_NOTE + " Implies --cpu-budget.")


def add_device(parser: argparse.ArgumentParser) -> None:
    """``--device`` (default: CUDA when available)."""
    parser.add_argument("--device")


def add_record(parser: argparse.ArgumentParser) -> None:
    """``--out`` and ``--notes``: where the record goes and what it says besides the provenance."""
    parser.add_argument("--out", help="output JSON (default results/<profile>/<experiment>.json)")
    parser.add_argument("--notes", default="")


def add_recording(parser: argparse.ArgumentParser) -> None:
    """The options of an experiment that takes only a profile and records one JSON file:
    ``--profile``, ``--device``, ``--out``, ``--notes``."""
    add_profile(parser)
    add_device(parser)
    add_record(parser)


def add_seeds(parser: argparse.ArgumentParser) -> None:
    """``--seeds S [S ...]`` (default: 0)."""
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])


def wrote(path) -> int:
    """Print ``wrote PATH``, an experiment's last line, and return 0, its exit status."""
    print(f"wrote {path}")
    return 0


def recorded(record, args: argparse.Namespace) -> int:
    """Run an experiment of :func:`add_recording`'s options and print where it wrote.

    Calls ``record(args.profile, args.device, args.out, args.notes)``, which returns the record's path.
    """
    return wrote(record(args.profile, args.device, args.out, args.notes))
