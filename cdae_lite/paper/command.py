"""``python -m cdae_lite.paper EXPERIMENT``: run an experiment and record it under ``results/<profile>/``.

One module per experiment under :mod:`cdae_lite.paper.experiments`; this dispatcher builds one
sub-parser per module (its ``add_args``) and calls its ``main``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from cdae_lite.paper.experiments import EXPERIMENTS
from cdae_lite.paper.experiments.common import ExperimentError, UsageError

PROG = "python -m cdae_lite.paper"


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The command's parser with one sub-parser per experiment.

    Returns
    -------
    tuple of (argparse.ArgumentParser, dict)
        The parser and each experiment's sub-parser by name.
    """
    ap = argparse.ArgumentParser(prog=PROG, description="Run an experiment and record it under results/<profile>/. "
                                                        f"Run '{PROG} EXPERIMENT --help' for its options.")
    sub = ap.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    parsers = {}
    for module in EXPERIMENTS:
        parsers[module.NAME] = p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_args(p)
        p.set_defaults(run=module.main)
    return ap, parsers


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line) and run the experiment it names.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after ``python -m cdae_lite.paper``.

    Returns
    -------
    int
        The experiment's exit status (0). A usage mistake, the smoke path (``CDAE_SMOKE``, which never
        writes recorded results) or a missing optional dependency exits with status 2.
    """
    from cdae_lite.paper.profiles import smoke

    ap, parsers = build_parser()
    args = ap.parse_args(argv)
    if smoke():
        ap.error("CDAE_SMOKE is set: the smoke path (a handful of images, one epoch) never writes recorded results; "
                 "unset it")
    # the library only logs (cdae_lite installs a NullHandler): show its information and warnings here
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.run(args)
    except UsageError as e:
        parsers[args.experiment].error(str(e))
    except ExperimentError as e:
        ap.exit(2, f"{e}\n")
    return 2  # not reached: error and exit raise SystemExit


if __name__ == "__main__":
    sys.exit(main())
