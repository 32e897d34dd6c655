"""Maximum-likelihood 2D classification (cdae_lite.cluster.ml2d); the template ceiling is in tests/test_ceiling.py."""

import numpy as np
import pytest
import torch

from cdae_lite.cluster import kmeans, ml2d_classify, pca
from cdae_lite.cluster import em2d
from cdae_lite.metrics import clustering_scores
from cdae_lite.simulation import CTFParams, Projector, SimulationConfig, ctf_2d, euler_to_matrix, load_protein, simulate


class StackMean(torch.nn.Module):
    """A "denoiser" whose outputs alone would lose the views: every image becomes the stack's mean."""

    def forward(self, t):
        return t.mean(0, keepdim=True).expand_as(t) + 1e-3 * t


@pytest.fixture(scope="module")
def stack():
    """4 views of adk, 32 px, rotated in plane, shifted, under a CTF, SNR 0.3."""
    torch.set_num_threads(1)
    p = load_protein("adk")
    vol, px = p.volume(32)
    cfg = SimulationConfig(image_size=32, n_views=4, images_per_view=40, seed=3).realistic()
    st = simulate(vol, px, np.array(p.views_deg), cfg, snrs=(0.3,), device="cpu")
    m, prm = st.meta, CTFParams()
    ctf = ctf_2d(32, st.pixel_size_A, m.rlnDefocusU.to_numpy(), m.rlnDefocusV.to_numpy(),
                 m.rlnDefocusAngle.to_numpy(), prm.voltage_kV, prm.cs_mm, prm.amplitude_contrast).numpy()
    templates = Projector(vol, device="cpu").project(euler_to_matrix(*np.array(p.views_deg).T)).numpy()
    return st.noisy[0.3], st.labels, ctf, templates


def test_ml2d_recovers_rotated_views_where_kmeans_cannot(stack):
    x, truth, ctf, _ = stack
    res = ml2d_classify(x, 4, ctf, n_iter=10, seed=0)
    f1 = clustering_scores(truth, res.labels)["f1"]
    f1_kmeans = clustering_scores(truth, kmeans(pca(x), 4, seed=0))["f1"]
    assert f1 >= 0.9 and f1_kmeans < 0.75, (f1, f1_kmeans)
    assert res.averages.shape == (4, 32, 32) and res.averages.dtype == np.float32
    assert np.isfinite(res.averages).all() and res.labels.dtype == np.int64
    assert res.angles_deg.shape == (len(x),) and res.shifts_px.shape == (len(x), 2)
    assert np.abs(res.shifts_px).max() <= 32 / 24 + 1e-9 and len(res.loglik) >= 1
    assert abs(res.class_fractions.sum() - 1) < 1e-6 and 0 < res.sigma2 < 2
    hard = ml2d_classify(x, 4, ctf, n_iter=10, seed=0, hard=True)  # classification EM ("force max")
    assert clustering_scores(truth, hard.labels)["f1"] >= 0.9


def test_same_seed_same_result_other_init_runs(stack):
    x, _, ctf, _ = stack
    a = ml2d_classify(x[:80], 2, ctf[:80], n_iter=3, seed=1, init="random")
    b = ml2d_classify(x[:80], 2, ctf[:80], n_iter=3, seed=1, init="random")
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.averages, b.averages)
    assert a.loglik == b.loglik


def test_bad_input_is_one_line_value_error(stack):
    x, _, ctf, _ = stack
    nan = x[:10].copy()
    nan[3, 4, 4] = np.nan
    const = x[:10].copy()
    const[2] = 1.0
    cases = [(lambda: ml2d_classify(x[:5], 6), "more than the 5 images"),
             (lambda: ml2d_classify(x[:1], 1), "at least 2 images"),
             (lambda: ml2d_classify(nan, 2), "NaN"), (lambda: ml2d_classify(const, 2), "constant"),
             (lambda: ml2d_classify(x[:10], 2, ctf[:9]), "ctf must be"),
             (lambda: ml2d_classify(x[:10], 2, max_freq=0), "max_freq"),
             (lambda: ml2d_classify(x[:10], 2, init="nope"), "init must be"),
             (lambda: ml2d_classify(x[:10], 2, tau2_noise="nope"), "tau2_noise must be one of"),
             (lambda: ml2d_classify(x[:10], 2, final_mask_radius_px=-1), "final_mask_radius_px must be >= 0")]
    for call, match in cases:
        with pytest.raises(ValueError, match=match) as e:
            call()
        assert "\n" not in str(e.value)


def test_divergence_stops_with_a_clear_error(stack, monkeypatch):
    x, _, ctf, _ = stack
    real = em2d._maximise
    monkeypatch.setattr(em2d, "_maximise", lambda *a, **kw: real(*a, **kw) * float("nan"))
    with pytest.raises(ValueError, match="diverged"):
        ml2d_classify(x[:40], 2, ctf[:40], n_iter=2)


def test_the_noise_in_a_soft_average_is_counted_with_the_posteriors_squared():
    """tau2 subtracts sigma2 sum(w^2 C^2) / sum(w C^2)^2: with spread posteriors (w^2 < w) less noise is
    subtracted, so tau2 is larger and the Wiener average less shrunk; hard weights (w^2 = w) change nothing."""
    band = em2d._Band(16, 0.5, 1.0, 1.0, "cpu")
    gen = torch.Generator().manual_seed(0)
    f = band.w.shape[0]
    num = torch.complex(torch.randn(2, f, generator=gen), torch.randn(2, f, generator=gen)) * 3
    den = torch.full((2, f), 4.0)
    mask = torch.ones(16, 16)
    args = (num, den, 1.0, 2, torch.zeros(1), band, mask, 2.0)
    counted, hard, soft = em2d._maximise(*args), em2d._maximise(*args, den2=den), em2d._maximise(*args, den2=den / 3)
    assert torch.equal(counted, hard)
    assert (soft.norm() > 1.01 * counted.norm()).item(), (soft.norm(), counted.norm())


def test_both_noise_counts_run_and_the_likelier_is_kept(stack):
    x, _, ctf, _ = stack
    opts = dict(n_iter=4, n_init=1, seed=2, init="random")
    runs = {m: ml2d_classify(x[:80], 2, ctf[:80], tau2_noise=m, **opts) for m in ("counted", "posterior")}
    both = ml2d_classify(x[:80], 2, ctf[:80], **opts)
    kept = max(runs, key=lambda m: runs[m].loglik[-1])
    assert runs["counted"].loglik != runs["posterior"].loglik  # the two runs differ, so the choice matters
    assert both.tau2_noise == kept and both.loglik == runs[kept].loglik
    assert np.array_equal(both.labels, runs[kept].labels) and np.array_equal(both.averages, runs[kept].averages)
    assert ml2d_classify(x[:40], 2, ctf[:40], n_iter=2, n_init=1, hard=True).tau2_noise == "counted"  # one run


def test_a_coarse_pass_gives_one_more_start_and_the_likelier_run_is_kept(stack, monkeypatch):
    from cdae_lite.cluster import ml2d as ml2d_module

    x, _, ctf, _ = stack
    opts = dict(n_iter=4, n_init=1, seed=2, init="random", tau2_noise="counted")
    own = ml2d_classify(x[:80], 2, ctf[:80], coarse_start=False, **opts)
    coarse = ml2d_classify(x[:80], 2, ctf[:80], coarse_start=False, final_mask_radius_px=0,  # a start only
                           **{**opts, "max_freq": 0.25})
    fine = ml2d_classify(x[:80], 2, ctf[:80], coarse_start=False, **{**opts, "init": (coarse.labels, coarse.angles_deg)})
    both = ml2d_classify(x[:80], 2, ctf[:80], **opts)
    kept = fine if fine.loglik[-1] > own.loglik[-1] else own
    assert own.loglik != fine.loglik  # the two runs differ, so the choice matters
    assert both.loglik == kept.loglik and np.array_equal(both.labels, kept.labels)
    runs = []
    real = ml2d_module._ml2d_once
    monkeypatch.setattr(ml2d_module, "_ml2d_once", lambda *a, **kw: runs.append(kw["max_freq"]) or real(*a, **kw))
    ml2d_classify(x[:40], 2, ctf[:40], init=(own.labels[:40], own.angles_deg[:40]), n_iter=2, tau2_noise="counted")
    ml2d_classify(x[:40], 2, ctf[:40], n_iter=2, n_init=1, max_freq=0.25, tau2_noise="counted")
    assert runs == [0.5, 0.25]  # a given start, or a run already coarse, has no coarse pass


def test_the_final_references_are_made_under_the_wide_mask_and_the_labels_come_from_them(stack, monkeypatch):
    """EM searches under the particle's mask; two more iterations re-make the references under nearly the
    whole box and classify against them. Off (0), the averages stay inside the search mask."""
    from cdae_lite.cluster import ml2d as ml2d_module

    x, _, ctf, _ = stack
    opts = dict(n_iter=3, n_init=1, seed=2, tau2_noise="counted", coarse_start=False, mask_radius_px=6)
    r = np.hypot(*(np.indices((32, 32)) - 16))
    off = ml2d_classify(x[:80], 2, ctf[:80], final_mask_radius_px=0, **opts)
    wide = ml2d_classify(x[:80], 2, ctf[:80], **opts)
    assert np.abs(off.averages[:, r > 6 + 3]).max() == 0  # the soft edge ends 3 px outside the radius
    assert np.abs(wide.averages[:, (r > 9) & (r < 16 - 6)]).max() > 0.01 * np.abs(wide.averages).max()
    assert len(wide.loglik) == len(off.loglik) + 2  # two more E-steps; the last one gave the labels
    assert ml2d_module.final_mask_radius(32, 6.0) == 10.0 and ml2d_module.final_mask_radius(32, 12.0) == 12.0
    assert ml2d_module.final_mask_radius(32, 6.0, 8) == 8.0 and ml2d_module.final_mask_radius(32, 6.0, 0) is None
    finals = []
    real = ml2d_module._ml2d_once
    monkeypatch.setattr(ml2d_module, "_ml2d_once",
                        lambda *a, **kw: finals.append(kw["final_mask_radius_px"]) or real(*a, **kw))
    ml2d_classify(x[:40], 2, ctf[:40], n_iter=2, n_init=1, tau2_noise="counted")
    assert finals == [None, 0, None]  # its own run and the refinement of the coarse pass; the coarse pass is a start


def test_a_star_input_is_clustered_with_ml2d_and_each_images_ctf(tmp_path, capsys, monkeypatch):
    """A RELION STAR given as the input (not --star) carries its rows to the method choice and the CTF."""
    from cdae_lite.cli import main
    from cdae_lite.io import read_star

    sim = ["simulate", "--protein", "adk", "--per-view", "30", "--size", "32", "--snr", "0.3", "--seed", "4"]
    assert main([*sim, "--preset", "realistic", "-o", str(tmp_path / "r")]) == 0
    monkeypatch.chdir(tmp_path / "r")  # a RELION project's root: names resolve from here
    capsys.readouterr()
    assert main(["cluster", "adk_snr0.3.star", "-k", "4", "-o", str(tmp_path / "classes.star")]) == 0
    assert "ml2d" in capsys.readouterr().out
    rows = read_star(tmp_path / "classes.star")[0]
    f1 = clustering_scores(rows["cdaeView"].to_numpy(), rows["rlnClassNumber"].to_numpy() - 1)["f1"]
    assert f1 >= 0.9, f1


def test_a_denoiser_only_starts_ml2d_on_the_raw_images_and_the_likelier_run_is_kept(stack):
    from cdae_lite.cluster import ml2d_denoised_start
    x, truth, ctf, templates = stack
    from cdae_lite.cluster import align_classify

    own = ml2d_classify(x, 4, ctf, n_iter=6, seed=0)
    # a denoiser that destroys the views gives a start of its own; whichever run ends likelier is returned
    mean = lambda a: np.tile(a.mean(0), (len(a), 1, 1))  # noqa: E731
    labels, _, angles = align_classify(mean(x), 4, seed=0)[:3]
    started = ml2d_classify(x, 4, ctf, init=(labels, angles), n_iter=6, seed=0)
    blur = ml2d_denoised_start(x, 4, mean, ctf, n_iter=6, seed=0)
    kept = started if started.loglik[-1] > own.loglik[-1] else own
    assert blur.loglik == kept.loglik and np.array_equal(blur.labels, kept.labels)
    # the identity as a "denoiser": the raw images start it (aligned), and the run kept is at least as likely
    oracle = ml2d_denoised_start(x, 4, lambda a: a + 0.0, ctf, n_iter=6, seed=0)
    assert oracle.loglik[-1] >= own.loglik[-1]
    assert clustering_scores(truth, oracle.labels)["f1"] >= clustering_scores(truth, own.labels)["f1"] - 0.05
    with pytest.raises(ValueError, match="NaN or inf"):
        ml2d_denoised_start(x[:20], 2, lambda a: a * np.nan, ctf[:20], n_iter=2)
    with pytest.raises(ValueError, match="gave"):
        ml2d_denoised_start(x[:20], 2, lambda a: a[:, :16, :16], ctf[:20], n_iter=2)


def test_cluster_stack_with_a_denoiser_classifies_the_raw_images_not_the_denoised_ones(stack):
    from cdae_lite.cluster import cluster_stack
    from cdae_lite.denoise import predict

    x, truth, _, _ = stack
    raw = clustering_scores(truth, cluster_stack(x, 4, "ml2d", seed=0))["f1"]
    on_outputs = clustering_scores(truth, ml2d_classify(predict(StackMean(), x), 4, seed=0).labels)["f1"]
    denoised = clustering_scores(truth, cluster_stack(x, 4, "ml2d", model=StackMean(), seed=0))["f1"]
    assert on_outputs < raw - 0.1, (raw, on_outputs)  # classifying the outputs themselves loses the views
    assert denoised >= raw - 0.02, (raw, denoised)
