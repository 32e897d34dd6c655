"""``cdae-lite train``: pre-train a single DAE or a CDAE on stacks, or fine-tune a model without targets."""

from __future__ import annotations

import argparse
import sys

from cdae_lite.cli.common import add_command, output_file, positive_int


def run(args: argparse.Namespace) -> int:
    from cdae_lite.distributed import is_main, local_device, process_group
    from cdae_lite.runtime import get_device

    args.device = get_device(local_device(args.device))
    with process_group(args.device):  # under torchrun: data-parallel training, rank 0 saves
        return _train(args, is_main())


def _train(args: argparse.Namespace, main_rank: bool) -> int:
    from cdae_lite.denoise import (AEConfig, FineTuneConfig, TrainConfig, finetune, ladder_pairs, load_denoiser,
                                   pretrain_cdae, pretrain_single, save_model)
    from cdae_lite.io import check_target, read_stack

    inputs = (args.input, args.target, *(args.ladder or ()))
    if args.start_from and args.start_from not in ("general", "cdae", "shipped"):
        inputs += (args.start_from,)
    check_target(args.output, args.overwrite, protect=inputs)  # before hours of training, not after
    x, _ = read_stack(args.input)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    ae = AEConfig(dropout=args.dropout)
    record = {"command": " ".join(["cdae-lite"] + sys.argv[1:]), "input": str(args.input), "train": cfg.as_dict()}
    if args.target:
        y, _ = read_stack(args.target)
        if y.shape != x.shape:
            raise ValueError(f"--target holds {y.shape} images, the input {x.shape}: they must be pairs")
        model, h = pretrain_single(x, y, ae, cfg, args.device)
        arch, record["history"], config = "autoencoder", h.as_dict(), {"dropout": args.dropout}
    elif args.ladder:
        pairs = ladder_pairs([x] + [read_stack(p)[0] for p in args.ladder])
        model, hs = pretrain_cdae(pairs, ae, cfg, args.device)
        arch, record["histories"], config = "cdae", [h.as_dict() for h in hs], {"dropout": args.dropout}
    else:
        base, meta, _ = load_denoiser(args.start_from)
        model, rep = finetune(base, x, FineTuneConfig(k=args.k, seed=args.seed, train=cfg), device=args.device)
        arch, record["histories"], config = "cdae", [h.as_dict() for h in rep.histories], meta["config"]
        record["fine_tuned_from"] = args.start_from
    if main_rank:
        save_model(args.output, model, arch, config, record, overwrite=args.overwrite, protect=inputs)
        print(f"saved a '{arch}' model to {args.output}")
    return 0


def add_parser(sub) -> None:
    p = add_command(
        sub, "train", "pre-train or fine-tune a denoiser on stacks",
        "Three ways to make a model: from (noisy, clean) pairs (--target: a single DAE), from a ladder of SNRs "
        "of the same particles (--ladder: a CDAE, one block per step), or by fine-tuning an existing model on "
        "unlabelled images with nearest-neighbour mean targets (--start-from).",
        ["cdae-lite train sim/rubisco_snr0.1.mrcs --target sim/rubisco_clean.mrcs -o single.pt",
         "cdae-lite train sim/rubisco_snr0.1.mrcs --ladder sim/rubisco_snr0.4.mrcs sim/rubisco_snr0.6.mrcs "
         "sim/rubisco_clean.mrcs -o cdae.pt",
         "cdae-lite train particles.mrcs --start-from shipped -o finetuned.pt"])
    p.add_argument("input", help="noisy stack")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--target", help="clean stack paired with the input: train a single DAE")
    mode.add_argument("--ladder", nargs="+", help="stacks of rising SNR, the clean one last: train a CDAE")
    mode.add_argument("--start-from", help="'shipped' or a checkpoint to fine-tune on the input (no targets)")
    p.add_argument("-o", "--output", required=True, type=output_file, help="checkpoint to write (.pt)")
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--k", type=int, default=30, help="neighbours per image for fine-tuning targets")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run)
