"""The general-purpose CDAE shipped in ``data/weights`` (beyond the paper): its recipe."""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from cdae_lite.denoise.checkpoint import save_model
from cdae_lite.denoise.models import AEConfig
from cdae_lite.denoise.train import TrainConfig, ladder_pairs, pretrain_cdae
from cdae_lite.io.paths import data_dir
from cdae_lite.paper.profiles import ProfiledConfig
from cdae_lite.runtime import command_line, device_name, git_commit
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.proteins import training_protein


@dataclass(frozen=True)
class GeneralModelConfig(ProfiledConfig):
    """The general-purpose CDAE shipped in ``data/weights`` (beyond the paper).

    The paper's pre-training sees four views of one protein, so its networks learn those views. A
    model meant for anyone's particles must see many shapes, orientations, SNRs and CTFs. Here: the
    training protein (RuBisCO) and ``n_phantoms`` random pseudo-proteins (:func:`~cdae_lite.simulation.maps.phantom`), each
    from ``n_views`` random directions with random in-plane rotation and shifts, half of them with a
    CTF; each structure at one input SNR of ``base_snrs`` (in turn) with the paper's ladder of
    targets at 4x and 6x that SNR, then clean. The three test proteins are never seen.
    """

    size: int = 64
    n_phantoms: int = 15
    n_views: int = 200
    images_per_view: int = 3
    base_snrs: tuple = (0.03, 0.05, 0.1, 0.15, 0.25)
    ladder: tuple = (4.0, 6.0)
    ae: AEConfig = AEConfig()
    train: TrainConfig = TrainConfig(epochs=10)
    seed: int = 0



def general_training_pairs(cfg: GeneralModelConfig, device=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The three blocks' pre-training pairs of :class:`GeneralModelConfig`."""
    from cdae_lite.simulation import maps
    from cdae_lite.simulation.rotations import fibonacci_directions
    from cdae_lite.simulation.stacks import simulate

    prot = training_protein()
    vol, px = prot.volume(cfg.size)
    structures = [("rubisco", vol, px)] + [(f"phantom{i}", maps.phantom(cfg.size, cfg.seed + 100 + i), 2.0)
                                           for i in range(cfg.n_phantoms)]
    steps = [[] for _ in range(len(cfg.ladder) + 2)]
    rng = np.random.default_rng(cfg.seed)
    for i, (name, v, p) in enumerate(structures):
        dirs = fibonacci_directions(cfg.n_views)
        dirs[:, 0] += rng.uniform(0, 360)  # a different set of directions for every structure
        views = np.c_[dirs, np.zeros(len(dirs))]
        sim_cfg = SimulationConfig(image_size=cfg.size, n_views=cfg.n_views, images_per_view=cfg.images_per_view,
                                   seed=cfg.seed + i)
        sim_cfg = sim_cfg.realistic(jitter_deg=0.0) if i % 2 == 0 else replace(
            sim_cfg, inplane_rotation=True, max_shift_px=cfg.size / 32)
        s0 = cfg.base_snrs[i % len(cfg.base_snrs)]
        snrs = (s0,) + tuple(s0 * f for f in cfg.ladder)
        st = simulate(v, p, views, sim_cfg, snrs=snrs, name=name, device=device)
        for j, snr in enumerate(snrs):
            steps[j].append(st.noisy[float(snr)])
        steps[-1].append(st.clean)
    return ladder_pairs([np.concatenate(s) for s in steps])


def train_general_model(cfg: GeneralModelConfig = GeneralModelConfig(), out: str | Path | None = None,
                        device=None) -> Path:
    """Pre-train the general CDAE and write it, with its record, to ``data/weights/cdae_general.pt``."""

    t0 = time.perf_counter()
    pairs = general_training_pairs(cfg, device)
    model, hists = pretrain_cdae(pairs, cfg.ae, cfg.train, device)
    record_ = {"what": "general-purpose CDAE (beyond the paper): see GeneralModelConfig",
               "config": cfg.as_dict(), "n_pairs_per_block": int(len(pairs[0][0])),
               "histories": [h.as_dict() for h in hists], "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "device": device_name(device), "torch": torch.__version__, "commit": git_commit(),
               "command": command_line(), "seconds": time.perf_counter() - t0}
    path = Path(out) if out else data_dir() / "weights" / "cdae_general.pt"
    return save_model(path, model, "cdae", asdict(cfg.ae), record_)
