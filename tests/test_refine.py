"""The iterative denoise-cluster loop: it corrects labels, stops, and streams like it runs in memory."""

import numpy as np
import torch

from cdae_lite.cluster.refine import refine_file, refine_labels
from cdae_lite.io.mrc import write_stack
from cdae_lite.metrics import clustering_scores


def views(rng, n_per=60, sigma=2.0, size=16):
    yy, xx = np.mgrid[:size, :size] - size // 2
    clean = np.stack([np.exp(-((xx - a) ** 2 + (yy - b) ** 2) / 8.0) for a, b in ((-4, 0), (4, 0), (0, 4))])
    lab = np.repeat(np.arange(3), n_per)
    return (clean[lab] + rng.normal(0, sigma * clean.std(), (len(lab), size, size))).astype(np.float32), lab


class Blur(torch.nn.Module):
    """A stand-in denoiser: a 3 x 3 box filter."""

    def forward(self, x):
        return torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def test_the_loop_corrects_wrong_labels_and_stops(rng):
    x, lab = views(rng)
    start = lab.copy()
    flip = rng.random(len(lab)) < 0.3
    start[flip] = rng.integers(0, 3, flip.sum())
    assert clustering_scores(lab, start)["f1"] < 0.85
    r = refine_labels(x, start, 3, model=Blur())
    assert r.converged and r.changed[-1] == 0 and len(r.changed) < 20
    assert clustering_scores(lab, r.labels)["f1"] == 1.0
    assert r.references.shape == (3, 16, 16) and r.averages.shape == (3, 16, 16)
    np.testing.assert_allclose(r.averages[0], x[r.labels == 0].mean(0), atol=1e-5)
    assert refine_labels(x, start, 3, model=Blur(), max_iter=1).changed == r.changed[:1]  # the cap holds


def test_streamed_refinement_equals_the_in_memory_one(rng, tmp_path):
    x, lab = views(rng, n_per=40)
    start = np.roll(lab, 7)
    write_stack(tmp_path / "s.mrcs", x, 1.0)
    a = refine_labels(x, start, 3, model=Blur(), block_size=16)
    b = refine_file(tmp_path / "s.mrcs", start, 3, model=Blur(), block_size=50)
    assert (a.labels == b.labels).all() and a.changed == b.changed
    np.testing.assert_allclose(a.mean_correlation, b.mean_correlation, rtol=1e-5)


def test_an_empty_class_stays_empty_and_labels_must_match(rng):
    x, lab = views(rng, n_per=20)
    r = refine_labels(x, lab % 2, 3, model=None)
    assert set(np.unique(r.labels)) <= {0, 1}
    import pytest

    with pytest.raises(ValueError, match="labels for"):
        refine_labels(x, lab[:5], 3)
