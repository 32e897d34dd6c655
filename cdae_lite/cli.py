"""The ``cdae-lite`` command line: thin wrappers over the library.

Every subcommand has ``--help`` with an example. A mistake in the input (missing or unreadable file,
wrong shape, bad value) prints one line to stderr and exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

#: Exceptions that mean "the user's input is wrong", reported without a traceback.
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError,
               NotADirectoryError, KeyError)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps examples' line breaks; shows a default only where there is one worth showing."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.default not in (None, False, argparse.SUPPRESS) and "default" not in text
                and action.option_strings):
            text += " (default: %(default)s)"
        return text


def _progress(total: int, desc: str, unit: str = "img"):
    from tqdm.auto import tqdm

    from .config import progress_enabled

    return tqdm(total=total, desc=desc, unit=unit, disable=not progress_enabled(), file=sys.stderr)


# -------------------------------------------------------------------------------------- simulate
def _parse_views(text: str) -> np.ndarray:
    try:
        rows = [[float(x) for x in v.split(",")] for v in text.split(";") if v.strip()]
        arr = np.array(rows, float)
    except ValueError as exc:
        raise ValueError(f"--views-deg must look like 'rot,tilt,psi;rot,tilt,psi', got {text!r}") from exc
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"--views-deg must list (rot, tilt, psi) triples, got {text!r}")
    return arr


def cmd_simulate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .config import SimulationConfig
    from .datasets import load_protein
    from .io import StackWriter, image_names, write_star
    from .maps import load_map
    from .simulate import distinct_views, simulate_blocks

    cfg = SimulationConfig.for_profile(args.profile)
    over = {k: v for k, v in dict(image_size=args.size, images_per_view=args.per_view,
                                  n_views=args.views, seed=args.seed).items() if v is not None}
    cfg = replace(cfg, **over)
    if args.preset == "realistic":
        cfg = cfg.realistic()
    if args.map:
        vol, px = load_map(args.map)
        px = args.pixel_size or px
        if not px:
            raise ValueError(f"{args.map} has no pixel size in its header: give --pixel-size")
        views = _parse_views(args.views_deg) if args.views_deg else distinct_views(vol, cfg.n_views)
        name = Path(args.map).name.split(".")[0]
    else:
        prot = load_protein(args.protein)
        vol, px = prot.volume()
        views = _parse_views(args.views_deg) if args.views_deg else np.array(prot.views_deg)
        name = prot.name
    snrs = tuple(args.snr)
    bad_snr = [s for s in snrs if not (np.isfinite(s) and s > 0)]
    if bad_snr:  # before anything is created on disk
        raise ValueError(f"SNR must be a positive number, got {bad_snr[0]}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta, optics, px_out, blocks = simulate_blocks(vol, px, views, cfg, snrs, device=args.device)
    n, size = len(meta), cfg.image_size
    stems = {s: f"{name}_snr{s:g}" for s in snrs}
    if args.clean:
        stems[None] = f"{name}_clean"
    t0 = time.perf_counter()
    writers = {s: StackWriter(out / f"{stem}.mrcs", n, size, px_out, overwrite=args.overwrite)
               for s, stem in stems.items()}
    sigmas = {s: np.zeros(n) for s in snrs}
    bar = _progress(n, f"simulating {name}")
    try:
        for w in writers.values():
            w.__enter__()
        for start, clean, noisy, sig in blocks:
            for s in snrs:
                writers[s].write(start, noisy[float(s)])
                sigmas[s][start:start + len(clean)] = sig[float(s)]
            if args.clean:
                writers[None].write(start, clean)
            bar.update(len(clean))
    except BaseException as exc:
        for w in writers.values():
            w.__exit__(type(exc), exc, None)
        raise
    finally:
        bar.close()
    for w in writers.values():
        w.__exit__(None, None, None)
    for s, stem in stems.items():
        df = meta.copy()
        df.insert(0, "rlnImageName", image_names(n, f"{stem}.mrcs"))
        df["cdaeSNR"] = np.inf if s is None else float(s)
        if s is not None:
            df["cdaeNoiseSigma"] = sigmas[s]
        write_star(out / f"{stem}.star", df, optics, overwrite=args.overwrite)
    dt = time.perf_counter() - t0
    print(f"wrote {len(stems)} stack(s) of {n} images ({size} px, {px_out:.3f} A/px) to {out} "
          f"in {dt:.1f} s ({n / max(dt, 1e-9):.0f} images/s): " + ", ".join(f"{v}.mrcs" for v in stems.values()))
    return 0


# --------------------------------------------------------------------------------------- denoise
#: The general-purpose CDAE shipped in data/ (see data/weights/README.md for how it was made).
SHIPPED_MODEL = "weights/cdae_general.pt"


def _load_denoiser(spec: str):
    """A model from ``shipped`` (the general CDAE in data/weights) or a checkpoint path."""
    from .checkpoint import load_model
    from .datasets import data_path

    path = data_path(SHIPPED_MODEL) if spec == "shipped" else Path(spec)
    model, meta = load_model(path)
    return model, meta, path


def _fine_tune_on_stack(model, stack_path: str, n_images: int, epochs: int, device):
    """The paper's fine-tuning on an evenly spread subset of the stack to denoise."""
    from .io import open_stack
    from .train import FineTuneConfig, TrainConfig, finetune

    mrc, data = open_stack(stack_path, allow_volume=True)
    with mrc:
        idx = np.unique(np.linspace(0, data.shape[0] - 1, min(n_images, data.shape[0])).astype(int))
        x = np.asarray(data[idx], dtype=np.float32)
    cfg = FineTuneConfig(train=TrainConfig(epochs=epochs, lr=5e-4))
    if len(x) <= cfg.k:
        raise ValueError(f"fine-tuning needs more than k = {cfg.k} images; the stack has {len(x)}")
    print(f"fine-tuning on {len(x)} images ({epochs} epochs per block)...", file=sys.stderr)
    ft, _ = finetune(model, x, cfg, device=device)
    return ft


def cmd_denoise(args: argparse.Namespace) -> int:
    from .stream import denoise_file

    model, meta, path = _load_denoiser(args.model)
    if args.fine_tune:
        model = _fine_tune_on_stack(model, args.input, args.fine_tune_images, args.epochs, args.device)
    report = denoise_file(model, args.input, args.output, batch_size=args.batch_size, device=args.device,
                          equalize=args.equalize, overwrite=args.overwrite, resample=args.resample,
                          as_stack=args.as_stack)
    print(report.summary() + f" with model {path.name} ({meta['architecture']})")
    return 0


# ----------------------------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace) -> int:
    from .checkpoint import save_model
    from .io import read_stack
    from .models import AEConfig
    from .train import FineTuneConfig, TrainConfig, finetune, pretrain_cdae, pretrain_single

    x, _ = read_stack(args.input)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    ae = AEConfig(dropout=args.dropout)
    record = {"command": " ".join(["cdae-lite"] + sys.argv[1:]), "input": str(args.input), "train": cfg.as_dict()}
    if args.target:
        y, _ = read_stack(args.target)
        if y.shape != x.shape:
            raise ValueError(f"--target holds {y.shape} images, the input {x.shape}: they must be pairs")
        model, h = pretrain_single(x, y, ae, cfg, args.device)
        arch, record["history"] = "autoencoder", h.as_dict()
        config = {"dropout": args.dropout}
    elif args.ladder:
        steps = [x] + [read_stack(p)[0] for p in args.ladder]
        if any(s.shape != x.shape for s in steps):
            raise ValueError("every --ladder stack must hold as many images, of the same size, as the input")
        model, hs = pretrain_cdae([(steps[i], steps[i + 1]) for i in range(len(steps) - 1)], ae, cfg, args.device)
        arch, record["histories"] = "cdae", [h.as_dict() for h in hs]
        config = {"dropout": args.dropout}
    else:
        base, meta, _ = _load_denoiser(args.start_from)
        model, rep = finetune(base, x, FineTuneConfig(k=args.k, train=cfg), device=args.device)
        arch, record["histories"] = "cdae", [h.as_dict() for h in rep.histories]
        record["fine_tuned_from"] = args.start_from
        config = meta["config"]
    save_model(args.output, model, arch, config, record, overwrite=args.overwrite)
    print(f"saved a '{arch}' model to {args.output}")
    return 0


# --------------------------------------------------------------------------------------- cluster
def cmd_cluster(args: argparse.Namespace) -> int:
    import pandas as pd

    from . import cluster
    from .files import check_target
    from .io import image_names, read_star, read_stack, write_stack, write_star

    out = Path(args.output)
    avg_path = Path(args.averages) if args.averages else out.with_name(out.stem + "_averages.mrcs")
    for p in (out, avg_path):  # before the work, not after it
        check_target(p, args.overwrite, protect=(args.input, args.star))
    if args.star:
        from .stream import opened_stack

        particles, optics = read_star(args.star)
        with opened_stack(args.input) as (_, _, data):
            if len(particles) != len(data):  # the stack is checked (and its length read) before the work
                raise ValueError(f"{args.star} has {len(particles)} rows but {args.input} holds {len(data)} images")
    model = _load_denoiser(args.denoise)[0] if args.denoise else None
    if args.method != "align" and args.pca > 0:  # streamed: bounded memory whatever the stack's size
        from .stream import cluster_file

        report = cluster_file(args.input, args.k, args.pca, args.method, model=model, seed=args.seed,
                              device=args.device)
        n, labels, averages, px = report.n_images, report.labels, report.averages, report.pixel_size_A
    else:  # pixels or 2D alignment: the whole stack in memory
        x, px = read_stack(args.input)
        cluster.check_k(len(x), args.k)
        src = x
        if model is not None:
            from .inference import predict

            src = predict(model, x, device=args.device)
        if args.method == "align":
            labels = cluster.align_classify(src, args.k, seed=args.seed)[0]
        else:
            f = cluster.flatten(src)
            labels = cluster.kmeans(f, args.k, args.seed) if args.method == "kmeans" else cluster.hierarchical(f, args.k)
        n, averages, report = len(x), cluster.class_averages(x, labels, args.k), None
    if not args.star:
        particles = pd.DataFrame({"rlnImageName": image_names(n, Path(args.input).name)})
        optics = {}
    particles = particles.copy()
    particles["rlnClassNumber"] = labels + 1
    write_star(out, particles, optics, overwrite=args.overwrite)
    write_stack(avg_path, averages, px, overwrite=args.overwrite)
    summary = report.summary() if report else (f"clustered {n} images into {args.k} classes of sizes "
                                               f"{np.bincount(labels, minlength=args.k).tolist()}")
    print(f"{summary}: labels -> {out}, class averages -> {avg_path}")
    return 0


# -------------------------------------------------------------------------------------- evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    from . import metrics
    from .io import read_stack, read_star

    if not (args.estimate or args.labels):
        raise ValueError("nothing to evaluate: give --estimate and --clean, or --labels and --truth")
    if args.estimate:
        if not args.clean:
            raise ValueError("--estimate needs --clean (the noise-free images to compare with)")
        est, _ = read_stack(args.estimate)
        clean, _ = read_stack(args.clean)
        if est.shape != clean.shape:
            raise ValueError(f"--estimate {est.shape} and --clean {clean.shape} differ in shape")
        p, s = metrics.summarize(metrics.psnr(est, clean)), metrics.ssim(est, clean)
        print(f"PSNR {p['mean']:.2f} +/- {p['std']:.2f} dB, SSIM {s.mean():.3f} +/- {s.std():.3f} over {p['n']} images")
    if args.labels:
        if not args.truth:
            raise ValueError("--labels needs --truth (a STAR file with the true classes)")
        pred, _ = read_star(args.labels)
        true, _ = read_star(args.truth)
        for name, df, col in (("--labels", pred, "rlnClassNumber"), ("--truth", true, args.truth_column)):
            if col not in df:
                raise ValueError(f"{name} has no {col} column")
        if len(pred) != len(true):
            raise ValueError(f"--labels has {len(pred)} rows, --truth {len(true)}")
        sc = metrics.clustering_scores(true[args.truth_column].to_numpy(), pred["rlnClassNumber"].to_numpy())
        print("clustering: " + ", ".join(f"{k} {v:.3f}" for k, v in sc.items() if isinstance(v, float)))
    return 0


# ------------------------------------------------------------------------------------------ main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdae-lite",
        description="Simulate, denoise and cluster single-particle cryo-EM images with a cascade of "
                    "denoising autoencoders (CDAE). Run 'cdae-lite COMMAND --help' for each command.",
        formatter_class=_Formatter)
    from . import __version__

    parser.add_argument("--version", action="version", version=f"cdae-lite {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "simulate", formatter_class=_Formatter,
        help="simulate a labelled particle stack (.mrcs + .star) from a shipped protein or a map",
        description="Simulate projections of a 3D map from a few view directions, with noise at the "
                    "requested SNR(s) (variance of the clean image / variance of the noise). Writes "
                    "NAME_snrS.mrcs and NAME_snrS.star per SNR (and NAME_clean.* with --clean), "
                    "block by block, so stacks larger than memory are fine.",
        epilog="examples:\n"
               "  cdae-lite simulate --protein rubisco --snr 0.1 0.4 0.6 --clean -o sim/\n"
               "  cdae-lite simulate --protein adk --profile quick --preset realistic -o sim/\n"
               "  cdae-lite simulate --map mymap.mrc --pixel-size 1.1 --views 4 --per-view 500 -o sim/")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--protein", default="rubisco",
                     help="shipped protein (rubisco, proteasome, cxcr4, adk) or the paper's ID it stands for")
    src.add_argument("--map", help="simulate from this MRC map instead of a shipped protein")
    p.add_argument("--pixel-size", type=float, help="pixel size of --map in Angstrom (default: its header)")
    p.add_argument("--snr", type=float, nargs="+", default=[0.1], help="one or more SNRs")
    p.add_argument("--profile", choices=["quick", "full"],
                   help="scale: quick = 32 px, 150 images per view; full = 64 px, 1000 per view "
                        "(default: $CDAE_PROFILE, else full on a GPU and quick on a CPU)")
    p.add_argument("--preset", choices=["paper", "realistic"], default="paper",
                   help="paper: exact views, no CTF; realistic: jitter, in-plane rotation, shifts, CTF")
    p.add_argument("--views", type=int, help="number of view directions")
    p.add_argument("--views-deg", help="explicit views 'rot,tilt,psi;...' in degrees (RELION ZYZ)")
    p.add_argument("--per-view", type=int, help="images per view")
    p.add_argument("--size", type=int, help="box size in pixels (multiple of 8)")
    p.add_argument("--seed", type=int, help="random seed")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--clean", action="store_true", help="also write the noise-free stack")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("-o", "--out", required=True, help="output directory")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "denoise", formatter_class=_Formatter, help="denoise an MRC stack with a trained model",
        description="Denoise every image of an MRC stack (modes 0, 1, 2, 6, 12; .mrc or .mrcs). The input is "
                    "read, denoised and written in batches, so stacks larger than memory are fine; the "
                    "output (same pixel size in its header) appears only when complete, and the input is "
                    "never modified. Images of any size are padded to a multiple of 8 and cropped back; "
                    "--resample changes their size first.",
        epilog="examples:\n"
               "  cdae-lite denoise particles.mrcs -o denoised.mrcs\n"
               "  cdae-lite denoise particles.mrcs -o denoised.mrcs --fine-tune --device cuda\n"
               "  cdae-lite denoise particles.mrcs -o denoised.mrcs --model my_model.pt --equalize")
    p.add_argument("input", help="stack to denoise")
    p.add_argument("-o", "--output", required=True, help="output stack (a new file)")
    p.add_argument("--model", default="shipped", help="checkpoint path, or 'shipped' for the general CDAE")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--fine-tune", action="store_true",
                   help="first fine-tune the model on this stack (paper, section 3.3: 30-neighbour means)")
    p.add_argument("--fine-tune-images", type=int, default=10000, help="images used for fine-tuning")
    p.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs per block")
    p.add_argument("--equalize", action="store_true", help="histogram-equalise the output (values in [0, 1])")
    p.add_argument("--resample", type=int, help="Fourier-resample images to this box size before denoising")
    p.add_argument("--as-stack", action="store_true", help="read a file flagged as a cubic 3D map as a stack")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(func=cmd_denoise)

    p = sub.add_parser(
        "train", formatter_class=_Formatter, help="pre-train or fine-tune a denoiser on stacks",
        description="Three ways to make a model: from (noisy, clean) pairs (--target: a single DAE), from a "
                    "ladder of SNRs of the same particles (--ladder: a CDAE, one block per step), or by "
                    "fine-tuning an existing model on unlabelled images with nearest-neighbour mean targets "
                    "(--start-from).",
        epilog="examples:\n"
               "  cdae-lite train sim/rubisco_snr0.1.mrcs --target sim/rubisco_clean.mrcs -o single.pt\n"
               "  cdae-lite train sim/rubisco_snr0.1.mrcs --ladder sim/rubisco_snr0.4.mrcs "
               "sim/rubisco_snr0.6.mrcs sim/rubisco_clean.mrcs -o cdae.pt\n"
               "  cdae-lite train particles.mrcs --start-from shipped -o finetuned.pt")
    p.add_argument("input", help="noisy stack")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--target", help="clean stack paired with the input: train a single DAE")
    mode.add_argument("--ladder", nargs="+", help="stacks of rising SNR, the clean one last: train a CDAE")
    mode.add_argument("--start-from", help="'shipped' or a checkpoint to fine-tune on the input (no targets)")
    p.add_argument("-o", "--output", required=True, help="checkpoint to write (.pt)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--k", type=int, default=30, help="neighbours per image for fine-tuning targets")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "cluster", formatter_class=_Formatter, help="cluster a stack into K classes; write labels and averages",
        description="Cluster images into K classes (k-means or Ward hierarchical clustering on pixels or "
                    "principal components, or alignment-aware 2D classification for images rotated in "
                    "plane), optionally after denoising. Writes a STAR file with rlnClassNumber per image "
                    "(copying the rows of --star when given) and the class averages of the raw images. k-means and Ward "
                    "on principal components (the default) read the stack block by block in bounded memory "
                    "(incremental PCA); --pca 0 and --method align hold the whole stack in memory.",
        epilog="examples:\n"
               "  cdae-lite cluster particles.mrcs -k 4 -o classes.star\n"
               "  cdae-lite cluster particles.mrcs -k 4 --denoise shipped --star particles.star -o classes.star\n"
               "  cdae-lite cluster particles.mrcs -k 10 --method align -o classes.star")
    p.add_argument("input", help="stack to cluster")
    p.add_argument("-k", type=int, required=True, help="number of classes")
    p.add_argument("-o", "--output", required=True, help="STAR file of class labels")
    p.add_argument("--averages", help="class averages .mrcs (default: beside the STAR file)")
    p.add_argument("--star", help="the stack's STAR file, whose rows are copied with the labels added")
    p.add_argument("--method", choices=["kmeans", "hierarchical", "align"], default="kmeans")
    p.add_argument("--pca", type=int, default=10, help="principal components (0: cluster pixels)")
    p.add_argument("--denoise", help="'shipped' or a checkpoint: denoise before clustering")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_cluster)

    p = sub.add_parser(
        "evaluate", formatter_class=_Formatter, help="PSNR/SSIM against clean images, F1/ARI against labels",
        description="Score denoised images against clean ones (PSNR per image with the clean image's range "
                    "as peak, SSIM), and/or class labels against true labels (matched precision, recall, F1, "
                    "pairwise F1, ARI, NMI).",
        epilog="examples:\n"
               "  cdae-lite evaluate --estimate denoised.mrcs --clean sim/adk_clean.mrcs\n"
               "  cdae-lite evaluate --labels classes.star --truth sim/adk_snr0.1.star")
    p.add_argument("--estimate", help="denoised stack")
    p.add_argument("--clean", help="clean stack")
    p.add_argument("--labels", help="STAR file with rlnClassNumber (from cdae-lite cluster)")
    p.add_argument("--truth", help="STAR file with the true classes")
    p.add_argument("--truth-column", default="cdaeView", help="column of --truth holding the true class")
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"cdae-lite {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cdae-lite {args.command}: interrupted; no partial output was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
