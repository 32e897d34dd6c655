"""Stack-aware denoising: look-alikes are found, aligned and averaged."""

import numpy as np
import pytest
import torch

from cdae_lite.denoise.stackaware import StackAwareConfig, aligned_average, find_lookalikes, stack_denoise
from cdae_lite.images import rotate_images


def patterns(size=32):
    """Two asymmetric patterns of Gaussian blobs (no rotational symmetry)."""
    yy, xx = np.mgrid[:size, :size] - size // 2
    out = []
    for blobs in ([(-6, 0, 3), (5, 4, 2), (2, -7, 1.5)], [(0, 6, 2.5), (-5, -5, 2), (7, -2, 3)]):
        out.append(sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * s**2)) for x, y, s in blobs))
    return np.stack(out).astype(np.float32)


def corr(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_alignment_undoes_known_rotations_and_shifts(rng):
    p = patterns()
    n = 24
    lab = np.arange(n) % 2
    ang = rng.choice(np.arange(36) * 10.0, n)
    ang[:2] = 0
    shifts = rng.integers(-3, 4, (n, 2))
    shifts[:2] = 0
    x = rotate_images(torch.from_numpy(p[lab]), torch.from_numpy(ang.astype(np.float32))).numpy()
    x = np.stack([np.roll(im, tuple(s), (0, 1)) for im, s in zip(x, shifts)])
    cfg = StackAwareConfig(neighbours=8, candidates=12)
    al = find_lookalikes(x, cfg, queries=[0, 1])
    assert (lab[al.neighbours] == np.array([[0], [1]])).all()  # every look-alike has the query's pattern
    avg = aligned_average(x, al, queries=[0, 1])
    for q in (0, 1):
        assert corr(avg[q], p[q]) > 0.97
        assert corr(x[lab == q].mean(0), p[q]) < 0.9  # without alignment the copies do not add up


def test_without_alignment_neighbours_share_the_view_and_noise_drops(rng):
    p = patterns()
    lab = np.arange(200) % 2
    clean = p[lab]
    x = clean + rng.normal(0, 1.0, clean.shape).astype(np.float32)
    cfg = StackAwareConfig(neighbours=20, candidates=40, align=False)
    al = find_lookalikes(clean + 0.1 * rng.normal(size=clean.shape).astype(np.float32), cfg)
    assert (lab[al.neighbours] == lab[:, None]).mean() > 0.99
    avg = aligned_average(x, al)
    assert ((avg - clean) ** 2).mean() < ((x - clean) ** 2).mean() / 15  # variance / 21 in theory


def test_stack_denoise_with_an_identity_model_is_the_aligned_average(rng):
    class Identity(torch.nn.Module):
        def forward(self, a):
            return a

    p = patterns()
    x = p[np.arange(60) % 2] + rng.normal(0, 0.3, (60, 32, 32)).astype(np.float32)
    cfg = StackAwareConfig(neighbours=5, candidates=10, align=False)
    out = stack_denoise(Identity(), x, cfg, queries=[3, 4])
    np.testing.assert_allclose(out, aligned_average(x, find_lookalikes(x, cfg, [3, 4]), [3, 4]), atol=1e-5)


def test_stack_denoise_symmetrises_only_the_final_denoising(rng):
    from cdae_lite.denoise.inference import Symmetrized, predict

    class Lopsided(torch.nn.Module):  # neither flip- nor transpose-equivariant
        def forward(self, a):
            return 0.8 * a + 0.2 * a.roll(1, -1) + 0.1 * a.roll(2, -2)

    p = patterns()
    x = p[np.arange(60) % 2] + rng.normal(0, 0.3, (60, 32, 32)).astype(np.float32)
    cfg = StackAwareConfig(neighbours=5, candidates=10, align=False)
    avg = aligned_average(x, find_lookalikes(predict(Lopsided(), x), cfg, [3, 4]), [3, 4])  # search: plain model
    out = stack_denoise(Lopsided(), x, cfg, queries=[3, 4])
    np.testing.assert_allclose(out, predict(Symmetrized(Lopsided(), 8), avg), atol=1e-5)
    plain = stack_denoise(Lopsided(), x, StackAwareConfig(neighbours=5, candidates=10, align=False, symmetrize=1), [3, 4])
    np.testing.assert_allclose(plain, predict(Lopsided(), avg), atol=1e-5)
    assert np.abs(plain - out).max() > 1e-3


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="neighbours <= candidates"):
        StackAwareConfig(neighbours=50, candidates=10)
    with pytest.raises(ValueError, match="symmetrize must be 1, 2, 4 or 8"):
        StackAwareConfig(symmetrize=3)
    with pytest.raises(ValueError, match="needs more than 30 images"):
        find_lookalikes(np.zeros((10, 16, 16), np.float32) + np.arange(16, dtype=np.float32), StackAwareConfig())


def test_ctf_aware_average_recovers_the_querys_own_ctf_image_where_a_plain_mean_blurs_it(rng):
    from cdae_lite.denoise.stackaware import Alignment
    from cdae_lite.simulation.ctf import apply_ctf, ctf_2d

    size, n, px = 32, 20, 1.5
    clean = np.repeat(patterns(size)[:1], n, axis=0)
    defocus = np.linspace(8000.0, 25000.0, n)
    under = np.asarray(apply_ctf(clean, px, defocus_u_A=defocus), np.float32)  # each image under its own CTF
    noisy = under + 0.02 * rng.standard_normal(under.shape).astype(np.float32)
    ctfs = ctf_2d(size, px, defocus).numpy()
    al = Alignment(neighbours=np.array([np.arange(1, n)]), angles_deg=np.zeros((1, n - 1), np.float32),
                   shifts_px=np.zeros((1, n - 1, 2), np.int64), scores=np.ones((1, n - 1), np.float32))
    plain = aligned_average(noisy, al, [0])[0]
    aware = aligned_average(noisy, al, [0], ctfs=ctfs, wiener=1e-3)[0]
    target = under[0]
    assert np.mean((aware - target) ** 2) < 0.5 * np.mean((plain - target) ** 2)
    with pytest.raises(ValueError, match="ctfs of shape"):
        aligned_average(noisy, al, [0], ctfs=ctfs[:, :16, :16])
    with pytest.raises(ValueError, match="needs each image's CTF"):
        stack_denoise(torch.nn.Identity(), noisy, StackAwareConfig(ctf_aware=True, neighbours=3, candidates=5))
    with pytest.raises(ValueError, match="needs each image's CTF"):
        stack_denoise(torch.nn.Identity(), noisy, StackAwareConfig(neighbours=3, candidates=5), ctfs=ctfs)
