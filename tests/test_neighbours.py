import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from cdae_lite.denoise.finetune import FineTuneConfig, finetune
from cdae_lite.denoise.models import AEConfig, cdae
from cdae_lite.denoise.neighbours import knn, mean_targets, neighbour_means, pca_features, purity
from cdae_lite.denoise.train import TrainConfig


def test_knn_matches_brute_force_and_excludes_self(rng):
    f = rng.normal(size=(300, 5)).astype(np.float32)
    idx = knn(f, 7, device="cpu", block=64)
    ref = NearestNeighbors(n_neighbors=8).fit(f).kneighbors(f, return_distance=False)[:, 1:]
    assert np.array_equal(np.sort(idx, 1), np.sort(ref, 1))
    assert not np.any(idx == np.arange(300)[:, None])


def test_neighbours_of_well_separated_groups_are_pure(rng):
    centres = rng.normal(scale=10, size=(4, 16, 16))
    labels = np.repeat(np.arange(4), 50)
    imgs = (centres[labels] + rng.normal(size=(200, 16, 16))).astype(np.float32)
    targets, idx = neighbour_means(imgs, k=10, n_components=5)
    assert purity(idx, labels).min() == 1.0
    # the mean of 10 pure neighbours is 10x less noisy than one image
    err_img = ((imgs - centres[labels]) ** 2).mean()
    err_tgt = ((targets - centres[labels]) ** 2).mean()
    assert err_tgt < 0.15 * err_img


def test_mean_targets_exclude_the_image_itself():
    imgs = np.arange(4 * 2 * 2, dtype=np.float32).reshape(4, 2, 2)
    idx = np.array([[1, 2], [0, 2], [0, 1], [0, 1]])
    t = mean_targets(imgs, idx)
    assert np.allclose(t[0], (imgs[1] + imgs[2]) / 2)


def test_purity_of_random_neighbours_is_chance(rng):
    labels = np.repeat(np.arange(4), 250)
    idx = rng.integers(0, 1000, size=(1000, 30))
    assert abs(purity(idx, labels).mean() - 0.25) < 0.02


def test_k_too_large_is_a_clear_error(rng):
    with pytest.raises(ValueError, match="need at least"):
        knn(rng.normal(size=(10, 3)), 10)


def test_pca_features_shape(rng):
    assert pca_features(rng.normal(size=(40, 8, 8)).astype(np.float32), 10).shape == (40, 10)


def test_finetune_runs_end_to_end_and_leaves_the_input_model_alone(rng):
    centres = rng.normal(size=(2, 16, 16)).astype(np.float32)
    labels = np.repeat([0, 1], 20)
    imgs = centres[labels] + rng.normal(scale=0.5, size=(40, 16, 16)).astype(np.float32)
    model = cdae(AEConfig(channels=4))
    before = [p.clone() for p in model.parameters()]
    ft, rep = finetune(model, imgs, FineTuneConfig(k=5, n_components=4, train=TrainConfig(epochs=2, batch_size=8)),
                       labels=labels, device="cpu")
    assert len(rep.histories) == 3 and len(rep.purity) == 3 and rep.targets.shape == imgs.shape
    assert all((a == b).all() for a, b in zip(before, model.parameters()))
    assert any((a != b).any() for a, b in zip(model.parameters(), ft.parameters()))


@pytest.mark.parametrize("invert, dark, negated", [(None, True, True), (None, False, False), (False, True, False),
                                                   (True, False, True)])
def test_fine_tune_on_file_gives_the_model_the_polarity_denoising_will(tmp_path, monkeypatch, invert, dark, negated):
    import importlib

    import torch

    from cdae_lite.io.mrc import write_stack

    ft = importlib.import_module("cdae_lite.denoise.finetune")  # the module; the package exports the function

    yy, xx = np.mgrid[:16, :16] - 7.5
    disk = (np.hypot(yy, xx) < 4).astype(np.float32)
    stack = np.repeat(disk[None], 40, 0) + np.random.default_rng(0).normal(scale=0.1, size=(40, 16, 16)).astype(np.float32)
    stack = -stack if dark else stack
    path = tmp_path / "s.mrcs"
    write_stack(path, stack, 1.0)
    seen = {}
    monkeypatch.setattr(ft, "finetune", lambda model, x, cfg, device=None: (seen.setdefault("x", x), None))
    ft.fine_tune_on_file(torch.nn.Identity(), path, invert=invert)
    np.testing.assert_allclose(seen["x"], -stack if negated else stack, atol=1e-6)
