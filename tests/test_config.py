from cdae_lite.paper.profiles import for_profile, quick
from cdae_lite.simulation.config import SimulationConfig


def test_simulation_profiles_share_the_protocol():
    q, f = for_profile(SimulationConfig, "quick"), for_profile(SimulationConfig, "full")
    assert (f.image_size, f.images_per_view, f.n_views) == (64, 1000, 4)
    assert q.image_size < f.image_size and q.images_per_view < f.images_per_view
    assert q.train_snrs == f.train_snrs == (0.1, 0.4, 0.6) and q.test_snr == f.test_snr == 0.1
    r = f.realistic()
    assert r.ctf and r.inplane_rotation and r.jitter_deg > 0 and not f.ctf
    assert f == SimulationConfig() and q == quick(SimulationConfig)
    assert (q.image_size, q.images_per_view) == (32, 100)  # the quick profile's table in paper/profiles.py
