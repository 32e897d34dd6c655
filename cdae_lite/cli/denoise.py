"""``cdae-lite denoise``: denoise an MRC stack (or the stacks a RELION STAR file names) with a trained model."""

from __future__ import annotations

import argparse

from cdae_lite.cli.common import add_command, output_file, positive_int


def run(args: argparse.Namespace) -> int:
    from cdae_lite.denoise import StackAwareConfig, Symmetrized, fine_tune_on_file, load_denoiser, recorded_gain
    from cdae_lite.denoise.relion import denoise_path, is_star
    from cdae_lite.distributed import is_main, launched, world
    model, meta, path = load_denoiser(args.model)
    gain = recorded_gain(meta)  # calibrate by default when the model's recorded contrast is off by more than 10 %
    calibrate = (gain is not None and abs(gain - 1) > 0.1) if args.calibrate is None else args.calibrate
    symmetrize = args.symmetrize or (8 if args.stack_aware else 1)
    if args.ctf_aware and not args.stack_aware:
        raise ValueError("--ctf-aware combines the look-alikes of --stack-aware: add --stack-aware")
    stack = (StackAwareConfig(neighbours=args.neighbours, candidates=max(100, args.neighbours), align=args.align,
                              symmetrize=symmetrize, ctf_aware=args.ctf_aware) if args.stack_aware else None)
    calibrate = calibrate and (stack is None or args.calibrate is True)
    if args.fine_tune and is_star(args.input):
        raise ValueError("--fine-tune takes a stack, not a STAR file (fine-tune on one of its stacks first)")
    if args.fine_tune:
        model = fine_tune_on_file(model, args.input, args.fine_tune_images, args.epochs, args.device,
                                  as_stack=args.as_stack, invert=args.invert)
    if stack is None and symmetrize > 1:
        model = Symmetrized(model, symmetrize)
    report = denoise_path(model, args.input, args.output, args.relion_project, batch_size=args.batch_size,
                          device=args.device, equalize=args.equalize, overwrite=args.overwrite, resample=args.resample,
                          as_stack=args.as_stack, invert=args.invert, calibrate=calibrate, stack_aware=stack)
    how = "".join([f", stack-aware ({args.neighbours} look-alikes{', aligned' * args.align}{', CTF-aware' * args.ctf_aware})"
                   * bool(stack), f", symmetrised over {symmetrize} flips and transposes" * (symmetrize > 1),
                   f", {world()[1]} processes (torchrun)" * launched()])
    if is_main():  # under torchrun, one summary (rank 0's)
        print(report.summary() + f" with model {path.name} ({meta['architecture']}){how}")
    return 0


def add_parser(sub) -> None:
    p = add_command(
        sub, "denoise", "denoise an MRC stack, or every image a RELION STAR file names, with a trained model",
        "Denoise every image of an MRC stack (modes 0, 1, 2, 6, 12) in batches (stacks larger than memory are fine); "
        "the output appears only when complete, the input is never modified. A RELION particles STAR input (any "
        "number of stacks and optics groups) gives a STAR output and one new stack per input stack under the folder "
        "named like it (denoised.star -> denoised/). --resample changes image sizes first. From a RELION project "
        "folder: cdae-lite denoise Extract/job007/particles.star -o Denoise/denoised.star",
        ["cdae-lite denoise particles.mrcs -o denoised.mrcs",
         "cdae-lite denoise particles.mrcs -o denoised.mrcs --stack-aware --neighbours 30",
         "cdae-lite denoise particles.mrcs -o denoised.mrcs --model cdae --no-invert"])
    p.add_argument("input", help="stack to denoise, or a RELION particles STAR file")
    p.add_argument("-o", "--output", required=True, type=output_file, help="output stack, or STAR (a new file)")
    p.add_argument("--relion-project", help="folder STAR image names start from (default: here, then the STAR's)")
    p.add_argument("--model", default="general",
                   help="'general' (the shipped U-Net), 'cdae' (the shipped general cascade) or a checkpoint path")
    p.add_argument("--invert", action=argparse.BooleanOptionalAction,
                   help="particles are dark: negate for the model, negate back (default: detected)")
    p.add_argument("--calibrate", action=argparse.BooleanOptionalAction, help="rescale the output's contrast (label-free "
                   "Stein estimate; default: on when the model's recorded gain departs from 1 by more than 0.1)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--batch-size", type=positive_int, help="images per batch (default: 256 for 64 px, fewer for larger "
                   "images: memory stays flat)")
    p.add_argument("--stack-aware", action="store_true", help="average each particle with its aligned look-alikes from "
                   "the stack, then denoise (reads the whole stack into memory; minutes per 1,000 images on a CPU)")
    p.add_argument("--neighbours", type=positive_int, default=30, help="look-alikes per particle (--stack-aware)")
    p.add_argument("--align", action=argparse.BooleanOptionalAction, default=True, help="search in-plane rotations "
                   "and shifts of look-alikes (--no-align: particles not rotated in plane, e.g. the paper's views)")
    p.add_argument("--ctf-aware", action="store_true", help="with --stack-aware and a STAR input: combine the "
                   "look-alikes weighted by each particle's CTF (its defocus rows), for particles under a CTF")
    p.add_argument("--symmetrize", type=int, choices=(1, 2, 4, 8), help="average the model over this many flips and "
                   "transposes of each image (N times its time; default 8 with --stack-aware, else 1)")
    p.add_argument("--fine-tune", action="store_true", help="first fine-tune the model on this stack (paper, 3.3)")
    p.add_argument("--fine-tune-images", type=int, default=10000, help="images used for fine-tuning")
    p.add_argument("--epochs", type=positive_int, default=10, help="fine-tuning epochs per block")
    p.add_argument("--equalize", action="store_true", help="histogram-equalise the output (values in [0, 1])")
    p.add_argument("--resample", type=positive_int, help="Fourier-resample images to this box size before denoising")
    p.add_argument("--as-stack", action="store_true", help="read a file flagged as a cubic 3D map as a stack")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=run)
