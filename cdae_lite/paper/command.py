"""``python -m cdae_lite.paper``: run an experiment and record it under ``results/<profile>/``."""

from __future__ import annotations

import argparse
from dataclasses import replace

from cdae_lite.denoise.models import DenoiserConfig, DnCNNConfig
from cdae_lite.paper.baselines import run_baselines
from cdae_lite.paper.cdae import run_cdae
from cdae_lite.paper.clustering import run_clustering
from cdae_lite.paper.configs import (CPU_BUDGET_NOTE, CPU_IMAGES_PER_VIEW, CPU_PROFILE_NOTE, BaselineExperiment,
                                     CDAEExperiment, ClusteringExperiment)
from cdae_lite.paper.general import GeneralDenoiserConfig, train_general_denoiser
from cdae_lite.paper.general_cdae import GeneralModelConfig, train_general_model
from cdae_lite.paper.results import record
from cdae_lite.runtime import get_profile, smoke
from cdae_lite.simulation.config import SimulationConfig


def cdae_variant(exp: CDAEExperiment, no_output_dropout: bool = False,
                 better_targets: bool = False) -> tuple[CDAEExperiment, str]:
    """The cascade experiment's variant and the name it is recorded under.

    ``no_output_dropout``: no dropout before each block's output layer (``cdae_no_output_dropout``).
    ``better_targets``: fine-tuning on up to 4k neighbours within 1.2 times the k-th one's distance,
    inside the image's k-means cluster (suffix ``_better_targets``; chapter 3.4).
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cdae_lite.paper",
                                 description="Run an experiment and record it under results/<profile>/.")
    ap.add_argument("experiment", choices=["cdae", "baselines", "clustering", "general", "general-cdae", "general-eval",
                                           "general-ablation", "general-select", "cluster-eval", "targets", "peers", "gain", "all"],
                    help="'all' runs cdae (first seed), baselines, clustering, then cdae for every seed; 'general' "
                         "trains the shipped general denoiser, 'general-cdae' the shipped general CDAE, "
                         "'general-eval' scores both against a tuned BM3D, "
                         "'general-ablation' trains and scores one change of the general denoiser's recipe at a "
                         "time, 'general-select' compares a candidate checkpoint (--init PATH) with the shipped general "
                         "denoiser on the validation pseudo-proteins, 'cluster-eval' scores cdae-lite cluster with and without denoising and refinement, "
                         "'targets' scores the fine-tuning targets' choices of neighbours, 'peers' scores Topaz-Denoise and "
                         "ASPIRE's Cov2D beside the general denoiser (needs the [peers] extra)")
    ap.add_argument("--profile", choices=["quick", "full", "cpu"],
                    help="quick, full (the paper's scale), or cpu: " + CPU_PROFILE_NOTE + " Implies --cpu-budget.")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--device")
    ap.add_argument("--finetune-seeds", type=int, nargs="*", help="seeds to fine-tune (default: all)")
    ap.add_argument("--control-seeds", type=int, nargs="*", help="seeds to train the control for (default: all)")
    ap.add_argument("--cpu-budget", action="store_true", help=CPU_BUDGET_NOTE)
    ap.add_argument("--out", help="output JSON (default results/<profile>/<experiment>.json)")
    ap.add_argument("--notes", default="")
    ap.add_argument("--minutes", type=float, help="general: training time (default: the config's)")
    ap.add_argument("--init", help="general: start from this checkpoint ('general' = the shipped one) instead of "
                                   "random weights, on a new bank (--seeds S: the bank's and training's seed)")
    ap.add_argument("--lr", type=float, help="general: peak learning rate (default: the config's)")
    ap.add_argument("--batch-size", type=int, help="general: images per step (default: the config's, 32; "
                                                   "larger on a GPU, e.g. 256)")
    ap.add_argument("--high-snr-fraction", type=float,
                    help="general: share of training images at SNR 0.3-3 (default: the config's)")
    ap.add_argument("--phantoms", type=int, help="general: pseudo-proteins in the bank (default: the config's)")
    ap.add_argument("--channels", type=int, nargs=4, metavar="C",
                    help="general: the U-Net's widths, three levels and the bottleneck (default: the config's, "
                         "32 64 128 128); wider on a GPU, e.g. 64 128 256 256")
    ap.add_argument("--symmetrize", type=int, choices=(1, 2, 4, 8), default=1,
                    help="general-select: score the candidate averaged over this many flips and transposes")
    ap.add_argument("--no-output-dropout", action="store_true",
                    help="cdae: the variant without dropout before each block's output layer (recorded as "
                         "cdae_no_output_dropout)")
    ap.add_argument("--better-targets", action="store_true",
                    help="cdae: fine-tune on the better targets of chapter 3.4 (up to 4k neighbours within 1.2x the "
                         "k-th one's distance, inside the image's k-means cluster) instead of the paper's k nearest "
                         "(recorded with the suffix _better_targets)")
    args = ap.parse_args(argv)
    if smoke():
        ap.error("CDAE_SMOKE is set: the smoke path (a handful of images, one epoch) never writes recorded results; "
                 "unset it")
    if args.experiment == "general":
        cfg = GeneralDenoiserConfig.for_profile("full" if args.profile in ("cpu", "full") else args.profile)
        train = {k: v for k, v in {"minutes": args.minutes, "lr": args.lr, "seed": args.seeds[0],
                                   "high_snr_fraction": args.high_snr_fraction, "batch_size": args.batch_size}.items()
                 if v is not None}
        net = DenoiserConfig(tuple(args.channels)) if args.channels else None
        top = {k: v for k, v in {"init": args.init, "seed": args.seeds[0], "n_phantoms": args.phantoms,
                                 "net": net}.items() if v is not None}
        cfg = replace(cfg, train=replace(cfg.train, **train), **top)
        from cdae_lite.distributed import is_main, local_device, process_group
        from cdae_lite.runtime import get_device

        device = get_device(local_device(args.device))
        with process_group(device):  # torchrun --nproc-per-node N -m cdae_lite.paper general: data-parallel
            path = train_general_denoiser(cfg, args.out, device)
        if is_main():
            print(f"wrote {path}")
        return 0
    if args.experiment == "general-cdae":
        print(f"wrote {train_general_model(GeneralModelConfig(), args.out, args.device)}")
        return 0
    if args.experiment == "gain":  # write the training-protein gain into a checkpoint's record
        from cdae_lite.paper.general import add_recorded_gain

        print(add_recorded_gain(args.out or "general", args.device))
        return 0
    if args.experiment == "general-eval":
        from cdae_lite.paper.general_eval import record_general_eval

        print(f"wrote {record_general_eval(args.profile, args.device, args.out, args.notes)}")
        return 0
    if args.experiment == "general-select":
        from cdae_lite.paper.general_select import record_selection

        if not args.init:
            ap.error("general-select: give the candidate checkpoint with --init PATH")
        path = record_selection(args.init, "general", args.profile or "cpu", args.device, args.out, args.notes,
                                args.symmetrize)
        print(f"wrote {path}")
        return 0
    if args.experiment == "general-ablation":
        from cdae_lite.paper.general_ablation import record_ablation

        print(f"wrote {record_ablation(args.profile, args.device, args.out, args.notes)}")
        return 0
    if args.experiment == "cluster-eval":
        from cdae_lite.paper.cluster_eval import record_cluster_eval

        print(f"wrote {record_cluster_eval(args.profile, args.device, args.out, args.notes)}")
        return 0
    if args.experiment == "peers":
        from cdae_lite.paper.peers import PeerError, record_peers

        try:
            print(f"wrote {record_peers(args.profile, args.device, args.out, args.notes)}")
        except PeerError as e:
            ap.exit(2, f"peers: {e}\n")
        return 0
    if args.experiment == "targets":
        from cdae_lite.paper.targets_eval import record_targets_eval

        print(f"wrote {record_targets_eval(args.profile, args.device, args.out, args.notes)}")
        return 0
    notes = args.notes
    if args.profile == "cpu":
        profile = "cpu"
        exp = CDAEExperiment.full(sim=replace(SimulationConfig(), images_per_view=CPU_IMAGES_PER_VIEW))
        bx = BaselineExperiment.for_profile("full", cdae=exp)
        cx = ClusteringExperiment.for_profile("full", cdae=exp)
        args.cpu_budget = True
        notes = (notes + " " + CPU_PROFILE_NOTE).strip()
    else:
        profile = get_profile(args.profile)
        exp = CDAEExperiment.for_profile(profile)
        bx = BaselineExperiment.for_profile(profile, cdae=exp)
        cx = ClusteringExperiment.for_profile(profile, cdae=exp)
    exp, name = cdae_variant(exp, args.no_output_dropout, args.better_targets)
    if args.cpu_budget:
        bx = replace(bx, dncnn=DnCNNConfig(depth=10, channels=48), dncnn_train=replace(bx.dncnn_train, epochs=10),
                     n2v_train=replace(bx.n2v_train, epochs=10))
        cx = replace(cx, feature_train=replace(cx.feature_train, epochs=10), aae_iterations=300,
                     sweep_finetune_epochs=8)
        notes = (notes + " " + CPU_BUDGET_NOTE).strip()
    fts = args.seeds if args.finetune_seeds is None else args.finetune_seeds
    ctl = args.seeds if args.control_seeds is None else args.control_seeds
    first = args.seeds[0]

    def run_cdae_seeds(seeds):
        def save(partial):
            done = [r["seed"] for r in partial["per_seed"]]  # a partial save names only the seeds it holds
            pending = [s for s in seeds if s not in done]
            return record(name, profile, exp.as_dict(), partial, done, args.device, args.out,
                          (notes + f" Fine-tuned seeds: {[s for s in fts if s in done]}; end-to-end control seeds: "
                           f"{[s for s in ctl if s in done]}." + (f" Seeds {pending} were planned but had not "
                                                                    "finished when this file was written." if pending else "")
                           ).strip())

        res = run_cdae(exp, seeds, args.device, finetune_seeds=fts, control_seeds=ctl, on_seed=save)
        print(f"wrote {save(res)}")

    def run_tables():
        e = exp.with_seed(first)
        res = run_baselines(replace(bx, cdae=e), args.device)
        print("wrote", record("baselines", profile, replace(bx, cdae=e).as_dict(), res, [first], args.device, None, notes))
        res = run_clustering(replace(cx, cdae=e), args.device)
        print("wrote", record("clustering", profile, replace(cx, cdae=e).as_dict(), res, [first], args.device, None, notes))

    if args.experiment == "cdae":
        run_cdae_seeds(args.seeds)
    elif args.experiment == "baselines":
        e = exp.with_seed(first)
        print("wrote", record("baselines", profile, replace(bx, cdae=e).as_dict(), run_baselines(replace(bx, cdae=e), args.device),
                              [first], args.device, args.out, notes))
    elif args.experiment == "clustering":
        e = exp.with_seed(first)
        print("wrote", record("clustering", profile, replace(cx, cdae=e).as_dict(),
                              run_clustering(replace(cx, cdae=e), args.device), [first], args.device, args.out, notes))
    else:  # all: the most important single-seed results first, the extra seeds last
        run_cdae_seeds([first])
        run_tables()
        if len(args.seeds) > 1:
            run_cdae_seeds(args.seeds)
    return 0
