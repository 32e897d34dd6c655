import numpy as np
import pytest
from conftest import gaussian_blobs

from cdae_lite.simulation.projection import Projector, project, spherical_mask
from cdae_lite.simulation.rotations import euler_to_matrix

N = 48


def test_isotropic_gaussian_projects_to_analytic_2d_gaussian(rng):
    vol, analytic = gaussian_blobs(N, [((0, 0, 0), (3.5, 3.5, 3.5), 1.0)])
    a = np.c_[rng.uniform(-180, 180, 6), np.degrees(np.arccos(rng.uniform(-1, 1, 6))), rng.uniform(-180, 180, 6)]
    imgs = project(vol, *a.T, device="cpu")
    ref = analytic(np.eye(3))
    for img in imgs:
        assert np.linalg.norm(img - ref) / np.linalg.norm(ref) < 0.005


def test_offset_anisotropic_blobs_match_analytic_projection(rng):
    blobs = [(rng.uniform(-10, 10, 3), rng.uniform(1.5, 3.5, 3), rng.uniform(0.5, 1)) for _ in range(8)]
    vol, analytic = gaussian_blobs(N, blobs)
    a = np.c_[rng.uniform(-180, 180, 5), np.degrees(np.arccos(rng.uniform(-1, 1, 5))), rng.uniform(-180, 180, 5)]
    mats = euler_to_matrix(*a.T)
    imgs = Projector(vol, device="cpu").project(mats).numpy()
    for img, m in zip(imgs, mats):
        ref = analytic(m)
        assert np.linalg.norm(img - ref) / np.linalg.norm(ref) < 0.02


def test_axis_projections_equal_direct_sums(rng):
    vol = (rng.random((N, N, N)) * spherical_mask(N, radius=N / 2 - 6)).astype(np.float32)
    p = Projector(vol, device="cpu")
    masked = vol * spherical_mask(N)
    # identity: sum over z of vol[z, y, x]
    assert np.allclose(p.project_euler([0], [0], [0])[0], masked.sum(0), atol=1e-3 * masked.sum(0).max())
    # tilt 90 looks along +x; image x = -z_map, image y = y_map
    img = p.project_euler([0], [90], [0])[0]
    zsum = masked.sum(2)  # [z, y]
    ref = np.empty_like(zsum)
    c = N // 2
    for xi in range(N):
        zi = (c - (xi - c)) % N
        ref[:, xi] = zsum[zi, :]
    assert np.allclose(img[:, 1:], ref[:, 1:], atol=1e-3 * ref.max())


def test_mass_is_conserved(rng):
    vol, _ = gaussian_blobs(N, [((3, -2, 4), (3, 4, 2.5), 1.0), ((-6, 5, 0), (2, 2, 2), 0.7)])
    a = np.c_[rng.uniform(-180, 180, 10), rng.uniform(0, 180, 10), rng.uniform(-180, 180, 10)]
    imgs = project(vol, *a.T, device="cpu")
    assert np.allclose(imgs.sum(axis=(1, 2)), vol.sum(), rtol=1e-4)


def test_shift_moves_the_centre_of_mass():
    vol, _ = gaussian_blobs(N, [((0, 0, 0), (3, 3, 3), 1.0)])
    img = project(vol, [0], [0], [0], shifts_px=np.array([[3.0, -2.0]]), device="cpu")[0]
    yy, xx = np.indices(img.shape) - N // 2
    assert np.isclose((img * xx).sum() / img.sum(), 3.0, atol=1e-3)
    assert np.isclose((img * yy).sum() / img.sum(), -2.0, atol=1e-3)


def test_batches_do_not_change_results(rng):
    vol, _ = gaussian_blobs(N, [((2, 1, 0), (3, 2, 4), 1.0)])
    mats = euler_to_matrix(rng.uniform(0, 90, 7), rng.uniform(0, 90, 7), rng.uniform(0, 90, 7))
    p = Projector(vol, device="cpu")
    assert np.allclose(p.project(mats, batch_size=2).numpy(), p.project(mats).numpy(), atol=1e-6)


@pytest.mark.parametrize("bad, msg", [
    (np.zeros((8, 8)), "3 axes"),
    (np.zeros((8, 8, 9)), "cubic"),
    (np.full((8, 8, 8), np.nan), "NaN"),
    (np.zeros((4, 4, 4)), "too small"),
])
def test_bad_maps_are_refused_clearly(bad, msg):
    with pytest.raises(ValueError, match=msg):
        Projector(bad, device="cpu")


def test_bad_rotation_shape():
    with pytest.raises(ValueError, match="shape"):
        Projector(np.ones((8, 8, 8), np.float32), device="cpu").project(np.eye(3))


def test_fourier_projector_agrees_with_an_independent_real_space_projector():
    from cdae_lite.simulation.projection import project_real_space
    from cdae_lite.simulation.proteins import load_protein

    vol, _ = load_protein("cxcr4").volume()
    for angles in [(30.0, 60.0, 10.0), (120.0, 100.0, -40.0), (-75.0, 15.0, 200.0)]:
        f = project(vol, [angles[0]], [angles[1]], [angles[2]], device="cpu")[0]
        r = project_real_space(vol, *angles)
        assert np.linalg.norm(f - r) / np.linalg.norm(r) < 0.03, angles


@pytest.mark.parametrize("n, pad", [(12, 4), (9, 3), (11, 2)])
def test_padded_transform_is_the_centred_fft_of_the_centred_padded_map(rng, n, pad):
    # the projector fills its transform by block copies; it must equal the textbook definition:
    # fftshift(fftn(ifftshift(map zero-padded to p, centre voxel at p // 2))), index p repeating index 0
    vol = rng.normal(size=(n, n, n)).astype(np.float32)
    proj = Projector(vol, device="cpu", pad=pad, gridding_correction=False)
    p = n * pad
    padded = np.zeros((p, p, p), np.float32)
    o = p // 2 - n // 2
    padded[o:o + n, o:o + n, o:o + n] = vol * spherical_mask(n)
    ft = np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(padded)))
    ft = np.pad(ft, ((0, 1),) * 3, mode="wrap")
    got = proj._ft[0].numpy()
    np.testing.assert_allclose(got[0], ft.real, atol=1e-3 * np.abs(ft).max())
    np.testing.assert_allclose(got[1], ft.imag, atol=1e-3 * np.abs(ft).max())
