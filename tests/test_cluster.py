import itertools

import numpy as np
import pytest

from cdae_lite import cluster
from cdae_lite.metrics import clustering_scores, confusion_matrix, matched_scores, pairwise_scores


def test_perfect_clustering_scores_one_and_relabelling_does_not_matter():
    t = np.repeat(np.arange(4), 25)
    for p in (t, (t + 1) % 4, np.array([3, 0, 2, 1])[t]):
        s = clustering_scores(t, p)
        assert s["f1"] == s["ari"] == s["pairwise_f1"] == s["accuracy"] == 1.0
        assert np.isclose(s["nmi"], 1.0)


def test_random_labels_have_ari_near_zero(rng):
    t = np.repeat(np.arange(4), 500)
    s = clustering_scores(t, rng.integers(0, 4, 2000))
    assert abs(s["ari"]) < 0.01 and s["accuracy"] < 0.3


def test_one_big_cluster():
    t = np.repeat(np.arange(4), 10)
    s = clustering_scores(t, np.zeros(40, int))
    assert np.isclose(s["pairwise_recall"], 1) and np.isclose(s["pairwise_precision"], (4 * 45) / 780)
    assert np.isclose(s["accuracy"], 0.25) and s["ari"] == 0.0


def test_pairwise_scores_agree_with_a_brute_force_count(rng):
    t = rng.integers(0, 3, 30)
    p = rng.integers(0, 4, 30)
    tp = fp = fn = 0
    for i, j in itertools.combinations(range(30), 2):
        same_c, same_t = p[i] == p[j], t[i] == t[j]
        tp += same_c and same_t
        fp += same_c and not same_t
        fn += same_t and not same_c
    s = pairwise_scores(t, p)
    assert np.isclose(s["precision"], tp / (tp + fp)) and np.isclose(s["recall"], tp / (tp + fn))


def test_matched_scores_and_confusion_matrix():
    t = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    p = np.array([5, 5, 7, 7, 7, 7, 9, 9])
    m = matched_scores(t, p)
    assert m["mapping"] == {5: 0, 7: 1, 9: 2}
    assert np.isclose(m["accuracy"], 7 / 8)
    # view 0: precision 2/2, recall 2/3; view 1: precision 3/4, recall 1; view 2: 1, 1
    f = [2 * 1 * (2 / 3) / (1 + 2 / 3), 2 * 0.75 / 1.75, 1.0]
    assert np.isclose(m["f1"], np.mean(f))
    assert confusion_matrix(t, p).tolist() == [[2, 1, 0], [0, 3, 0], [0, 0, 2]]


def test_bad_labels_and_k():
    with pytest.raises(ValueError, match="labels"):
        clustering_scores([0, 1], [0])
    with pytest.raises(ValueError, match="more than the 5 images"):
        cluster.kmeans(np.zeros((5, 3)), 6)
    with pytest.raises(ValueError, match="positive"):
        cluster.hierarchical(np.zeros((5, 3)), 0)


def _patterns(rng, n_per=30, size=32, noise=0.3, rotate=False):
    """Three patterns of 2, 3 and 4 blobs (distinct up to rotation), drawn analytically, so that a
    rotated pattern is exactly rotated (no interpolation)."""
    yy, xx = np.indices((size, size)) - size // 2
    labels = np.repeat(np.arange(3), n_per)
    angles = rng.uniform(0, 2 * np.pi, len(labels)) if rotate else np.zeros(len(labels))
    imgs = np.zeros((len(labels), size, size), np.float32)
    for i, (c, phi) in enumerate(zip(labels, angles)):
        for a in range(c + 2):
            ang = 2 * np.pi * a / (c + 2) + phi + 0.3 * a * (c == 2)  # pattern 2 is not symmetric
            imgs[i] += np.exp(-((xx - (5 + c) * np.cos(ang)) ** 2 + (yy - (5 + c) * np.sin(ang)) ** 2) / 6.0)
    return (imgs + noise * rng.normal(size=imgs.shape)).astype(np.float32), labels, angles


def test_kmeans_and_hierarchical_find_aligned_views_and_are_deterministic(rng):
    imgs, labels, _ = _patterns(rng)
    f = cluster.pca(imgs, 5)
    a, b = cluster.kmeans(f, 3, seed=1), cluster.kmeans(f, 3, seed=1)
    assert np.array_equal(a, b)
    assert clustering_scores(labels, a)["accuracy"] == 1.0
    assert clustering_scores(labels, cluster.hierarchical(f, 3))["accuracy"] == 1.0


def test_rotated_copies_are_closer_in_rotation_invariant_features_than_other_patterns():
    rng = np.random.default_rng(5)
    imgs, labels, angles = _patterns(rng, n_per=6, noise=0.0, rotate=True)
    d = {name: np.linalg.norm(f[:, None] - f[None], axis=-1) for name, f in
         [("invariant", cluster.rotation_invariant_features(imgs)), ("pixels", cluster.flatten(imgs))]}
    same = labels[:, None] == labels[None]
    off = ~np.eye(len(labels), dtype=bool)
    # rotated copies of one pattern: every one nearer each other than to any other pattern...
    assert d["invariant"][same & off].max() < d["invariant"][~same].min()
    # ...which is not so in pixel space, where a rotated copy is just another image
    assert d["pixels"][same & off].max() > d["pixels"][~same].min()


def test_alignment_aware_classification_handles_in_plane_rotations(rng):
    imgs, labels, _ = _patterns(rng, n_per=30, rotate=True, noise=0.3)
    raw = clustering_scores(labels, cluster.kmeans(cluster.pca(imgs, 5), 3))
    lab, refs, ang = cluster.align_classify(imgs, 3, n_iter=4)
    aligned = clustering_scores(labels, lab)
    assert aligned["accuracy"] > 0.95 and aligned["accuracy"] > raw["accuracy"]
    assert refs.shape == (3, 32, 32) and ang.shape == (90,)


def test_class_averages(rng):
    imgs = rng.normal(size=(6, 4, 4)).astype(np.float32)
    lab = np.array([0, 0, 1, 1, 1, 3])
    avg = cluster.class_averages(imgs, lab)
    assert avg.shape == (4, 4, 4) and np.allclose(avg[1], imgs[2:5].mean(0)) and np.all(avg[2] == 0)
    with pytest.raises(ValueError):
        cluster.class_averages(imgs, lab[:3])


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


def test_spectral_clustering_follows_chains_of_neighbours_where_kmeans_cuts():
    from sklearn.datasets import make_circles

    from cdae_lite.cluster import kmeans, spectral
    from cdae_lite.metrics import clustering_scores

    x, truth = make_circles(n_samples=300, factor=0.4, noise=0.04, random_state=0)
    assert clustering_scores(truth, spectral(x, 2, n_neighbours=10))["f1"] > 0.99
    assert clustering_scores(truth, kmeans(x, 2))["f1"] < 0.7  # two rings: k-means cuts them in halves
    np.testing.assert_array_equal(spectral(x, 2), spectral(x, 2))
    with pytest.raises(ValueError, match="more than"):
        spectral(x[:3], 4)


def test_dark_particles_are_negated_once_around_the_model_of_the_first_clustering(tmp_path, monkeypatch):
    """With ``model`` and ``refine_with`` on dark particles, the denoised images clustered first are
    ``-model(-x)``: the model wrapped in one ``Negated``, not two (the inner call must not detect polarity again)."""
    import torch

    from cdae_lite.cluster import stacks
    from cdae_lite.denoise.inference import Negated
    from cdae_lite.io.mrc import write_stack

    imgs, _, _ = _patterns(np.random.default_rng(0), n_per=12, size=32, noise=0.3)
    path = write_stack(tmp_path / "dark.mrcs", -imgs, 1.0)  # dark particles on a lighter background
    seen, real = [], stacks.predict

    def spy(model, x, **kwargs):
        seen.append(model)
        return real(model, x, **kwargs)

    def depth(m):
        return 1 + depth(m.inner) if isinstance(m, Negated) else 0

    monkeypatch.setattr(stacks, "predict", spy)
    rep = stacks.cluster_path(path, 3, n_components=0, model=torch.nn.Identity(), refine_with=torch.nn.Identity(),
                              max_iter=2)
    assert rep.inverted and rep.refinement is not None
    assert [depth(m) for m in seen] == [1]
