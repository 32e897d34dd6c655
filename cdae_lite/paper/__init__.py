"""The paper's experiments, apart from the reusable library: configs, data, cached models, tables,
recorded results with provenance, and the shipped model's recipe.

Chapters call these functions so that they stay short; the recorded results under ``results/`` are
made by the same functions from the command line::

    python -m cdae_lite.paper cdae --profile cpu --seeds 0 1 2

Profiles (quick, full, the smoke path) and the quick overrides of the library's configs are in
:mod:`cdae_lite.paper.profiles`. Files carry their provenance (date, device, torch version, git commit,
seeds, the exact command); see ``results/README.md``.
"""

from cdae_lite.paper.baselines import denoising_snr_sweep, run_baselines, table1, tuned_classical
from cdae_lite.paper.cache import cached_model, code_hash, data_hash
from cdae_lite.paper.cdae import run_cdae
from cdae_lite.paper.clustering import cluster_methods, clustering_realistic, clustering_snr_sweep, run_clustering
from cdae_lite.paper.configs import (CPU_BUDGET_NOTE, CPU_IMAGES_PER_VIEW, CPU_PROFILE_NOTE, BaselineExperiment,
                                     CDAEExperiment, ClusteringExperiment)
from cdae_lite.paper.general import general_recipe
from cdae_lite.paper.general_cdae import GeneralModelConfig, general_training_pairs, train_general_model
from cdae_lite.paper.models import (cdae_pairs, dncnn_model, finetuned_model, learned_denoisers, noise2void_model,
                                    paper_data, pretrained_models)
from cdae_lite.paper.profiles import by_profile, for_profile, get_profile, smoke
from cdae_lite.paper.results import (largest_recorded, load_result, provenance, record, recorded_blocks,
                                     recorded_or_none, recorded_table, seed_differences)
from cdae_lite.paper.scorecard import CLAIMS, remember, remembered, score_claims
from cdae_lite.paper.tables import (F1_TIE, best_agreement, best_methods, blind_sets, block_psnr_rows, class_average_ceiling, clustering_rows,
                                    collapsed_proteins, collapsed_table, denoising_table, diagnostics, f1_direction, itemize,
                                    mean_std_table, pivot, psnr_rows, rotation_search_note, score, verdict)

__all__ = ["BaselineExperiment", "CDAEExperiment", "CLAIMS", "CPU_BUDGET_NOTE", "CPU_IMAGES_PER_VIEW", "CPU_PROFILE_NOTE",
           "ClusteringExperiment", "GeneralModelConfig", "best_agreement", "best_methods", "blind_sets", "block_psnr_rows", "cached_model",
           "cdae_pairs", "class_average_ceiling", "cluster_methods", "clustering_realistic",
           "clustering_rows", "clustering_snr_sweep", "code_hash", "collapsed_proteins", "collapsed_table", "data_hash", "denoising_snr_sweep", "denoising_table", "diagnostics",
           "dncnn_model", "F1_TIE", "f1_direction", "finetuned_model", "general_training_pairs", "itemize", "largest_recorded", "learned_denoisers",
           "load_result", "mean_std_table", "noise2void_model", "paper_data", "pivot", "pretrained_models",
           "provenance", "psnr_rows", "record", "rotation_search_note", "recorded_blocks", "recorded_or_none", "recorded_table", "remember", "remembered", "score_claims",
           "run_baselines", "run_cdae", "seed_differences", "run_clustering", "score", "table1", "general_recipe",
           "train_general_model", "tuned_classical", "verdict",
           "by_profile", "for_profile", "get_profile", "smoke"]
