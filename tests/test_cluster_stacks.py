"""Tests of ``cdae_lite.cluster.stacks``: the clustering of a stack file, its method and its CTF."""

import numpy as np
from test_methods import _patterns
from test_ml2d import StackMean

from cdae_lite.metrics import clustering_scores
from cdae_lite.simulation import ctf_2d


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


def test_cli_cluster_picks_ml2d_for_rotated_particles(tmp_path):
    from cdae_lite.cli import main
    from cdae_lite.cluster.stacks import choose_method
    from cdae_lite.io import read_star

    sim = ["simulate", "--protein", "adk", "--per-view", "30", "--size", "32", "--snr", "0.3", "--seed", "4"]
    assert main([*sim, "--preset", "realistic", "-o", str(tmp_path / "r")]) == 0
    assert main([*sim, "-o", str(tmp_path / "p")]) == 0
    star = tmp_path / "r" / "adk_snr0.3.star"
    assert choose_method(read_star(star)[0]) == "ml2d"
    assert choose_method(read_star(tmp_path / "p" / "adk_snr0.3.star")[0]) == "kmeans"
    assert choose_method(None) == "kmeans"
    out = tmp_path / "classes.star"
    assert main(["cluster", str(tmp_path / "r" / "adk_snr0.3.mrcs"), "-k", "4", "--star", str(star),
                 "-o", str(out)]) == 0
    rows = read_star(out)[0]
    f1 = clustering_scores(rows["cdaeView"].to_numpy(), rows["rlnClassNumber"].to_numpy() - 1)["f1"]
    assert f1 >= 0.9, f1


def test_star_ctf_images_uses_each_rows_optics_group():
    import pandas as pd

    from cdae_lite.cluster.stacks import star_ctf_images

    rows = pd.DataFrame({"rlnDefocusU": [15000.0, 15000.0], "rlnVoltage": [300.0, 200.0],
                         "rlnSphericalAberration": [2.7, 2.0], "rlnAmplitudeContrast": [0.1, 0.07]})
    got = star_ctf_images(rows, {"rlnVoltage": 300.0}, 2, 32, 2.0, "x.mrcs", by_position=True)
    for i in range(2):
        want = ctf_2d(32, 2.0, rows.rlnDefocusU.to_numpy()[i:i + 1], rows.rlnDefocusU.to_numpy()[i:i + 1],
                      np.zeros(1), *rows.iloc[i][["rlnVoltage", "rlnSphericalAberration",
                                                   "rlnAmplitudeContrast"]].astype(float)).numpy()
        np.testing.assert_allclose(got[i], want[0], atol=1e-6)
    assert not np.allclose(got[0], got[1])


def test_a_denoiser_with_ml2d_starts_em_on_the_raw_images_with_their_ctf(tmp_path):
    from cdae_lite.cli import main
    from cdae_lite.cluster.stacks import cluster_path
    from cdae_lite.io import read_star

    assert main(["simulate", "--protein", "adk", "--per-view", "30", "--size", "32", "--snr", "0.3", "--seed", "4",
                 "--preset", "realistic", "-o", str(tmp_path)]) == 0
    particles, optics = read_star(tmp_path / "adk_snr0.3.star")[:2]
    truth, path = particles["cdaeView"].to_numpy(), tmp_path / "adk_snr0.3.mrcs"
    raw = cluster_path(path, 4, star=(particles, optics, False), method=None)
    started = cluster_path(path, 4, star=(particles, optics, False), method=None, model=StackMean(), invert=False)
    f1 = [clustering_scores(truth, r.labels)["f1"] for r in (raw, started)]
    assert f1[0] >= 0.9 and f1[1] >= f1[0] - 0.02, f1
    assert started.averages.shape == (4, 32, 32) and not started.inverted
