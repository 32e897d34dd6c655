"""Tests of ``cdae_lite.cluster.stream``: clustering a stack larger than memory, block by block."""

import numpy as np
import pytest
from test_methods import _patterns

from cdae_lite import cluster
from cdae_lite.metrics import clustering_scores


# ------------------------------------------------------------------------ streamed (bounded memory)
@pytest.fixture
def pattern_stack(tmp_path):
    from cdae_lite.io.mrc import write_stack

    rng = np.random.default_rng(3)
    imgs, labels, _ = _patterns(rng, n_per=70, size=16, noise=0.3)
    order = rng.permutation(len(labels))  # classes interleaved, as in a real stack
    path = write_stack(tmp_path / "p.mrcs", imgs[order], 2.5)
    return path, imgs[order], labels[order]


def test_streamed_clustering_matches_in_memory_clustering(pattern_stack):
    from cdae_lite.cluster.stream import cluster_file

    path, imgs, labels = pattern_stack
    rep = cluster_file(path, 3, n_components=5, block_size=64, seed=1)  # 210 images: 4 blocks, the last of 18
    assert rep.labels.shape == (210,) and rep.scores.shape == (210, 5) and rep.pixel_size_A == pytest.approx(2.5)
    assert clustering_scores(labels, rep.labels)["accuracy"] == 1.0
    assert np.array_equal(rep.labels, cluster_file(path, 3, n_components=5, block_size=64, seed=1).labels)
    np.testing.assert_allclose(rep.averages, cluster.class_averages(imgs, rep.labels, 3), atol=1e-5)
    assert rep.sizes == [70, 70, 70] and "clustered 210 images into 3 classes" in rep.summary()
    # PCA fitted on two spread blocks only (of four) still separates the classes, and so does Ward
    assert clustering_scores(labels, cluster_file(path, 3, 5, block_size=64, fit_images=128).labels)["accuracy"] == 1.0
    assert clustering_scores(labels, cluster_file(path, 3, 5, "hierarchical", block_size=64).labels)["accuracy"] == 1.0


def test_streamed_clustering_never_reads_more_than_a_block(pattern_stack, monkeypatch):
    from cdae_lite.cluster.stream import cluster_file
    from cdae_lite.io import blocks

    path, _, _ = pattern_stack
    sizes = []
    real = blocks.read_block

    def spy(p, mrc, data, start, stop):
        out = real(p, mrc, data, start, stop)
        sizes.append(len(out))
        return out

    monkeypatch.setattr(blocks, "read_block", spy)
    cluster_file(path, 3, 5, block_size=50)
    assert max(sizes) == 50 and sum(sizes) == 3 * 210  # fit on all (small stack), project, average


def test_streamed_clustering_refuses_bad_input(pattern_stack, tmp_path, monkeypatch):
    import mrcfile

    from cdae_lite.cluster import stream

    path, imgs, _ = pattern_stack
    with pytest.raises(ValueError, match="more than the 210 images"):
        stream.cluster_file(path, 300)
    monkeypatch.setattr(stream, "MAX_HIERARCHICAL_IMAGES", 100)
    with pytest.raises(ValueError, match="210 x 210 distance matrix.*use k-means"):
        stream.cluster_file(path, 3, method="hierarchical")
    bad = imgs.copy()
    bad[150, 3, 3] = np.nan
    with mrcfile.new(tmp_path / "nan.mrcs") as m:  # write_stack itself refuses NaN
        m.set_data(bad)
    with pytest.raises(ValueError, match="image 150 holds NaN"):
        stream.cluster_file(tmp_path / "nan.mrcs", 3, block_size=64)
