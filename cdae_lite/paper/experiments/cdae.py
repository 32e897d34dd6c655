"""``python -m cdae_lite.paper cdae``: the cascade experiment of chapters 2 and 3, one record per variant.

Also what ``baselines``, ``clustering`` and ``all`` share: their options (:func:`add_family_args`),
the configs a command line names (:func:`plan`) and chapter 4 or 5's run on one seed (:func:`run_chapter`).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import NamedTuple

from cdae_lite.paper.configs import (CPU_BUDGET_NOTE, CPU_IMAGES_PER_VIEW, CPU_PROFILE_NOTE, BaselineExperiment,
                                     CDAEExperiment, ClusteringExperiment)
from cdae_lite.paper.experiments.common import add_device, add_profile, add_record, add_seeds, wrote

NAME = "cdae"
HELP = "the cascade experiment (chapters 2 and 3): pre-training, fine-tuning, the end-to-end control"


class Plan(NamedTuple):
    """The configs one command line of the cascade family names.

    Attributes
    ----------
    profile : str -- ``quick``, ``full`` or ``cpu``: the folder under ``results/``.
    exp : CDAEExperiment -- the cascade experiment (its variant, if one was asked for).
    baselines : BaselineExperiment -- chapter 4's config on ``exp``'s data.
    clustering : ClusteringExperiment -- chapter 5's config on ``exp``'s data.
    name : str -- the cascade record's name (``cdae``, ``cdae_no_output_dropout``...).
    notes : str -- the records' notes: the user's, then what the profile and budget changed.
    """

    profile: str
    exp: CDAEExperiment
    baselines: BaselineExperiment
    clustering: ClusteringExperiment
    name: str
    notes: str


def cdae_variant(exp: CDAEExperiment, no_output_dropout: bool = False,
                 better_targets: bool = False) -> tuple[CDAEExperiment, str]:
    """The cascade experiment's variant and the name it is recorded under.

    Parameters
    ----------
    exp : CDAEExperiment
        The paper's protocol at some profile.
    no_output_dropout : bool
        No dropout before each block's output layer (``cdae_no_output_dropout``).
    better_targets : bool
        Fine-tuning on up to 4k neighbours within 1.2 times the k-th one's distance, inside the
        image's k-means cluster (suffix ``_better_targets``; chapter 3.4).

    Returns
    -------
    tuple of (CDAEExperiment, str)
        The variant and its record's name.
    """
    name = "cdae"
    if no_output_dropout:
        exp = replace(exp, ae=replace(exp.ae, output_dropout=False))
        name = "cdae_no_output_dropout"
    if better_targets:
        k = exp.finetune.k
        exp = replace(exp, finetune=replace(exp.finetune, k=4 * k, min_k=k, clusters=exp.sim.n_views))
        name += "_better_targets"
    return exp, name


def add_family_args(parser: argparse.ArgumentParser) -> None:
    """The options of ``cdae``, ``baselines``, ``clustering`` and ``all``: profile, seeds, budget, variant.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The experiment's parser; gains the options.
    """
    add_profile(parser)
    add_seeds(parser)
    add_device(parser)
    parser.add_argument("--cpu-budget", action="store_true", help=CPU_BUDGET_NOTE)
    add_record(parser)
    parser.add_argument("--no-output-dropout", action="store_true",
                        help="cdae: the variant without dropout before each block's output layer (recorded as "
                             "cdae_no_output_dropout)")
    parser.add_argument("--better-targets", action="store_true",
                        help="cdae: fine-tune on the better targets of chapter 3.4 (up to 4k neighbours within 1.2x "
                             "the k-th one's distance, inside the image's k-means cluster) instead of the paper's k "
                             "nearest (recorded with the suffix _better_targets)")


def add_args(parser: argparse.ArgumentParser) -> None:
    """The family's options and which seeds get fine-tuned and an end-to-end control."""
    add_family_args(parser)
    parser.add_argument("--finetune-seeds", type=int, nargs="*", help="seeds to fine-tune (default: all)")
    parser.add_argument("--control-seeds", type=int, nargs="*",
                        help="seeds to train the control for (default: all)")


def plan(args: argparse.Namespace) -> Plan:
    """The configs and notes a command line of the family names.

    The ``cpu`` profile is the full one with :data:`~cdae_lite.paper.configs.CPU_IMAGES_PER_VIEW`
    images per view and implies ``--cpu-budget``, which shrinks chapters 4 and 5's networks and epochs.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of :func:`add_family_args`.

    Returns
    -------
    Plan
    """
    from cdae_lite.paper.profiles import get_profile
    from cdae_lite.simulation.config import SimulationConfig

    notes, budget = args.notes, args.cpu_budget
    if args.profile == "cpu":
        profile = "cpu"
        exp = CDAEExperiment.full(sim=replace(SimulationConfig(), images_per_view=CPU_IMAGES_PER_VIEW))
        bx = BaselineExperiment.for_profile("full", cdae=exp)
        cx = ClusteringExperiment.for_profile("full", cdae=exp)
        budget = True
        notes = (notes + " " + CPU_PROFILE_NOTE).strip()
    else:
        profile = get_profile(args.profile)
        exp = CDAEExperiment.for_profile(profile)
        bx = BaselineExperiment.for_profile(profile, cdae=exp)
        cx = ClusteringExperiment.for_profile(profile, cdae=exp)
    exp, name = cdae_variant(exp, args.no_output_dropout, args.better_targets)
    if budget:
        from cdae_lite.denoise.models import DnCNNConfig

        bx = replace(bx, dncnn=DnCNNConfig(depth=10, channels=48), dncnn_train=replace(bx.dncnn_train, epochs=10),
                     n2v_train=replace(bx.n2v_train, epochs=10))
        cx = replace(cx, feature_train=replace(cx.feature_train, epochs=10), aae_iterations=300,
                     sweep_finetune_epochs=8)
        notes = (notes + " " + CPU_BUDGET_NOTE).strip()
    return Plan(profile, exp, bx, cx, name, notes)


def run_seeds(p: Plan, args: argparse.Namespace, seeds: list[int]) -> None:
    """Run the cascade experiment on ``seeds`` and record it, rewriting the record after every seed.

    Parameters
    ----------
    p : Plan
        What :func:`plan` made of the command line.
    args : argparse.Namespace
        Parsed options of :func:`add_args` (seeds to fine-tune, control seeds, device, output).
    seeds : list of int
        The seeds to run.
    """
    from cdae_lite.paper.cdae import run_cdae
    from cdae_lite.paper.results import record

    fts = args.seeds if args.finetune_seeds is None else args.finetune_seeds
    ctl = args.seeds if args.control_seeds is None else args.control_seeds

    def save(partial):
        done = [r["seed"] for r in partial["per_seed"]]  # a partial save names only the seeds it holds
        pending = [s for s in seeds if s not in done]
        late = f" Seeds {pending} were planned but had not finished when this file was written." if pending else ""
        notes = (p.notes + f" Fine-tuned seeds: {[s for s in fts if s in done]}; end-to-end control seeds: "
                 f"{[s for s in ctl if s in done]}." + late).strip()
        return record(p.name, p.profile, p.exp.as_dict(), partial, done, args.device, args.out, notes)

    res = run_cdae(p.exp, seeds, args.device, finetune_seeds=fts, control_seeds=ctl, on_seed=save)
    wrote(save(res))


def run_chapter(p: Plan, chapter: str, seed: int, device, out) -> int:
    """Run chapter 4's or 5's experiment on the cascade's data at ``seed`` and record it.

    Parameters
    ----------
    p : Plan
        What :func:`plan` made of the command line.
    chapter : str
        ``baselines`` (chapter 4, :attr:`Plan.baselines`) or ``clustering`` (chapter 5,
        :attr:`Plan.clustering`): the experiment and its record's name.
    seed : int
        Seed of the data and the cascade's networks.
    device : str or None
        Torch device.
    out : str or None
        Output JSON (default ``results/<profile>/<chapter>.json``).

    Returns
    -------
    int
        0, the exit status.
    """
    from cdae_lite.paper.results import record

    if chapter == "baselines":
        from cdae_lite.paper.baselines import run_baselines as run
    else:
        from cdae_lite.paper.clustering import run_clustering as run
    cfg = replace(getattr(p, chapter), cdae=p.exp.with_seed(seed))
    return wrote(record(chapter, p.profile, cfg.as_dict(), run(cfg, device), [seed], device, out, p.notes))


def main(args: argparse.Namespace) -> int:
    """Run the cascade experiment on every seed of ``--seeds``."""
    run_seeds(plan(args), args, args.seeds)
    return 0
