"""``cdae-lite relion-external``: run the denoiser as a RELION External job (from RELION's GUI)."""

from __future__ import annotations

import argparse

from cdae_lite.cli.common import add_command, positive_int


def run(args: argparse.Namespace) -> int:
    import torch

    from cdae_lite.denoise.relion import external_job

    if args.j:
        torch.set_num_threads(args.j)
    report = external_job(args.o, args.in_parts, args.model, device=args.device, batch_size=args.batch_size,
                          resample=args.resample, invert=args.invert)
    print(report.summary() + f" with model {args.model}; RELION_JOB_EXIT_SUCCESS written in {args.o}")
    return 0


def add_parser(sub) -> None:
    p = add_command(
        sub, "relion-external", "denoise particles as a RELION External job",
        "For RELION's External job type (Executable: cdae-lite relion-external; Input particles: a particles STAR "
        "file). Run from the RELION project folder, as RELION does: denoises every image the STAR names into the job "
        "folder (particles.star and its stacks under particles/), writes RELION_OUTPUT_NODES.star so that RELION "
        "sees the new particles, and RELION_JOB_EXIT_SUCCESS (or RELION_JOB_EXIT_FAILURE with a one-line error). "
        "Arguments RELION passes that this job does not use (--pipeline_control, other inputs) are ignored; "
        "parameters set in the job's Params tab arrive as --model, --device, --resample ...",
        ["cdae-lite relion-external --o External/job012/ --in_parts Extract/job007/particles.star --j 4"])
    p.add_argument("--o", required=True, help="the job folder RELION gives (e.g. External/job012/)")
    p.add_argument("--in_parts", help="the input particles STAR file")
    p.add_argument("--j", type=positive_int, help="threads")
    p.add_argument("--model", default="general", help="'general', 'cdae' or a checkpoint path")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--batch_size", "--batch-size", type=positive_int, help="images per batch")
    p.add_argument("--resample", type=positive_int, help="Fourier-resample images to this box size first")
    p.add_argument("--invert", type=lambda t: t.lower() in ("1", "yes", "true"), default=None,
                   help="particles are dark: yes or no (default: detected)")
    p.set_defaults(func=run, extra_arguments=True)
