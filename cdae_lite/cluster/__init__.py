"""From a stack to classes: features, k-means, Ward, spectral clustering, alignment-aware 2D classification, class averages.

:func:`~cdae_lite.cluster.stacks.cluster_stack` clusters a stack held in memory; :func:`~cdae_lite.cluster.stream.cluster_file` a stack on disk in
bounded memory (incremental PCA, then k-means on the scores); :mod:`~cdae_lite.cluster.refine` refines labels
against denoised class averages (beyond the paper: the iterative denoise-cluster loop);
:func:`~cdae_lite.cluster.ml2d.ml2d_classify` is maximum-likelihood 2D classification over rotations and shifts.
"""

from cdae_lite.cluster.align import align_classify, rotate, rotation_invariant_features
from cdae_lite.cluster.features import aae_features, cae_features, dae_features, encoder_features
from cdae_lite.cluster.ceiling import template_ceiling
from cdae_lite.cluster.ml2d import ML2DResult, ml2d_classify, ml2d_denoised_start
from cdae_lite.cluster.methods import (check_k, class_averages, flatten, hierarchical, kmeans, pca,
                                       spectral)
from cdae_lite.cluster.refine import Refinement, refine_file, refine_labels
from cdae_lite.cluster.stacks import choose_method, cluster_path, cluster_stack, labels_table, star_ctf_images
from cdae_lite.cluster.stream import MAX_HIERARCHICAL_IMAGES, ClusterReport, cluster_file

__all__ = ["ClusterReport", "MAX_HIERARCHICAL_IMAGES", "ML2DResult", "Refinement", "aae_features", "align_classify",
           "cae_features", "check_k", "choose_method", "class_averages", "cluster_file", "cluster_path",
           "cluster_stack", "dae_features", "encoder_features", "flatten", "hierarchical", "kmeans",
           "labels_table", "ml2d_classify", "ml2d_denoised_start", "pca", "refine_file", "refine_labels", "rotate",
           "rotation_invariant_features", "spectral", "star_ctf_images", "template_ceiling"]
