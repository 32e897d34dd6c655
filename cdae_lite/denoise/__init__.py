"""From a noisy stack to a denoised one: networks, training, fine-tuning, inference, baselines, streaming.

- :mod:`~cdae_lite.denoise.models`: the paper's autoencoder, the cascade (CDAE), DnCNN, a U-Net;
- :mod:`~cdae_lite.denoise.train` and :mod:`~cdae_lite.denoise.finetune`: pre-training on pairs and
  the paper's fine-tuning on neighbour means (:mod:`~cdae_lite.denoise.targets`, searched by
  :mod:`~cdae_lite.denoise.neighbours`), with better targets and a label-free stopping score beyond the paper;
- :mod:`~cdae_lite.denoise.inference`, :mod:`~cdae_lite.denoise.checkpoint`,
  :mod:`~cdae_lite.denoise.stream`: applying, storing and streaming a model over a file;
- :mod:`~cdae_lite.denoise.baselines`: classical filters (BM3D, NL-means, ...) behind one interface,
  their parameter tuned on training pairs by :mod:`~cdae_lite.denoise.tuning`;
- :mod:`~cdae_lite.denoise.preprocess`: preparing real particles (phase flip, normalisation);
- :mod:`~cdae_lite.denoise.synthetic` and :mod:`~cdae_lite.denoise.calibrate` (beyond the paper):
  training on clean targets with fresh noise, and a label-free calibration of any output's contrast;
- :mod:`~cdae_lite.denoise.loop`: the one training loop (batch sources: pairs, fresh noise), and
  :mod:`~cdae_lite.denoise.recipe`: the shipped general denoiser's recipe (``cdae-lite train --recipe general``);
- :mod:`~cdae_lite.denoise.stackaware` (beyond the paper): each particle averaged with its aligned
  look-alikes from the stack, then denoised.
"""

from cdae_lite.denoise.baselines import (BM3D, CLASSICAL, TV, Baseline, Gaussian, Identity, Learned, NLMeans, Wavelet,
                                         Wiener)
from cdae_lite.denoise.calibrate import apply_scale, estimate_noise_sigma, stein_scale
from cdae_lite.denoise.checkpoint import (SHIPPED_MODEL, SHIPPED_MODELS, load_denoiser, load_model, recorded_gain,
                                          save_model)
from cdae_lite.denoise.finetune import FineTuneConfig, FineTuneReport, fine_tune_on_file, finetune
from cdae_lite.denoise.inference import Negated, Symmetrized, block_outputs, for_polarity, predict
from cdae_lite.denoise.models import (Cascade, autoencoder, build, cdae, chain, describe, dncnn, general_unet, n_parameters,
                                      noise2void_unet)
from cdae_lite.denoise.networks import AEConfig, DnCNNConfig, GeneralUNetConfig, Noise2VoidConfig
from cdae_lite.denoise.neighbours import knn, pca_features
from cdae_lite.denoise.preprocess import phase_flip_star, prepare, star_ctf_params, star_pixel_size
from cdae_lite.denoise.stackaware import (Alignment, StackAwareConfig, aligned_average, find_lookalikes,
                                          stack_denoise)
from cdae_lite.denoise.stream import StreamReport, denoise_file
from cdae_lite.denoise.targets import (Neighbourhoods, TargetConfig, compare_targets, find_neighbourhoods,
                                       heldout_means, neighbourhood_means, neighbourhood_purity, stopping_scores)
from cdae_lite.denoise.loop import BatchSource, train_loop
from cdae_lite.denoise.recipe import GENERAL, GeneralRecipe, train_recipe
from cdae_lite.denoise.synthetic import FreshNoise, FreshNoiseConfig, add_fresh_noise, fit_fresh_noise
from cdae_lite.denoise.train import (History, TrainConfig, blind_spot, fit, ladder_pairs, pretrain_cdae,
                                     pretrain_end_to_end, pretrain_single)
from cdae_lite.denoise.tuning import tune

__all__ = ["AEConfig", "Alignment", "BM3D", "CLASSICAL", "Cascade", "Baseline", "GeneralUNetConfig", "DnCNNConfig", "FineTuneConfig",
           "FineTuneReport", "BatchSource", "FreshNoise", "FreshNoiseConfig", "GENERAL", "GeneralRecipe", "Negated", "for_polarity", "Gaussian", "History", "Identity", "Learned", "NLMeans",
           "SHIPPED_MODEL", "SHIPPED_MODELS", "StreamReport", "Symmetrized", "TV", "TrainConfig", "Noise2VoidConfig", "Wavelet", "Wiener",
           "add_fresh_noise", "aligned_average", "apply_scale", "autoencoder", "blind_spot", "block_outputs", "build", "cdae", "chain",
           "denoise_file", "general_unet", "describe", "dncnn", "estimate_noise_sigma", "find_lookalikes", "fine_tune_on_file", "finetune",
           "fit", "fit_fresh_noise", "knn", "ladder_pairs", "load_denoiser", "load_model",
           "n_parameters", "Neighbourhoods", "TargetConfig", "compare_targets",
           "find_neighbourhoods", "heldout_means", "neighbourhood_means", "neighbourhood_purity", "stopping_scores", "pca_features", "phase_flip_star", "predict", "prepare", "pretrain_cdae",
           "pretrain_end_to_end", "pretrain_single", "recorded_gain", "save_model", "StackAwareConfig", "stack_denoise", "star_ctf_params",
           "star_pixel_size", "stein_scale", "train_loop", "train_recipe", "tune", "noise2void_unet"]
