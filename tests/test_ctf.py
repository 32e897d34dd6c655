import numpy as np
import pytest

from cdae_lite.simulation.ctf import CTFParams, apply_ctf, ctf_1d, ctf_2d, electron_wavelength_A, phase_flip


def textbook_ctf(k, dz, kv, cs_mm, amp):
    """Independent transcription: CTF = -sqrt(1-A^2) sin(g) - A cos(g), g = pi dz lam k^2 - pi/2 Cs lam^3 k^4."""
    v = kv * 1e3
    h, m0, e, c = 6.62607015e-34, 9.1093837e-31, 1.602176634e-19, 2.99792458e8
    lam = h / np.sqrt(2 * m0 * e * v * (1 + e * v / (2 * m0 * c**2))) * 1e10
    g = np.pi * dz * lam * k**2 - 0.5 * np.pi * cs_mm * 1e7 * lam**3 * k**4
    return np.sqrt(1 - amp**2) * np.sin(g) + amp * np.cos(g)


def test_wavelength_matches_physics():
    assert np.isclose(electron_wavelength_A(300), 0.019687, atol=2e-6)
    assert np.isclose(electron_wavelength_A(200), 0.025079, atol=2e-6)


@pytest.mark.parametrize("k", [0.0, 0.02, 0.05, 0.1, 0.17, 0.25])
def test_ctf_matches_textbook_formula(k):
    got = ctf_1d(k, 15000, 300, 2.7, 0.07)
    assert np.isclose(got, textbook_ctf(k, 15000, 300, 2.7, 0.07), atol=1e-4)


def test_zeros_fall_where_theory_says():
    dz = 20000.0
    lam = electron_wavelength_A(300)
    for n in (1, 2, 3, 5):
        k0 = np.sqrt(n / (lam * dz))
        assert abs(ctf_1d(k0, dz, 300, 0.0, 0.0)) < 1e-9
        # the sign changes across each zero
        assert ctf_1d(k0 * 0.99, dz, 300, 0.0, 0.0) * ctf_1d(k0 * 1.01, dz, 300, 0.0, 0.0) < 0


def test_zero_frequency_is_amplitude_contrast_and_bfactor_damps():
    assert np.isclose(ctf_1d(0.0, 15000, 300, 2.7, 0.1), 0.1)
    k = 0.2
    assert np.isclose(ctf_1d(k, 15000, b_factor_A2=100) / ctf_1d(k, 15000), np.exp(-100 * k**2 / 4))


def test_2d_ctf_follows_astigmatism_axes():
    size, px = 128, 1.5
    t = ctf_2d(size, px, [20000.0], [12000.0], [30.0], amplitude_contrast=0.1).numpy()[0]
    c = size // 2
    r = 20
    k = r / (size * px)
    ang = np.deg2rad(30.0)
    # a point on the U axis sees defocus U, one on the V axis (U + 90 degrees) sees V
    for theta, dz in ((ang, 20000.0), (ang + np.pi / 2, 12000.0)):
        x, y = r * np.cos(theta), r * np.sin(theta)
        if np.isclose(x, round(x), atol=1e-6) and np.isclose(y, round(y), atol=1e-6):
            assert np.isclose(t[c + int(round(y)), c + int(round(x))], ctf_1d(k, dz, amplitude_contrast=0.1), atol=1e-5)
    # along the x axis (theta = 0): dz = mean + half difference * cos(2 * (0 - 30 deg))
    dz0 = 16000 + 4000 * np.cos(2 * -ang)
    assert np.isclose(t[c, c + r], ctf_1d(k, dz0, amplitude_contrast=0.1), atol=1e-5)


def test_apply_ctf_to_a_delta_gives_the_ctf_and_phase_flip_makes_it_positive():
    size, px = 64, 2.0
    delta = np.zeros((1, size, size), np.float32)
    delta[0, size // 2, size // 2] = 1.0
    params = CTFParams(defocus_u_A=15000, defocus_v_A=15000)
    out = apply_ctf(delta, px, params)
    ft = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(out[0])))
    expected = ctf_2d(size, px, 15000.0, 15000.0, 0.0).numpy()[0]
    assert np.allclose(ft.real, expected, atol=1e-5) and np.abs(ft.imag).max() < 1e-5
    flipped = phase_flip(out, px, params)
    ft2 = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(flipped[0])))
    assert np.allclose(ft2.real, np.abs(expected), atol=1e-5)


def test_per_image_defocus_and_bad_parameters():
    imgs = np.random.default_rng(0).normal(size=(3, 32, 32)).astype(np.float32)
    out = apply_ctf(imgs, 2.0, defocus_u_A=np.array([1e4, 2e4, 3e4]))
    assert out.shape == imgs.shape and out.dtype == np.float32
    assert not np.allclose(out[0], out[1])
    with pytest.raises(ValueError):
        CTFParams(amplitude_contrast=1.5)
    with pytest.raises(TypeError):
        apply_ctf(imgs, 2.0, defocus=1.0)
