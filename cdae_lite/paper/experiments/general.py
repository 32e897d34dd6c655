"""``python -m cdae_lite.paper general``: train the shipped general denoiser's recipe
(:data:`cdae_lite.denoise.recipe.GENERAL`) at a profile's scale; ``cdae-lite train --recipe general`` runs it
at full scale."""

from __future__ import annotations

import argparse

from cdae_lite.paper.experiments.common import add_device, add_profile, add_seeds, wrote

NAME = "general"
HELP = "train the shipped general denoiser"


def add_args(parser: argparse.ArgumentParser) -> None:
    """The training's options: profile, seed, time, learning rate, batch, bank and network widths."""
    add_profile(parser)
    add_seeds(parser)
    parser.set_defaults(seeds=None)  # the recipe's seeds unless given
    add_device(parser)
    parser.add_argument("--out", help="output checkpoint (default: data/weights/denoiser_general.pt; earlier "
                                      "stages write <stem>.stage1.pt... beside it)")
    parser.add_argument("--minutes", type=float, help="general: the whole run's training time, shared among the "
                                                      "stages as the recipe shares it (default: the recipe's, 75 + 90)")
    parser.add_argument("--init", help="general: train only the last stage, from this checkpoint ('general' = the "
                                       "shipped one) instead of the first stage's weights")
    parser.add_argument("--overwrite", action="store_true",
                        help="allow replacing an existing output (the default output is the shipped model)")
    parser.add_argument("--lr", type=float, help="general: peak learning rate (default: the config's)")
    parser.add_argument("--batch-size", type=int, help="general: images per step (default: the config's, 32; "
                                                       "larger on a GPU, e.g. 256)")
    parser.add_argument("--high-snr-fraction", type=float,
                        help="general: share of training images at SNR 0.3-3 (default: the config's)")
    parser.add_argument("--phantoms", type=int, help="general: pseudo-proteins in the bank (default: the config's)")
    parser.add_argument("--channels", type=int, nargs=4, metavar="C",
                        help="general: the U-Net's widths, three levels and the bottleneck (default: the config's, "
                             "32 64 128 128); wider on a GPU, e.g. 64 128 256 256")


def config(args: argparse.Namespace):
    """The ``GeneralRecipe`` that ``args`` (parsed options of :func:`add_args`) asks for.

    :func:`~cdae_lite.paper.general.general_recipe` of the profile (``cpu`` counts as ``full``: the
    shipped model's two stages) with the options given: ``--channels`` and ``--batch-size`` in every
    stage, ``--seeds`` (the bank's and training's seed), ``--phantoms``, ``--lr`` and
    ``--high-snr-fraction`` in the last.
    """
    from cdae_lite.denoise.models import GeneralUNetConfig
    from cdae_lite.paper.general import general_recipe, with_changes

    recipe = general_recipe("full" if args.profile in ("cpu", "full") else args.profile)
    net = GeneralUNetConfig(tuple(args.channels)) if args.channels else None
    return with_changes(recipe, net, args.seeds[0] if args.seeds else None, args.phantoms, lr=args.lr,
                        batch_size=args.batch_size, high_snr_fraction=args.high_snr_fraction)


def main(args: argparse.Namespace) -> int:
    """Train the recipe and write the checkpoint (data-parallel under ``torchrun --nproc-per-node N``)."""
    from cdae_lite.denoise import recipe as recipes
    from cdae_lite.distributed import is_main, local_device, process_group
    from cdae_lite.io.paths import data_dir
    from cdae_lite.runtime import get_device

    cfg = config(args)
    device = get_device(local_device(args.device))
    out = args.out or data_dir() / "weights" / "denoiser_general.pt"
    with process_group(device):  # torchrun --nproc-per-node N -m cdae_lite.paper general: data-parallel
        path = recipes.train_recipe(cfg, out, device, args.minutes, args.init, args.overwrite)
    return wrote(path) if is_main() else 0
