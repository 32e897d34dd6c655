"""Simulating straight to disk, block by block: stacks larger than memory (``cdae-lite simulate``)."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cdae_lite.io.files import check_target
from cdae_lite.io.mrc import StackWriter
from cdae_lite.io.star import write_star
from cdae_lite.runtime import progress
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.stacks import particles_table, simulate_blocks, stack_stem

log = logging.getLogger(__name__)


@dataclass
class SimulationReport:
    """What :func:`write_simulation` wrote.

    Attributes
    ----------
    n_images : int
        Images in each stack.
    image_size : int
        Box size of the images, pixels.
    pixel_size_A : float
        Pixel size of the images, Angstrom.
    seconds : float
        Wall-clock time of the simulation and writing.
    stacks : list of pathlib.Path
        The ``.mrcs`` files written (each with its ``.star`` beside it).
    """

    n_images: int
    image_size: int
    pixel_size_A: float
    seconds: float
    stacks: list

    def summary(self, out: str | os.PathLike) -> str:
        """One line for a user: stacks, images, size, pixel size, folder, time and speed.

        Parameters
        ----------
        out : str or os.PathLike
            The output folder, as the user named it.

        Returns
        -------
        str
            The line, e.g. ``wrote 2 stack(s) of 40 images (32 px, 4.000 A/px) to out in 0.3 s ...``.
        """
        return (f"wrote {len(self.stacks)} stack(s) of {self.n_images} images ({self.image_size} px, "
                f"{self.pixel_size_A:.3f} A/px) to {out} in {self.seconds:.1f} s "
                f"({self.n_images / max(self.seconds, 1e-9):.0f} images/s): "
                + ", ".join(Path(p).name for p in self.stacks))


def write_simulation(volume: np.ndarray, pixel_size_A: float, views_deg: np.ndarray, config: SimulationConfig,
                     snrs: tuple[float, ...], out: str | os.PathLike, name: str, clean: bool = False,
                     overwrite: bool = False, device: str | torch.device | None = None) -> SimulationReport:
    """Simulate and write ``<name>_snr<snr>.mrcs`` + ``.star`` per SNR (and ``<name>_clean.*``).

    The images are those of :func:`~cdae_lite.simulation.stacks.simulate` with the same arguments, made
    and written :data:`~cdae_lite.simulation.plan.BLOCK` images at a time, so memory does not grow
    with the stack. Each stack appears under its name only when complete.

    Parameters
    ----------
    volume : numpy.ndarray
        ``(s, s, s)`` float32 map.
    pixel_size_A : float
        Its voxel size, Angstrom.
    views_deg : numpy.ndarray
        ``(n_views, 3)`` Euler angles ``(rot, tilt, psi)`` in degrees (RELION's ZYZ convention).
    config : SimulationConfig
        Image size, images per view, CTF, noise and seed.
    snrs : tuple of float
        The SNRs (variance of the signal over variance of the noise), each > 0; one stack each.
    out : str or os.PathLike
        Output folder (created if missing).
    name : str
        File name stem (``adk`` gives ``adk_snr0.1.mrcs``).
    clean : bool, optional
        Also write the noise-free stack ``<name>_clean.mrcs``.
    overwrite : bool, optional
        Replace existing files (else an existing one is refused before any work).
    device : str or torch.device, optional
        Where the projections are computed (default: :func:`cdae_lite.runtime.get_device`).

    Returns
    -------
    SimulationReport
        Images, size, pixel size, time and the stacks written.

    Raises
    ------
    ValueError
        A non-positive or non-finite SNR (before anything is created on disk).
    """
    snrs = tuple(dict.fromkeys(float(s) for s in snrs))  # the same SNR twice is written once
    bad = [s for s in snrs if not (np.isfinite(s) and s > 0)]
    if bad:
        raise ValueError(f"SNR must be a positive number, got {bad[0]}")
    out = Path(out)
    stems = {s: stack_stem(name, s) for s in snrs}
    if clean:
        stems[None] = stack_stem(name, None)
    if len(set(stems.values())) < len(stems):
        raise ValueError(f"SNRs {list(snrs)} give the same file name twice: give distinct SNRs")
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        for stem in stems.values():  # every output, .star included, checked before any work
            for ext in (".mrcs", ".star"):
                check_target(out / f"{stem}{ext}", overwrite)
        return _simulate_into(out, stems, volume, pixel_size_A, views_deg, config, snrs, name, clean, overwrite,
                              device)
    except BaseException:
        if made and not any(out.iterdir()):
            out.rmdir()  # a failed run leaves no empty folder behind
        raise


def _simulate_into(out: Path, stems: dict, volume, pixel_size_A, views_deg, config, snrs, name, clean, overwrite,
                   device) -> SimulationReport:
    meta, optics, px_out, blocks = simulate_blocks(volume, pixel_size_A, views_deg, config, snrs, device=device)
    n, size = len(meta), config.image_size
    log.debug("simulating %d images of %d px at %.3f A/px (%d views), SNR %s%s", n, size, px_out,
              len(views_deg), ", ".join(f"{s:g}" for s in snrs), " and clean" if clean else "")
    t0 = time.perf_counter()
    writers = {s: StackWriter(out / f"{stem}.mrcs", n, size, px_out, overwrite=overwrite) for s, stem in stems.items()}
    sigmas = {s: np.zeros(n) for s in snrs}
    bar = progress(n, f"simulating {name}")
    try:
        for w in writers.values():
            w.__enter__()
        for start, clean_block, noisy, sig in blocks:
            for s in snrs:
                writers[s].write(start, noisy[s])
                sigmas[s][start:start + len(clean_block)] = sig[s]
            if clean:
                writers[None].write(start, clean_block)
            bar.update(len(clean_block))
    except BaseException as exc:
        for w in writers.values():
            w.__exit__(type(exc), exc, None)
        raise
    finally:
        bar.close()
    for w in writers.values():
        w.__exit__(None, None, None)
    for s, stem in stems.items():
        df = particles_table(meta, f"{stem}.mrcs", s, None if s is None else sigmas[s])
        write_star(out / f"{stem}.star", df, optics, overwrite=overwrite)
        log.debug("wrote %s and %s", out / f"{stem}.mrcs", out / f"{stem}.star")
    return SimulationReport(n, size, float(px_out), time.perf_counter() - t0,
                            [out / f"{stem}.mrcs" for stem in stems.values()])
