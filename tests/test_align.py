"""Tests of ``cdae_lite.cluster.align``: alignment-aware classification."""

import numpy as np
from test_methods import _patterns

from cdae_lite import cluster
from cdae_lite.metrics import clustering_scores


def test_alignment_aware_classification_handles_in_plane_rotations(rng):
    imgs, labels, _ = _patterns(rng, n_per=30, rotate=True, noise=0.3)
    raw = clustering_scores(labels, cluster.kmeans(cluster.pca(imgs, 5), 3))
    lab, refs, ang = cluster.align_classify(imgs, 3, n_iter=4)
    aligned = clustering_scores(labels, lab)
    assert aligned["accuracy"] > 0.95 and aligned["accuracy"] > raw["accuracy"]
    assert refs.shape == (3, 32, 32) and ang.shape == (90,)


def test_align_classify_uses_the_reference_denoiser_instead_of_the_low_pass(rng):
    from cdae_lite.cluster.align import align_classify

    yy, xx = np.mgrid[:16, :16] - 8
    views = np.stack([np.exp(-((xx - 4) ** 2 + yy**2) / 6.0), np.exp(-(xx**2 + (yy - 4) ** 2) / 3.0 - (xx - 2) ** 2 / 9)])
    x = (views[np.arange(40) % 2] + rng.normal(0, 0.05, (40, 16, 16))).astype(np.float32)
    calls = []

    def denoiser(refs):
        calls.append(refs.shape)
        return refs

    labels, refs, _ = align_classify(x, 2, n_iter=3, reference_denoiser=denoiser)
    assert calls == [(2, 16, 16)] * 3
    assert len(np.unique(labels)) == 2
