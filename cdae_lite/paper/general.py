"""The general denoiser shipped in ``data/weights`` (beyond the paper): its training data and recipe.

The paper's pre-training shows a network four views of one protein at fixed SNRs with fixed noise,
and asks it for noisy targets; the network learns those views and that noise. A denoiser meant for
anyone's particles is trained here instead

- on **clean targets** with **fresh noise in every batch** (SNR log-uniform in 0.02-0.3, a quarter of
  the images with coloured noise: :func:`~cdae_lite.denoise.synthetic.fit_fresh_noise`);
- on **many structures**: every shipped map that is neither a test protein nor a relative of one
  (RuBisCO, the 70S ribosome, TRPV1) and random pseudo-proteins of varied size and shape
  (:func:`~cdae_lite.simulation.maps.phantom`, some stretched);
- at **many particle sizes** (diameters drawn in ``diameter_px``, covering the test particles' 25-50
  px in a 64 px box and more), from random orientations with in-plane rotations and shifts, half of
  them with a CTF (defocus 0.5-3 um).

The three test proteins (and the proteasome and adenylate kinase relatives, CXCR4) are never seen,
and the held-out apoferritin (:data:`HELD_OUT`) is kept out of every choice.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from cdae_lite.denoise.checkpoint import save_model
from cdae_lite.denoise.models import GeneralUNetConfig, general_unet
from cdae_lite.denoise.synthetic import FreshNoiseConfig, fit_fresh_noise
from cdae_lite.distributed import is_main, world
from cdae_lite.io.paths import data_dir, data_path
from cdae_lite.runtime import ProfiledConfig, command_line, device_name, git_commit, progress
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.maps import load_map, phantom, resample
from cdae_lite.simulation.proteins import training_protein
from cdae_lite.simulation.stacks import simulate, simulate_protein

#: Shipped maps the general denoiser trains on: neither test proteins nor their relatives.
TRAINING_MAPS = {"rubisco": "maps/rubisco.mrc.gz", "ribosome": "maps/polnet_4v4r_10A.mrc.gz",
                 "trpv1": "maps/cryojax_trpv1_volume.mrc.gz"}
#: The structure kept out of training and of every choice, to report the denoiser's margin on.
HELD_OUT = "maps/apoferritin_6z6u.mrc.gz"


@dataclass(frozen=True)
class GeneralDenoiserConfig(ProfiledConfig):
    """The shipped general denoiser's data and training (``python -m cdae_lite.paper general``).

    Attributes
    ----------
    size : int -- box, pixels.
    maps : tuple of str -- the shipped maps trained on (keys of :data:`TRAINING_MAPS`).
    n_phantoms : int -- random pseudo-proteins besides the shipped maps.
    images_per_structure : int -- clean projections of each structure (spread over ``scales``).
    scales : int -- particle sizes per structure, diameters drawn uniformly in ``diameter_px``.
    max_shift_px : float -- random shifts, pixels.
    defocus_range_A : CTF defocus range (half of each structure's scales have a CTF).
    net : GeneralUNetConfig. train : FreshNoiseConfig (its ``minutes`` sets the training time).
    seed : int -- seeds the bank (structures' sizes, views, phantoms ``seed + 100 + i``) and training.
    init : str -- a checkpoint of the same network to start from ("" trains from random weights; a
        warm start continues an earlier run on a new bank, its record kept under ``record["init"]``).
    """

    size: int = 64
    maps: tuple = tuple(TRAINING_MAPS)
    n_phantoms: int = 40
    images_per_structure: int = 600
    scales: int = 3
    diameter_px: tuple = (20.0, 60.0)
    max_shift_px: float = 3.0
    defocus_range_A: tuple = (5000.0, 30000.0)
    net: GeneralUNetConfig = GeneralUNetConfig()
    train: FreshNoiseConfig = FreshNoiseConfig(minutes=90.0)
    seed: int = 0
    init: str = ""

    def __post_init__(self):
        unknown = [m for m in self.maps if m not in TRAINING_MAPS]
        if unknown or self.n_phantoms < 0 or (not self.maps and not self.n_phantoms):
            raise ValueError(f"maps must be among {list(TRAINING_MAPS)} (got {list(self.maps)}) and there must be "
                             "at least one structure")

    @classmethod
    def quick_overrides(cls) -> dict:
        return {"n_phantoms": 4, "images_per_structure": 60, "net": GeneralUNetConfig((8, 16, 16, 16)),
                # stops by images (deterministic: the same numbers on any machine), a few seconds on 2 cores
                "train": FreshNoiseConfig(minutes=1.0, max_images=12_000)}

    @classmethod
    def smoke_overrides(cls) -> dict:
        # the shipped network and box; a few structures and seconds of training
        return {"n_phantoms": 2, "images_per_structure": 12, "train": FreshNoiseConfig(minutes=0.05)}


def diameter_voxels(volume: np.ndarray, threshold: float = 0.1) -> float:
    """Diameter of a particle in a map: twice the largest distance from the box centre of a voxel above
    ``threshold`` times the maximum."""
    idx = np.argwhere(volume > threshold * volume.max())
    centre = (np.array(volume.shape) - 1) / 2
    return float(2 * np.sqrt(((idx - centre) ** 2).sum(1)).max() + 1)


def fit_box(volume: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop or zero-pad a cubic map to ``size`` voxels a side."""
    n = volume.shape[0]
    if n >= size:
        a = (n - size) // 2
        return volume[a:a + size, a:a + size, a:a + size]
    out = np.zeros((size,) * 3, volume.dtype)
    a = (size - n) // 2
    out[a:a + n, a:a + n, a:a + n] = volume
    return out


def stretched_phantom(size: int, seed: int) -> np.ndarray:
    """A :func:`~cdae_lite.simulation.maps.phantom`, for odd seeds stretched 1.2-1.8x along a random axis."""
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


def phantom_seeds(cfg: GeneralDenoiserConfig) -> list[int]:
    """Seeds of the bank's pseudo-proteins (:func:`stretched_phantom`), in order: ``cfg.seed + 100 + i``."""
    return [cfg.seed + 100 + i for i in range(cfg.n_phantoms)]


def training_structures(cfg: GeneralDenoiserConfig) -> list[tuple[str, np.ndarray, float]]:
    """``(name, map, pixel size in A)`` of every training structure: the shipped maps, then phantoms."""
    out = []
    for name in cfg.maps:
        vol, px = load_map(data_path(TRAINING_MAPS[name]))
        out.append((name, vol, float(px or 1.0)))
    out += [(f"phantom{i}", stretched_phantom(cfg.size, seed), 2.0) for i, seed in enumerate(phantom_seeds(cfg))]
    return out


def clean_bank(cfg: GeneralDenoiserConfig, device=None) -> tuple[np.ndarray, list[dict]]:
    """The clean training images: float32 ``(n, size, size)``, and one row per (structure, scale).

    Each structure is resampled so that its diameter is a random number of pixels in
    ``cfg.diameter_px`` (the pixel size changing accordingly), boxed to ``cfg.size``, and projected
    from uniformly random directions with in-plane rotation and shifts; alternate scales get a CTF.
    """
    rng = np.random.default_rng(cfg.seed)
    structures = training_structures(cfg)
    per_scale = max(1, cfg.images_per_structure // cfg.scales)
    images, rows = [], []
    bar = progress(len(structures) * cfg.scales, "projecting the training structures", unit="set")
    for i, (name, vol, px) in enumerate(structures):
        diam = diameter_voxels(vol)
        for j in range(cfg.scales):
            target = rng.uniform(*cfg.diameter_px)
            n_new = max(8, int(round(vol.shape[0] * target / diam / 2)) * 2)
            v = fit_box(resample(vol, n_new), cfg.size)
            px_new = px * vol.shape[0] / n_new
            dirs = rng.normal(size=(per_scale, 3))
            dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
            views = np.c_[np.degrees(np.arctan2(dirs[:, 1], dirs[:, 0])), np.degrees(np.arccos(dirs[:, 2])),
                          np.zeros(per_scale)]
            ctf = (i + j) % 2 == 0
            sim = SimulationConfig(image_size=cfg.size, n_views=per_scale, images_per_view=1, inplane_rotation=True,
                                   max_shift_px=cfg.max_shift_px, ctf=ctf, defocus_range_A=cfg.defocus_range_A,
                                   seed=cfg.seed * 1000 + i * 10 + j)
            st = simulate(v, px_new, views, sim, snrs=(1.0,), name=name, device=device)
            images.append(st.clean)
            rows.append({"structure": name, "diameter_px": round(float(target), 1), "pixel_size_A": round(px_new, 3),
                         "ctf": ctf, "images": len(st.clean)})
            bar.update(1)
    bar.close()
    return np.concatenate(images).astype(np.float32), rows


def training_gain(model, size: int = 64, n_images: int = 64, snr: float = 0.1, seed: int = 12347, device=None) -> float:
    """Mean gain of ``model`` on the *training* protein (RuBisCO, paper preset, SNR ``snr``): the number
    ``cdae-lite denoise`` reads from a checkpoint's record to decide whether to calibrate by default."""
    from cdae_lite.denoise.inference import predict
    from cdae_lite.metrics import gain

    sim = SimulationConfig(image_size=size, images_per_view=max(1, n_images // 4), seed=seed)
    s = simulate_protein(training_protein(), sim, snrs=(snr,), device=device)
    return float(np.nanmean(gain(predict(model, s.noisy[snr], device=device), s.clean)))


def _initial_model(cfg: GeneralDenoiserConfig) -> tuple[torch.nn.Module, dict | None]:
    """A new network for ``cfg.net``, or the checkpoint ``cfg.init`` (``"general"`` or a path) with what made it."""
    if not cfg.init:
        return general_unet(cfg.net), None
    from cdae_lite.denoise.checkpoint import load_denoiser
    from cdae_lite.io.files import sha256

    model, meta, path = load_denoiser(cfg.init)
    if meta["architecture"] != "general_unet" or tuple(meta["config"]["channels"]) != tuple(cfg.net.channels):
        raise ValueError(f"init {path} holds a {meta['architecture']} {meta['config']}, not the denoiser {cfg.net}")
    old = {k: v for k, v in meta["record"].items() if k not in ("bank", "history")}
    return model, {"path": str(path.name), "sha256": sha256(path), "record": old,
                   "images_seen": meta["record"].get("history", {}).get("images_seen")}


def train_general_denoiser(cfg: GeneralDenoiserConfig = GeneralDenoiserConfig(), out: str | Path | None = None,
                           device=None) -> Path:
    """Make the clean bank, train the general denoiser on it with fresh noise, write the checkpoint.

    The checkpoint (default ``data/weights/denoiser_general.pt``) is rewritten every 5 minutes while
    training (``record["complete"]`` says whether the run finished), so a stopped run keeps its
    progress. Its record holds the config, the bank's composition, the loss curve and provenance.
    Under ``torchrun`` (with the process group joined by the caller) the training is data-parallel
    (:func:`~cdae_lite.denoise.synthetic.fit_fresh_noise`) and rank 0 writes the checkpoint.
    """
    t0 = time.perf_counter()
    path = Path(out) if out else data_dir() / "weights" / "denoiser_general.pt"
    model, init = _initial_model(cfg)  # before the bank: a wrong checkpoint fails at once
    bank, rows = clean_bank(cfg, device)
    record = {"init": init, "what": "general denoiser (beyond the paper): see GeneralDenoiserConfig", "config": cfg.as_dict(),
              "bank": rows, "bank_images": int(len(bank)), "bank_seconds": time.perf_counter() - t0,
              "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "device": device_name(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
              "commit": git_commit(), "command": command_line(), "complete": False}

    def save(history: dict) -> None:
        save_model(path, model, "general_unet", asdict(cfg.net), {**record, "history": history}, overwrite=True)

    history = fit_fresh_noise(model, bank, cfg.train, device, on_checkpoint=save, desc="general denoiser")
    if is_main():  # under torchrun every rank trained the same weights; rank 0 measures and writes them
        record["gain"] = training_gain(model, cfg.size, device=device)
        record["complete"] = True
        record["seconds"] = time.perf_counter() - t0
        record["processes"] = world()[1]
        save(history)
    return path


def add_recorded_gain(spec: str, device=None) -> str:
    """Measure :func:`training_gain` of a shipped model (``"general"``, ``"cdae"``) or checkpoint and write it
    into the checkpoint's record (atomically, weights unchanged); returns a one-line report."""
    from cdae_lite.denoise.checkpoint import load_denoiser

    model, meta, path = load_denoiser(spec)
    g = training_gain(model, device=device)
    save_model(path, model, meta["architecture"], meta["config"],
               {**meta["record"], "gain": g, "gain_command": command_line()}, overwrite=True)
    return f"{path}: gain {g:.3f} on the training protein (SNR 0.1, 64 px)"


#: Structures for choosing between general denoisers (e.g. whether a longer run replaces the shipped one):
#: pseudo-proteins whose seeds (900-915) no training bank uses, so that no test protein and no held-out
#: structure takes part in the choice.
VALIDATION = GeneralDenoiserConfig(maps=(), n_phantoms=16, images_per_structure=48, scales=3,
                                   diameter_px=(25.0, 50.0), seed=800)

