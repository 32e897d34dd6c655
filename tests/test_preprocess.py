import numpy as np
import pandas as pd
import pytest

from cdae_lite.denoise import preprocess
from cdae_lite.io.mrc import read_stack
from cdae_lite.io.paths import data_path
from cdae_lite.io.star import read_star
from cdae_lite.simulation.ctf import apply_ctf


def test_background_normalisation(rng):
    x = (5.0 + 3.0 * rng.normal(size=(4, 32, 32))).astype(np.float32)
    x[:, 12:20, 12:20] += 10  # a "particle" in the centre must not bias the statistics
    y = preprocess.normalize_background(x)
    yy, xx = np.indices((32, 32)) - 16
    bg = np.hypot(xx, yy) > 0.9 * 16
    assert np.allclose(y[:, bg].mean(1), 0, atol=1e-5) and np.allclose(y[:, bg].std(1), 1, atol=1e-5)
    with pytest.raises(ValueError, match="background"):
        preprocess.normalize_background(x, radius_px=30)


def test_star_parsing_relion_30_and_31():
    p30, o30 = read_star(data_path("particles/cryodrgn_empiar_10076_7.star"))
    assert preprocess.star_pixel_size(p30, o30) == pytest.approx(5 * 1e4 / 38168)
    params, per = preprocess.star_ctf_params(p30, o30)
    assert params.voltage_kV == 300 and params.cs_mm == 2.7 and params.amplitude_contrast == 0.07
    assert per["defocus_u_A"].shape == (7,)
    p31, o31 = read_star(data_path("particles/cryojax_trpv1_small_stack.star"))
    assert preprocess.star_pixel_size(p31, o31) == 4.88
    assert preprocess.star_ctf_params(p31, o31)[0].cs_mm == 2.0
    with pytest.raises(ValueError, match="rlnDefocusU"):
        preprocess.star_ctf_params(pd.DataFrame({"rlnImageName": ["1@a"]}), {})


def test_phase_flip_from_star_undoes_contrast_reversals(rng):
    yy, xx = np.indices((64, 64)) - 32
    clean = np.exp(-(xx**2 + yy**2) / 60.0).astype(np.float32)[None].repeat(3, 0)
    parts = pd.DataFrame({"rlnDefocusU": [12000.0, 18000.0, 25000.0], "rlnDefocusV": [12000.0, 18000.0, 25000.0],
                          "rlnDefocusAngle": [0.0, 0.0, 0.0]})
    optics = {"rlnVoltage": 300.0, "rlnSphericalAberration": 2.7, "rlnAmplitudeContrast": 0.1}
    params, per = preprocess.star_ctf_params(parts, optics)
    ctfd = apply_ctf(clean, 2.0, params, **per)
    flipped = preprocess.phase_flip_star(ctfd, 2.0, parts, optics)
    corr = lambda a, b: np.corrcoef(a.ravel(), b.ravel())[0, 1]  # noqa: E731
    assert all(corr(f, c) > corr(d, c) for f, d, c in zip(flipped, ctfd, clean))


def test_prepare_real_particles():
    raw, _ = read_stack(data_path("particles/cryodrgn_empiar_10076_7.mrc.gz"))
    parts, optics = read_star(data_path("particles/cryodrgn_empiar_10076_7.star"))
    px = preprocess.star_pixel_size(parts, optics)
    ready, new_px = preprocess.prepare(raw, px, parts, optics, size=64)
    assert ready.shape == (7, 64, 64) and new_px == pytest.approx(px * 5) and np.all(np.isfinite(ready))
