import numpy as np
import pytest

from cdae_lite.denoise import baselines
from cdae_lite.denoise.models import DnCNNConfig, dncnn
from cdae_lite.metrics import psnr
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.stacks import simulate_protein


@pytest.fixture(scope="module")
def stack():
    return simulate_protein("proteasome", SimulationConfig(image_size=24, images_per_view=2))


ALL = [baselines.Identity(), baselines.Gaussian(1.0), baselines.Wiener(), baselines.TV(0.5),
       baselines.Wavelet(), baselines.NLMeans(n_jobs=1), baselines.BM3D(n_jobs=1),
       baselines.Learned(dncnn(DnCNNConfig(depth=3, channels=4)), "dncnn", device="cpu")]


@pytest.mark.parametrize("d", ALL, ids=lambda d: d.name)
def test_shape_dtype_determinism_and_nan(stack, d):
    x = stack.noisy[0.1][:4]
    sig = stack.meta["cdaeNoiseSigma_0.1"].to_numpy()[:4]
    a, b = d.denoise(x, sigma=sig), d.denoise(x, sigma=sig)
    assert a.shape == x.shape and a.dtype == np.float32
    assert np.array_equal(a, b)  # BM3D too: one thread per call, so no reduction order to vary
    bad = x.copy()
    bad[1, 3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        d.denoise(bad, sigma=sig)


def test_bm3d_improves_psnr_on_a_tiny_noisy_image(stack):
    x, c = stack.noisy[0.1][:2], stack.clean[:2]
    sig = stack.meta["cdaeNoiseSigma_0.1"].to_numpy()[:2]
    out = baselines.BM3D(n_jobs=1).denoise(x, sigma=sig)
    assert np.all(psnr(out, c) > psnr(x, c) + 5)
    # estimated sigma works too, and is close to the truth
    est = baselines._sigmas(x, None)
    assert np.allclose(est, sig, rtol=0.25)


def test_bm3d_with_one_thread_per_image_equals_the_packages_default_in_parallel_or_not(stack):
    import bm3d

    x = stack.noisy[0.1][:5]
    sig = stack.meta["cdaeNoiseSigma_0.1"].to_numpy()[:5]
    default = np.stack([bm3d.bm3d(i.astype(np.float64), s) for i, s in zip(x, sig)]).astype(np.float32)
    serial, parallel = baselines.BM3D(n_jobs=1).denoise(x, sigma=sig), baselines.BM3D(n_jobs=2).denoise(x, sigma=sig)
    assert np.array_equal(serial, parallel)
    # the package's default sums in threads: equal to float precision, not bitwise
    assert np.allclose(serial, default, rtol=1e-5, atol=1e-5 * np.abs(default).max())


def test_ctf_aware_wiener_beats_the_plain_one_on_ctf_data():
    s = simulate_protein("adk", SimulationConfig(image_size=32, images_per_view=40).realistic())
    x, c = s.noisy[0.1], s.clean
    sig = s.meta["cdaeNoiseSigma_0.1"].to_numpy()
    plain = baselines.Wiener().denoise(x, sigma=sig)
    aware = baselines.Wiener(pixel_size_A=s.pixel_size_A, ctf={
        "defocus_u_A": s.meta["rlnDefocusU"].to_numpy(), "defocus_v_A": s.meta["rlnDefocusV"].to_numpy(),
        "defocus_angle_deg": s.meta["rlnDefocusAngle"].to_numpy()}).denoise(x, sigma=sig)
    assert psnr(aware, c).mean() > psnr(plain, c).mean() > psnr(x, c).mean()


def test_bad_sigma(stack):
    with pytest.raises(ValueError, match="sigma"):
        baselines.TV().denoise(stack.noisy[0.1][:2], sigma=-1.0)


def test_table1_runs_a_filter_listed_twice_with_the_same_settings_once(stack, monkeypatch):
    from types import SimpleNamespace

    from cdae_lite.paper.baselines import table1

    calls = []
    real = baselines.Gaussian.denoise
    monkeypatch.setattr(baselines.Gaussian, "denoise", lambda self, x, sigma=None: calls.append(self.sigma_px) or
                        real(self, x, sigma=sigma))
    methods = {"G": baselines.Gaussian(1.0), "G again": baselines.Gaussian(1.0), "G2": baselines.Gaussian(2.0)}
    rows, outputs, runtime = table1(SimpleNamespace(n_eval=4), {"p": stack}, {"p": methods})
    assert sorted(calls) == [1.0, 2.0]  # the same settings once, other settings run
    assert outputs["p"]["G again"] is outputs["p"]["G"] and runtime["G again"] == runtime["G"]
    assert [r["method"] for r in rows] == ["raw", "G", "G again", "G2", "BM3D (estimated sigma)"]
    assert not np.array_equal(outputs["p"]["G2"], outputs["p"]["G"])


def test_table1_runs_every_trained_model_even_two_of_one_architecture(stack):
    """The pre-trained and the fine-tuned CDAE have the same parameter count; each is run and scored."""
    from types import SimpleNamespace

    import torch

    from cdae_lite.denoise import autoencoder
    from cdae_lite.paper.baselines import table1

    torch.manual_seed(0)
    a, b = autoencoder(), autoencoder()  # one architecture, two sets of weights
    methods = {"A": baselines.Learned(a, "A"), "B": baselines.Learned(b, "B")}
    assert methods["A"].params() == methods["B"].params()
    rows, outputs, _ = table1(SimpleNamespace(n_eval=4), {"p": stack}, {"p": methods})
    assert not np.array_equal(outputs["p"]["A"], outputs["p"]["B"])
    scores = {r["method"]: r["psnr_mean"] for r in rows}
    assert scores["A"] != scores["B"]
