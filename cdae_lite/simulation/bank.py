"""A bank of clean projections of many structures at many sizes: the general denoiser's training images.

A network trained on one protein's few views learns those views. The bank instead holds, for every
structure (shipped maps that are neither test proteins nor their relatives, and random pseudo-proteins,
half of them stretched), ``scales`` sets of clean projections: in each the structure is resampled so
that its particle is a random number of pixels across (``diameter_px``), boxed to
``size`` and projected from uniformly random directions with random in-plane rotations and shifts;
every ``ctf_every``-th set (counting structures and scales together) is imaged with a CTF. Noise is
not part of the bank: the trainer adds fresh noise to every batch
(:func:`cdae_lite.denoise.synthetic.fit_fresh_noise`).

Everything is drawn from the bank's ``seed``: the sizes and directions from one NumPy generator in the
order of the structures, pseudo-protein ``i`` from seed ``seed + phantom_seed_offset + i``, and each
set's rotations, shifts and CTFs from ``seed * 1000 + 10 * structure + scale``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cdae_lite.io.paths import data_path
from cdae_lite.runtime import progress
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.maps import diameter_voxels, fit_box, load_map, phantom, resample
from cdae_lite.simulation.stacks import simulate

#: Shipped maps a bank may hold (neither test proteins nor their relatives): name -> file under ``data/``.
TRAINING_MAPS = {"rubisco": "maps/rubisco.mrc.gz", "ribosome": "maps/polnet_4v4r_10A.mrc.gz",
                 "trpv1": "maps/cryojax_trpv1_volume.mrc.gz"}


@dataclass(frozen=True)
class BankConfig:
    """What a bank of clean projections holds. The defaults are the shipped general denoiser's last bank.

    Attributes
    ----------
    size : int
        Box, pixels.
    maps : tuple of str
        Shipped maps in the bank (keys of :data:`TRAINING_MAPS`), first.
    n_phantoms : int
        Random pseudo-proteins (:func:`stretched_phantom`) after the maps.
    images_per_structure : int
        Clean projections of each structure, spread evenly over ``scales``.
    scales : int
        Particle sizes (sets) per structure, each a diameter drawn uniformly in ``diameter_px``.
    diameter_px : tuple of float
        ``(low, high)`` particle diameters, pixels.
    max_shift_px : float
        Random shifts, pixels.
    defocus_range_A : tuple of float
        CTF defocus range, Angstrom.
    ctf_every : int
        Every ``ctf_every``-th set (structure index plus scale index) has a CTF: 2 gives half the
        sets, 1 every set, 0 none.
    phantom_seed_offset : int
        Pseudo-protein ``i`` is drawn from seed ``seed + phantom_seed_offset + i``.
    seed : int
        Seeds everything else (sizes, directions, rotations, shifts, defocus).
    """

    size: int = 64
    maps: tuple = tuple(TRAINING_MAPS)
    n_phantoms: int = 80
    images_per_structure: int = 600
    scales: int = 3
    diameter_px: tuple = (20.0, 60.0)
    max_shift_px: float = 3.0
    defocus_range_A: tuple = (5000.0, 30000.0)
    ctf_every: int = 2
    phantom_seed_offset: int = 100
    seed: int = 50

    def __post_init__(self):
        unknown = [m for m in self.maps if m not in TRAINING_MAPS]
        if unknown or self.n_phantoms < 0 or (not self.maps and not self.n_phantoms):
            raise ValueError(f"maps must be among {list(TRAINING_MAPS)} (got {list(self.maps)}) and there must be "
                             "at least one structure")
        if self.scales < 1 or self.images_per_structure < 1 or self.ctf_every < 0:
            raise ValueError("scales and images_per_structure must be positive, ctf_every 0 or positive")

    def n_images(self) -> int:
        """Images in the bank: ``structures x scales x (images_per_structure // scales)`` (at least one per set).

        Returns
        -------
        int
        """
        per_scale = max(1, self.images_per_structure // self.scales)
        return (len(self.maps) + self.n_phantoms) * self.scales * per_scale


def stretched_phantom(size: int, seed: int) -> np.ndarray:
    """A :func:`~cdae_lite.simulation.maps.phantom`, for odd seeds stretched 1.2-1.8x along a random axis.

    Parameters
    ----------
    size : int
        Box, voxels.
    seed : int
        The phantom's seed (and, for odd seeds, the stretch's).

    Returns
    -------
    numpy.ndarray
        float32 ``(size, size, size)``.
    """
    vol = phantom(size, seed)
    if seed % 2 == 0:
        return vol
    from scipy.ndimage import affine_transform
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    rot = Rotation.random(random_state=int(rng.integers(2**31))).as_matrix()
    scale = np.diag([1 / rng.uniform(1.2, 1.8), 1.0, 1.0])
    mat = rot @ scale @ rot.T
    centre = (np.array(vol.shape) - 1) / 2
    return affine_transform(vol, mat, offset=centre - mat @ centre, order=1).astype(np.float32)


def phantom_seeds(cfg: BankConfig) -> list[int]:
    """Seeds of the bank's pseudo-proteins, in order: ``cfg.seed + cfg.phantom_seed_offset + i``.

    Parameters
    ----------
    cfg : BankConfig

    Returns
    -------
    list of int
    """
    return [cfg.seed + cfg.phantom_seed_offset + i for i in range(cfg.n_phantoms)]


def training_structures(cfg: BankConfig):
    """The bank's structures, the shipped maps first, then the pseudo-proteins (made one at a time).

    Parameters
    ----------
    cfg : BankConfig

    Yields
    ------
    tuple
        ``(name, map, pixel size in Angstrom)``: str, float32 ``(n, n, n)``, float.
    """
    for name in cfg.maps:
        vol, px = load_map(data_path(TRAINING_MAPS[name]))
        yield name, vol, float(px or 1.0)
    for i, seed in enumerate(phantom_seeds(cfg)):
        yield f"phantom{i}", stretched_phantom(cfg.size, seed), 2.0


def bank_sets(cfg: BankConfig):
    """The bank's sets, one per structure and scale, drawn in order (nothing is projected yet).

    Parameters
    ----------
    cfg : BankConfig
        The bank: its structures (:func:`training_structures`), scales and images per set.

    Yields
    ------
    tuple
        ``(row, volume, views, sim)``: ``row`` the set's line of the bank's composition (structure,
        diameter_px, pixel_size_A, ctf, images), ``volume`` the resampled, boxed map float32
        ``(size, size, size)``, ``views`` its directions ``(n, 3)`` in degrees, ``sim`` its
        :class:`~cdae_lite.simulation.config.SimulationConfig`.
    """
    rng = np.random.default_rng(cfg.seed)
    per_scale = max(1, cfg.images_per_structure // cfg.scales)
    for i, (name, vol, px) in enumerate(training_structures(cfg)):
        diam = diameter_voxels(vol)
        for j in range(cfg.scales):
            target = rng.uniform(*cfg.diameter_px)
            n_new = max(8, int(round(vol.shape[0] * target / diam / 2)) * 2)
            px_new = px * vol.shape[0] / n_new
            dirs = rng.normal(size=(per_scale, 3))
            dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
            views = np.c_[np.degrees(np.arctan2(dirs[:, 1], dirs[:, 0])), np.degrees(np.arccos(dirs[:, 2])),
                          np.zeros(per_scale)]
            ctf = cfg.ctf_every > 0 and (i + j) % cfg.ctf_every == 0
            sim = SimulationConfig(image_size=cfg.size, n_views=per_scale, images_per_view=1, inplane_rotation=True,
                                   max_shift_px=cfg.max_shift_px, ctf=ctf, defocus_range_A=cfg.defocus_range_A,
                                   seed=cfg.seed * 1000 + i * 10 + j)
            row = {"structure": name, "diameter_px": round(float(target), 1), "pixel_size_A": round(px_new, 3),
                   "ctf": ctf, "images": per_scale}
            yield row, (vol, n_new, px_new), views, sim


def bank_rows(cfg: BankConfig) -> list[dict]:
    """The bank's composition without projecting it: one row per set, as :func:`clean_bank` returns.

    Parameters
    ----------
    cfg : BankConfig

    Returns
    -------
    list of dict
        ``structure``, ``diameter_px``, ``pixel_size_A``, ``ctf``, ``images`` per set.
    """
    return [row for row, *_ in bank_sets(cfg)]


def clean_bank(cfg: BankConfig = BankConfig(), device=None) -> tuple[np.ndarray, list[dict]]:
    """Project the bank: its clean images and its composition.

    Parameters
    ----------
    cfg : BankConfig
    device : str or torch.device, optional
        Where to project (default: CUDA when available).

    Returns
    -------
    images : numpy.ndarray
        float32 ``(cfg.n_images(), size, size)``, the sets in order.
    rows : list of dict
        One per set (:func:`bank_rows`).
    """
    images, rows = [], []
    bar = progress((len(cfg.maps) + cfg.n_phantoms) * cfg.scales, "projecting the training structures", unit="set")
    for row, (vol, n_new, px_new), views, sim in bank_sets(cfg):
        st = simulate(fit_box(resample(vol, n_new), cfg.size), px_new, views, sim, snrs=(1.0,), name=row["structure"],
                      device=device)
        images.append(st.clean)
        rows.append({**row, "images": len(st.clean)})
        bar.update(1)
    bar.close()
    return np.concatenate(images).astype(np.float32), rows
