"""The paper's experiments, one module per ``python -m cdae_lite.paper EXPERIMENT``.

Each module has, like the ``cdae-lite`` command files in :mod:`cdae_lite.cli`:

``NAME`` : str
    The experiment's name on the command line.
``HELP`` : str
    One line, for ``--help``.
``add_args(parser: argparse.ArgumentParser) -> None``
    Adds the experiment's options to its sub-parser.
``main(args: argparse.Namespace) -> int``
    Runs the experiment on the parsed options of its ``add_args``, records the result (by default under
    ``results/<profile>/<experiment>.json``, or a checkpoint under ``data/weights/``), prints
    ``wrote PATH`` and returns 0, the exit status. It raises
    :class:`~cdae_lite.paper.experiments.common.UsageError` for a command line that names an impossible
    run and :class:`~cdae_lite.paper.experiments.common.ExperimentError` for a run that cannot start.

:mod:`cdae_lite.paper.experiments.common` holds the options and helpers they share (not an
experiment); :mod:`cdae_lite.paper.command` is the dispatcher.
"""

from cdae_lite.paper.experiments import (all_tables, baselines, cdae, cluster_eval, clustering, gain, general,
                                         general_ablation, general_cdae, general_eval, general_select, peers,
                                         targets)

#: The experiments in the order ``--help`` lists them.
EXPERIMENTS = (cdae, baselines, clustering, all_tables, general, general_cdae, gain, general_eval, general_select,
               general_ablation, cluster_eval, targets, peers)

__all__ = ["EXPERIMENTS"]
