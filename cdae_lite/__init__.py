"""cdae-lite: a cascade of denoising autoencoders for cryo-EM images, small enough to teach.

The subpackages are the stages of the data flow, each using only those before it::

    simulation:  structure --maps--> 3D map --projection, ctf, noise--> noisy stack (+ labels)
    denoise:     noisy stack --models, train, finetune, baselines--> denoised stack
    cluster:     stack --features, k-means, Ward, alignment--> labels, class averages
    metrics:     (clean, denoised, labels) --> scores;  plot: figures
    paper:       the paper's experiments and recorded results (apart from the reusable library)

with ``runtime`` (device, seeds, progress, provenance), ``images`` (checks and transforms) and ``io``
(MRC, STAR, safe files, data paths) under all of them. The names listed in ``__all__`` are the public
API; they are imported on first use, so ``import cdae_lite`` stays fast.

Arrays are ``float32`` NumPy arrays of shape ``(n, size, size)``; torch tensors carry a channel axis,
``(n, 1, size, size)``. Units are written into argument names (``pixel_size_A``, ``defocus_A``,
``angles_deg``).
"""

from __future__ import annotations

import importlib
import logging

__version__ = "0.1.0"

# The library logs through logging.getLogger(__name__) and configures nothing: an application chooses
# where messages go (the command line sends them to stderr); logging.getLogger("cdae_lite").setLevel(...)
# quiets the package.
logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Where the book and the project live. Used for launch buttons and for fetching data files when the
#: package is installed without its repository checkout.
REPOSITORY_URL = "https://github.com/cdae-lite/cdae-lite"

#: Subpackages and modules, by stage.
SUBMODULES = ("runtime", "distributed", "images", "io", "simulation", "denoise", "cluster", "metrics", "plot", "paper", "cli")

#: The public functions and classes, and the module each comes from.
_API = {
    "cdae_lite.runtime": ["get_device", "seed_everything"],
    "cdae_lite.images": ["check_images", "equalize_hist", "evenly_spaced", "normalise", "resample_images"],
    "cdae_lite.io": ["data_path", "read_stack", "read_star", "write_stack", "write_star"],
    "cdae_lite.simulation": ["CTFParams", "Projector", "SimulatedStack", "SimulationConfig", "add_noise", "apply_ctf",
                             "load_map", "load_particles", "load_protein", "project", "simulate", "simulate_protein",
                             "test_proteins", "training_protein"],
    "cdae_lite.denoise": ["AEConfig", "BM3D", "FineTuneConfig", "TrainConfig", "block_outputs", "denoise_file",
                          "finetune", "load_denoiser", "load_model", "predict", "pretrain_cdae", "pretrain_single",
                          "save_model", "StackAwareConfig", "stack_denoise"],
    "cdae_lite.cluster": ["class_averages", "cluster_file", "cluster_stack", "hierarchical", "kmeans", "pca"],
    "cdae_lite.metrics": ["clustering_scores", "psnr", "ssim", "view_fidelity"],
}
_WHERE = {name: module for module, names in _API.items() for name in names}

__all__ = ["REPOSITORY_URL", "__version__", *SUBMODULES, *sorted(_WHERE)]


def __getattr__(name: str):
    if name in SUBMODULES:
        return importlib.import_module(f"cdae_lite.{name}")
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'cdae_lite' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
