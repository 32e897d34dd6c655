"""``cdae-lite train``: pre-train a DAE or a CDAE on stacks, fine-tune a model without targets, or run a recipe."""

from __future__ import annotations

import argparse
import sys

from cdae_lite.cli.common import add_command, output_file, positive_int


def run(args: argparse.Namespace) -> int:
    from cdae_lite.denoise.recipe import ARCHITECTURE, train_recipe
    from cdae_lite.distributed import is_main, local_device, process_group
    from cdae_lite.runtime import get_device

    if (args.recipe is None) == (args.input is None):
        raise ValueError("--recipe makes its own training images; the other modes need an input stack")
    args.device = get_device(local_device(args.device))
    with process_group(args.device):  # under torchrun: data-parallel training, rank 0 saves
        if args.recipe:
            train_recipe(args.recipe, args.output, args.device, args.minutes, args.init, args.overwrite)
        arch = ARCHITECTURE if args.recipe else _train(args, is_main())
    if is_main():
        print(f"saved a '{arch}' model to {args.output}")
    return 0


def _train(args: argparse.Namespace, main_rank: bool) -> str:
    from cdae_lite.denoise import (AEConfig, FineTuneConfig, TrainConfig, finetune, ladder_pairs, load_denoiser,
                                   pretrain_cdae, pretrain_single, save_model)
    from cdae_lite.io import check_target, read_stack

    own = {args.start_from} - {None, "general", "cdae", "shipped"}  # a checkpoint file, not a shipped model
    inputs = (args.input, args.target, *(args.ladder or ()), *own)
    check_target(args.output, args.overwrite, protect=inputs)  # before hours of training, not after
    x, _ = read_stack(args.input)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    record = {"command": " ".join(["cdae-lite"] + sys.argv[1:]), "input": str(args.input), "train": cfg.as_dict()}
    if args.target:
        model, h = pretrain_single(x, read_stack(args.target)[0], AEConfig(dropout=args.dropout), cfg, args.device)
        arch, record["history"], config = "autoencoder", h.as_dict(), {"dropout": args.dropout}
    elif args.ladder:
        pairs = ladder_pairs([x] + [read_stack(p)[0] for p in args.ladder])
        model, hs = pretrain_cdae(pairs, AEConfig(dropout=args.dropout), cfg, args.device)
        arch, record["histories"], config = "cdae", [h.as_dict() for h in hs], {"dropout": args.dropout}
    else:
        base, meta, _ = load_denoiser(args.start_from)
        model, rep = finetune(base, x, FineTuneConfig(k=args.k, seed=args.seed, train=cfg), device=args.device)
        arch, record["histories"], config = "cdae", [h.as_dict() for h in rep.histories], meta["config"]
        record["fine_tuned_from"] = args.start_from
    if main_rank:
        save_model(args.output, model, arch, config, record, overwrite=args.overwrite, protect=inputs)
    return arch


def add_parser(sub) -> None:
    p = add_command(
        sub, "train", "pre-train or fine-tune a denoiser on stacks, or run a recipe",
        "From (noisy, clean) pairs (--target: a single DAE), a ladder of SNRs (--ladder: a CDAE), unlabelled images "
        "(--start-from: fine-tuning), or a recipe's own images (--recipe general: the shipped general denoiser).",
        ["cdae-lite train snr0.1.mrcs --target clean.mrcs -o single.pt",
         "cdae-lite train snr0.1.mrcs --ladder snr0.4.mrcs snr0.6.mrcs clean.mrcs -o cdae.pt",
         "cdae-lite train particles.mrcs --start-from shipped -o finetuned.pt",
         "cdae-lite train --recipe general -o general.pt --minutes 30"])
    p.add_argument("input", nargs="?", help="noisy stack (none with --recipe)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--target", help="clean stack paired with the input: train a single DAE")
    mode.add_argument("--ladder", nargs="+", help="stacks of rising SNR, the clean one last: train a CDAE")
    mode.add_argument("--start-from", help="'shipped' or a checkpoint to fine-tune on the input (no targets)")
    mode.add_argument("--recipe", choices=["general"], help="train a recipe's model (cdae_lite.denoise.recipe)")
    p.add_argument("--minutes", type=float, help="--recipe: the whole run's training time (default: the recipe's)")
    p.add_argument("--init", help="--recipe: train only its last stage, from this checkpoint ('general': shipped)")
    p.add_argument("-o", "--output", required=True, type=output_file, help="checkpoint to write (.pt)")
    for flag, kind, default in (("--epochs", positive_int, 20), ("--batch-size", positive_int, 64),
                                ("--lr", float, 1e-3), ("--dropout", float, 0.5), ("--seed", int, 0)):
        p.add_argument(flag, type=kind, default=default)
    p.add_argument("--k", type=int, default=30, help="neighbours per image for fine-tuning targets")
    p.add_argument("--device")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run)
