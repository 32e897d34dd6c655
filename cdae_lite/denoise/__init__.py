"""From a noisy stack to a denoised one: networks, training, fine-tuning, inference, baselines, streaming.

- :mod:`~cdae_lite.denoise.models`: the paper's autoencoder, the cascade (CDAE), DnCNN, a U-Net;
- :mod:`~cdae_lite.denoise.train` and :mod:`~cdae_lite.denoise.finetune`: pre-training on pairs and
  the paper's fine-tuning on neighbour means (:mod:`~cdae_lite.denoise.neighbors`);
- :mod:`~cdae_lite.denoise.inference`, :mod:`~cdae_lite.denoise.checkpoint`,
  :mod:`~cdae_lite.denoise.stream`: applying, storing and streaming a model over a file;
- :mod:`~cdae_lite.denoise.baselines`: classical filters (BM3D, NL-means, ...) behind one interface;
- :mod:`~cdae_lite.denoise.preprocess`: preparing real particles (phase flip, normalisation).
"""

from cdae_lite.denoise.baselines import (
                                      BM3D,
                                      CLASSICAL,
                                      TV,
                                      Denoiser,
                                      Gaussian,
                                      Identity,
                                      Learned,
                                      NLMeans,
                                      Wavelet,
                                      Wiener,
                                      tune,
)
from cdae_lite.denoise.checkpoint import SHIPPED_MODEL, load_denoiser, load_model, save_model
from cdae_lite.denoise.finetune import FineTuneConfig, FineTuneReport, fine_tune_on_file, finetune
from cdae_lite.denoise.inference import block_outputs, predict
from cdae_lite.denoise.models import (
                                      AEConfig,
                                      Cascade,
                                      DnCNNConfig,
                                      UNetConfig,
                                      autoencoder,
                                      build,
                                      cdae,
                                      chain,
                                      describe,
                                      dncnn,
                                      n_parameters,
                                      unet,
)
from cdae_lite.denoise.neighbors import knn, mean_targets, neighbor_means, pca_features, purity
from cdae_lite.denoise.preprocess import phase_flip_star, prepare, star_ctf, star_pixel_size
from cdae_lite.denoise.stream import StreamReport, denoise_file
from cdae_lite.denoise.train import (
                                      History,
                                      TrainConfig,
                                      blind_spot,
                                      fit,
                                      ladder_pairs,
                                      pretrain_cdae,
                                      pretrain_end_to_end,
                                      pretrain_single,
)

__all__ = ["AEConfig", "BM3D", "CLASSICAL", "Cascade", "Denoiser", "DnCNNConfig", "FineTuneConfig", "FineTuneReport",
           "Gaussian", "History", "Identity", "Learned", "NLMeans", "SHIPPED_MODEL", "StreamReport", "TV",
           "TrainConfig", "UNetConfig", "Wavelet", "Wiener", "autoencoder", "blind_spot", "block_outputs", "build", "cdae", "chain",
           "denoise_file", "describe", "dncnn", "fine_tune_on_file", "finetune", "fit", "knn", "ladder_pairs",
           "load_denoiser", "load_model", "mean_targets", "n_parameters", "neighbor_means", "pca_features",
           "phase_flip_star", "predict", "prepare", "pretrain_cdae", "pretrain_end_to_end", "pretrain_single",
           "purity", "save_model", "star_ctf", "star_pixel_size", "tune", "unet"]
