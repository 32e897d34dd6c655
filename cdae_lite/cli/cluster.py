"""``cdae-lite cluster``: cluster a stack or the images of a RELION STAR file into K classes; labels and averages."""

from __future__ import annotations

import argparse
from pathlib import Path

from cdae_lite.cli.common import add_command, non_negative_int, output_file


def run(args: argparse.Namespace) -> int:
    from cdae_lite.io.relion_stack import star_stack

    with star_stack(args.input, args.relion_project, args.output, args.star) as src:  # STAR input: gathered images
        return _run(args, src)


def _run(args: argparse.Namespace, src) -> int:
    import numpy as np

    from cdae_lite.cluster import choose_method, cluster_path, labels_table
    from cdae_lite.denoise import load_denoiser
    from cdae_lite.io import check_target, opened_stack, read_star, write_stack, write_star

    out = Path(args.output)
    avg_path = Path(args.averages) if args.averages else out.with_name(out.stem + "_averages.mrcs")
    if avg_path.resolve() == out.resolve():
        raise ValueError(f"--averages and -o are the same file ({out}): the averages would replace the labels")
    for p in (out, avg_path):  # before the work, not after it
        check_target(p, args.overwrite, protect=(args.input, args.star))
    particles, optics = read_star(args.star) if args.star else (src.image_rows(), {}) if src else (None, {})
    if args.star:
        with opened_stack(args.input, allow_volume=args.as_stack) as (_, _, data):  # checked before the work:
            labels_table(np.zeros(len(data), np.int64), Path(args.input).name, particles, args.by_position)  # pairs
    method = args.method or choose_method(particles)
    model = load_denoiser(args.denoise)[0] if args.denoise else None
    refs = (model or load_denoiser("general")[0]) if args.refine and method not in ("align", "ml2d") else None
    report = cluster_path(src.path if src else args.input, args.k, args.pca, method, model=model, seed=args.seed,
                          device=args.device, refine_with=refs, as_stack=args.as_stack, invert=args.invert,
                          star=(particles, optics, args.by_position or src is not None))
    rows = (src.rows({"rlnClassNumber": report.labels + 1}) if src else
            labels_table(report.labels, Path(args.input).name, particles, args.by_position))
    write_star(out, rows, src.optics if src else optics, overwrite=args.overwrite)
    write_stack(avg_path, report.averages, report.pixel_size_A, overwrite=args.overwrite)
    print(f"{method}: {report.summary()}: labels -> {out}, class averages -> {avg_path}" + (f"; {src.rules}" if src else ""))
    return 0


def add_parser(sub) -> None:
    p = add_command(
        sub, "cluster", "cluster a stack into K classes; write labels and averages",
        "Cluster images into K classes (k-means or Ward on pixels or principal components; rotated particles: maximum-"
        "likelihood 2D classification with each image's CTF, ml2d, the default when --star's rlnAnglePsi vary, or "
        "align), optionally after denoising, then (by default) refine the labels: every image takes the class whose "
        "denoised average it correlates with best, until no label changes (chapter 5). Writes a STAR file with "
        "rlnClassNumber per image (the rows of --star or of a RELION STAR input) and the class averages. k-means and "
        "Ward on principal components read images block by block; --pca 0, align and ml2d hold them in memory.",
        ["cdae-lite cluster particles.mrcs -k 4 -o classes.star",
         "cdae-lite cluster particles.mrcs -k 4 --denoise shipped --star particles.star -o classes.star",
         "cdae-lite cluster particles.mrcs -k 12 --method ml2d --star particles.star -o classes.star"])
    p.add_argument("input", help="stack to cluster, or a RELION particles STAR file (its images, all stacks)")
    p.add_argument("--relion-project", help="folder STAR image names start from (default: here, then the STAR's)")
    p.add_argument("-k", type=int, required=True, help="number of classes")
    p.add_argument("-o", "--output", required=True, type=output_file, help="STAR file of class labels")
    p.add_argument("--averages", type=output_file, help="class averages .mrcs (default: beside the STAR file)")
    p.add_argument("--star", help="the stack's STAR file: its rows copied, labels added (paired by rlnImageName)")
    p.add_argument("--by-position", action="store_true", help="pair --star rows with images by position (the "
                   "stack was made image by image from the one the STAR file names, e.g. a denoised copy)")
    p.add_argument("--method", choices=["kmeans", "hierarchical", "align", "ml2d"])
    p.add_argument("--pca", type=non_negative_int, default=10, help="principal components (0: cluster pixels)")
    p.add_argument("--denoise", help="'shipped' or a checkpoint: denoise before clustering (ml2d: to start it only)")
    p.add_argument("--refine", action=argparse.BooleanOptionalAction, default=True, help="refine labels against "
                   "denoised class averages (not with --method align; --no-refine: one clustering, as in the paper)")
    p.add_argument("--invert", action=argparse.BooleanOptionalAction,
                   help="particles are dark: negate them for the denoisers and back (default: detected)")
    p.add_argument("--as-stack", action="store_true", help="read a file flagged as a cubic 3D map as a stack")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run)
