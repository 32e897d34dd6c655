import numpy as np
import pytest

from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.noise import measure_snr
from cdae_lite.simulation.proteins import load_protein, training_protein
from cdae_lite.simulation.proteins import test_proteins as shipped_test_proteins
from cdae_lite.simulation.stacks import BLOCK, load_particles, simulate, simulate_protein

TINY = SimulationConfig(image_size=32, images_per_view=20)


def test_paper_protocol_shapes_labels_and_pairing():
    s = simulate_protein(training_protein(), TINY)
    assert s.snrs == [0.1, 0.4, 0.6]
    assert s.clean.shape == (80, 32, 32) and s.clean.dtype == np.float32
    assert np.array_equal(s.labels, np.repeat(np.arange(4), 20))
    # paired: every SNR is the same clean image plus independent noise
    n1, n4 = s.noisy[0.1] - s.clean, s.noisy[0.4] - s.clean
    assert abs(np.corrcoef(n1.ravel(), n4.ravel())[0, 1]) < 0.02
    # the paper's views are exact: all clean images of a view are identical
    for v in range(4):
        assert np.ptp(s.clean[s.labels == v], axis=0).max() == 0
    # test proteins get only SNR 0.1
    assert simulate_protein(shipped_test_proteins()[0], TINY).snrs == [0.1]


def test_requested_snr_is_met_within_5_percent():
    s = simulate_protein("proteasome", SimulationConfig(image_size=32, images_per_view=100), snrs=(0.1, 0.4, 0.6))
    for snr, noisy in s.noisy.items():
        assert abs(measure_snr(s.clean, noisy).mean() / snr - 1) < 0.05


def test_same_seed_same_stack_other_seed_other_noise():
    a = simulate_protein("adk", TINY)
    b = simulate_protein("adk", TINY)
    c = simulate_protein("adk", SimulationConfig(image_size=32, images_per_view=20, seed=1))
    assert np.array_equal(a.noisy[0.1], b.noisy[0.1])
    assert np.array_equal(a.clean, c.clean) and not np.array_equal(a.noisy[0.1], c.noisy[0.1])


def test_realistic_options_change_what_they_should():
    cfg = SimulationConfig(image_size=32, images_per_view=30).realistic(jitter_deg=5.0)
    s = simulate_protein("cxcr4", cfg)
    assert s.meta["rlnAnglePsi"].nunique() == len(s)          # in-plane rotations
    assert s.meta["rlnOriginXAngst"].abs().max() > 0            # shifts
    assert {"rlnDefocusU", "rlnDefocusV"} <= set(s.meta)        # CTF
    lo, hi = cfg.defocus_range_A
    assert s.meta["rlnDefocusU"].between(lo, hi).all()
    assert np.ptp(s.clean[s.labels == 0], axis=0).max() > 0     # images of a view now differ


def test_streamed_stack_equals_the_in_memory_one(tmp_path):
    """The CLI writes block by block into a memory-mapped file; the result must be simulate()'s."""
    from cdae_lite.cli import main

    n_per_view = BLOCK // 2 + 7  # four views: the stack spans three blocks
    assert main(["simulate", "--protein", "adk", "--size", "16", "--per-view", str(n_per_view),
                 "--preset", "realistic", "--snr", "0.2", "-o", str(tmp_path)]) == 0
    imgs, parts, *_ = load_particles(tmp_path / "adk_snr0.2.star")
    ref = simulate_protein("adk", SimulationConfig(image_size=16, images_per_view=n_per_view).realistic(),
                           snrs=(0.2,))
    assert len(ref) > 2 * BLOCK
    assert np.array_equal(imgs, ref.noisy[0.2])
    assert np.allclose(parts["cdaeNoiseSigma"], ref.meta["cdaeNoiseSigma_0.2"])


def test_save_and_load_round_trip(tmp_path):
    s = simulate_protein("adk", TINY)
    s.save(tmp_path, clean=True)
    imgs, particles, optics, px = load_particles(tmp_path / "adk_snr0.1.star")
    assert np.array_equal(imgs, s.noisy[0.1]) and px == pytest.approx(s.pixel_size_A)
    assert np.array_equal(particles["cdaeView"].to_numpy(), s.labels)
    assert np.allclose(particles["rlnAngleTilt"], s.meta["rlnAngleTilt"], atol=1e-5)
    clean, *_ = load_particles(tmp_path / "adk_clean.star")
    assert np.array_equal(clean, s.clean)


def test_bad_simulation_input():
    p = load_protein("adk")
    vol, px = p.volume(16)
    with pytest.raises(ValueError, match="SNR"):
        simulate(vol, px, p.views_deg, SimulationConfig(image_size=16, images_per_view=2), snrs=(0.0,))
    with pytest.raises(ValueError, match="views"):
        simulate(vol, px, p.views_deg[:2], SimulationConfig(image_size=16, images_per_view=2))
    with pytest.raises(ValueError, match="multiple of 8"):
        SimulationConfig(image_size=30)
    bad = vol.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        simulate(bad, px, p.views_deg, SimulationConfig(image_size=16, images_per_view=2))
