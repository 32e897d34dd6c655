"""Tests of ``cdae_lite.metrics.fidelity``: view fidelity (issue 33), a denoiser whose outputs no longer tell
the views apart is collapsed; that a collapsed output is never best, whatever its PSNR, is tested with the tables
(tests/test_tables.py)."""

import numpy as np
import pytest

from cdae_lite.metrics import psnr, view_fidelity


def _views(rng, n_views=4, per_view=20, size=24, noise=0.0):
    """Centred disks of one size with a view-specific off-centre blob: a mostly empty box, like a particle."""
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    base = (np.hypot(yy, xx) < size / 4).astype(float)
    views = []
    for v in range(n_views):
        a = 2 * np.pi * v / n_views
        views.append(base + 1.5 * (np.hypot(yy - 3 * np.sin(a), xx - 3 * np.cos(a)) < 2))
    lab = np.repeat(np.arange(n_views), per_view)
    clean = np.stack(views)[lab] + 0.02 * rng.normal(size=(len(lab), size, size))
    return clean.astype(np.float32), lab


def test_faithful_outputs_are_accurate_and_a_blob_is_collapsed_though_its_psnr_is_higher():
    rng = np.random.default_rng(0)
    clean, lab = _views(rng)
    noisy = clean + 1.2 * rng.normal(size=clean.shape)
    blob = np.tile(clean.mean(0), (len(clean), 1, 1))  # every view turned into the same centred average
    faithful = view_fidelity(clean + 0.3 * rng.normal(size=clean.shape), clean, lab)
    collapsed = view_fidelity(blob, clean, lab)
    assert faithful["accuracy"] > 0.9 and not faithful["collapsed"] and faithful["mean_margin"] > 0
    assert collapsed["collapsed"] and collapsed["accuracy"] <= 0.25 + 0.1
    assert collapsed["separation"] == pytest.approx(1.0) and collapsed["clean_separation"] < 0.99
    # the trap the measure exists for: on a mostly empty box the blob wins on PSNR against the noisy input
    assert psnr(blob, clean).mean() > psnr(noisy, clean).mean()


def test_two_views_merged_is_collapsed_even_when_accuracy_is_above_chance():
    rng = np.random.default_rng(1)
    clean, lab = _views(rng)
    out = clean.copy()
    out[lab == 1] = clean[lab == 0][: (lab == 1).sum()]  # view 1 comes out as view 0
    v = view_fidelity(out, clean, lab)
    assert v["accuracy"] == pytest.approx(0.75) and v["collapsed"]


def test_view_fidelity_never_uses_an_images_own_clean_image():
    # one image per view: no other clean image of its view exists, so nothing can be matched to it
    rng = np.random.default_rng(2)
    clean, lab = _views(rng, per_view=1)
    v = view_fidelity(clean, clean, lab)
    assert not v["correct"].any()


def test_view_fidelity_refuses_wrong_labels():
    clean, lab = _views(np.random.default_rng(3))
    with pytest.raises(ValueError, match="labels"):
        view_fidelity(clean, clean, lab[:-1])


def test_views_the_clean_images_cannot_tell_apart_do_not_make_an_output_collapsed():
    # four 'views' that are one image (symmetry mates): the clean images themselves score chance, so an
    # output that is as good as the clean images is not collapsed, and the measure says why (clean_accuracy)
    rng = np.random.default_rng(5)
    clean, lab = _views(rng)
    mates = np.repeat(clean[lab == 0][:1], len(lab), axis=0) + 0.02 * rng.normal(size=clean.shape)
    v = view_fidelity(mates, mates, lab)
    assert v["clean_accuracy"] < 0.5 and v["accuracy"] < 0.5 and not v["collapsed"]


def _disk_stack(n=4, size=32, radius=8, offset=0.0):
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    disk = (np.hypot(yy, xx - offset) <= radius).astype(np.float64)
    return np.repeat(disk[None], n, 0)


def test_support_mask_finds_a_noisy_disk_and_ignores_the_box_edge():
    from cdae_lite.metrics import support_mask

    clean = _disk_stack(size=64, radius=12)
    clean[:, :4, :] = -3.0  # a dark edge (carbon) that is not the particle
    noisy = clean + np.random.default_rng(0).normal(scale=0.3, size=clean.shape)
    mask = support_mask(noisy)
    truth = _disk_stack(size=64, radius=12) > 0
    recall = (mask & truth).sum((1, 2)) / truth.sum((1, 2))
    precision = (mask & truth).sum((1, 2)) / mask.sum((1, 2))
    assert recall.min() > 0.9 and precision.min() > 0.45, (recall, precision)  # the support has a margin
    assert not mask[:, :6, :].any()  # outside the central circle (radius 0.4 of the box)


def test_outside_ratio_tells_a_clean_particle_from_noise_and_from_blobs():
    from cdae_lite.metrics import outside_ratio

    clean = _disk_stack()
    mask = clean > 0
    rng = np.random.default_rng(1)
    noise = rng.normal(size=clean.shape)
    blob = clean + 1.5 * _disk_stack(radius=3, offset=12.0)  # the same particle plus a bright blob beside it
    assert np.allclose(outside_ratio(clean, mask), 0.0)
    assert np.all(np.abs(outside_ratio(noise, mask) - 1) < 0.2)
    assert np.all(outside_ratio(blob, mask) > 0.2)  # 28 blob pixels at 1.5 among 824 outside
    with pytest.raises(ValueError, match="shape"):
        outside_ratio(clean, mask[:, :-1])


def _rotated_views(rng, n_views=4, per_view=16, size=32):
    """Views that differ by more than a rotation (view v has v + 1 blobs), each image at its own in-plane angle."""
    from scipy.ndimage import rotate

    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    base = (np.hypot(yy, xx) < size / 5).astype(float)
    views = [base + sum(1.5 * (np.hypot(yy - 7 * np.sin(a), xx - 7 * np.cos(a)) < 2.5)
                        for a in 2 * np.pi * np.arange(v + 1) / (v + 1) + 0.4) for v in range(n_views)]
    lab = np.repeat(np.arange(n_views), per_view)
    angles = rng.uniform(0, 360, len(lab))
    clean = np.stack([rotate(views[v], a, reshape=False, order=1) for v, a in zip(lab, angles)])
    return clean.astype(np.float32), lab


def test_on_a_stack_rotated_in_plane_the_rotation_search_finds_the_views_the_plain_measure_misses():
    rng = np.random.default_rng(3)
    clean, lab = _rotated_views(rng)
    noisy = clean + 0.5 * rng.normal(size=clean.shape)
    plain, searched = (view_fidelity(noisy, clean, lab, per_view=4, rotations=r) for r in (1, 24))
    assert searched["clean_accuracy"] == 1.0 and searched["accuracy"] > 0.9
    assert plain["clean_accuracy"] < 0.9 and plain["accuracy"] < searched["accuracy"] - 0.1
    blob = np.tile(clean.mean(0), (len(clean), 1, 1))
    assert view_fidelity(blob, clean, lab, rotations=24)["collapsed"]
    with pytest.raises(ValueError, match="rotations"):
        view_fidelity(noisy, clean, lab, rotations=0)
