"""The paper's experiments, one module per ``python -m cdae_lite.paper EXPERIMENT``.

Each module has ``NAME`` (the experiment's name on the command line), ``HELP`` (one line),
``add_args(parser)`` (its options) and ``main(args) -> int`` (runs it and records the result under
``results/<profile>/``), like the ``cdae-lite`` command files in :mod:`cdae_lite.cli`.
:mod:`cdae_lite.paper.command` is the dispatcher.
"""

from cdae_lite.paper.experiments import (all_tables, baselines, cdae, cluster_eval, clustering, gain, general,
                                         general_ablation, general_cdae, general_eval, general_select, peers,
                                         targets)

#: The experiments in the order ``--help`` lists them.
EXPERIMENTS = (cdae, baselines, clustering, all_tables, general, general_cdae, gain, general_eval, general_select,
               general_ablation, cluster_eval, targets, peers)

__all__ = ["EXPERIMENTS"]
