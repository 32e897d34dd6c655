"""Simulated cryo-EM particle stacks: the paper's protocol and a realistic variant.

A protein is imaged from ``n_views`` directions, ``images_per_view`` images each. Every image is a
projection of the 3D map (:mod:`cdae_lite.simulation.projection`), optionally shifted, rotated in plane and
convolved with a CTF (:mod:`cdae_lite.simulation.ctf`); these are the *clean* images. Noisy versions at several
SNRs are made from the **same** clean images with independent noise (:mod:`cdae_lite.simulation.noise`), so an
image at SNR 0.1 and its partner at SNR 0.4 show the same particle in the same pose: the paired data
the cascade is pre-trained on. The view index is the label used to score clustering.

Clean images are scaled so that their mean variance over the stack is 1 (a convention; every SNR is
a ratio and every learned model normalises its input).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cdae_lite.io.mrc import read_stack, write_stack
from cdae_lite.io.star import image_names, read_star, write_star
from cdae_lite.simulation.config import SimulationConfig
from cdae_lite.simulation.noise import noise_sigma
from cdae_lite.simulation.plan import BLOCK, clean_block, plan_simulation, random_stream


def _snr_stream(snr: float) -> int:
    return 1_000_000 + int(round(snr * 1e6))


def noise_sigma_label(snr: float) -> str:
    """The column of ``SimulatedStack.meta`` holding each image's noise sigma at ``snr``.

    Parameters
    ----------
    snr : float
        A signal-to-noise ratio of the stack.

    Returns
    -------
    str
        ``cdaeNoiseSigma_<snr>``, the SNR written with ``%g``.

    Examples
    --------
    >>> noise_sigma_label(0.1)
    'cdaeNoiseSigma_0.1'
    """
    return f"cdaeNoiseSigma_{snr:g}"


def stack_stem(name: str, snr: float | None) -> str:
    """File stem of a simulated stack.

    Parameters
    ----------
    name : str
        The protein's (or map's) name.
    snr : float or None
        The stack's SNR, ``None`` for the clean stack.

    Returns
    -------
    str
        ``<name>_snr<snr>`` (SNR written with ``%g``), or ``<name>_clean``.
    """
    return f"{name}_clean" if snr is None else f"{name}_snr{snr:g}"


def particles_table(meta: pd.DataFrame, stack_name: str, snr: float | None,
                    sigma: np.ndarray | None = None) -> pd.DataFrame:
    """The STAR particles table of one simulated stack file.

    Parameters
    ----------
    meta : pandas.DataFrame
        One row per image (``SimulatedStack.meta``).
    stack_name : str
        The stack's file name, for ``rlnImageName``.
    snr : float or None
        The stack's SNR, ``None`` for the clean stack.
    sigma : numpy.ndarray, optional
        ``(n,)`` noise standard deviation of each image.

    Returns
    -------
    pandas.DataFrame
        ``rlnImageName`` first (``index@stack_name``), then ``meta``'s columns (less the per-SNR noise
        columns), ``cdaeSNR`` (``inf`` for the clean stack) and ``cdaeNoiseSigma`` when ``sigma`` is given.
    """
    df = meta[[c for c in meta.columns if not c.startswith("cdaeNoiseSigma_")]].copy()
    df.insert(0, "rlnImageName", image_names(len(df), stack_name))
    df["cdaeSNR"] = np.inf if snr is None else float(snr)
    if sigma is not None:
        df["cdaeNoiseSigma"] = np.asarray(sigma)
    return df


@dataclass
class SimulatedStack:
    """Images of one protein: clean, noisy at several SNRs (paired), labels and metadata.

    Attributes
    ----------
    clean : numpy.ndarray
        ``(n, size, size)`` float32 noise-free images (after the CTF when there is one).
    noisy : dict of float to numpy.ndarray
        ``{snr: (n, size, size) float32}``: the same images with noise at each SNR.
    labels : numpy.ndarray
        ``(n,)`` int64 view index, 0 ... n_views - 1.
    meta : pandas.DataFrame
        One row per image (STAR labels: angles in degrees, shifts and defocus in Angstrom; see
        :mod:`cdae_lite.io.star`), with a noise-sigma column per SNR (:func:`noise_sigma_label`).
    pixel_size_A : float
        Pixel size of the images, Angstrom.
    name : str
        The protein's name.
    config : SimulationConfig
        The configuration that made the stack.
    optics : dict
        The STAR optics group (voltage in kV, Cs in mm, amplitude contrast, pixel size in Angstrom).
    """

    clean: np.ndarray
    noisy: dict
    labels: np.ndarray
    meta: pd.DataFrame
    pixel_size_A: float
    name: str
    config: SimulationConfig
    optics: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.clean.shape[0])

    @property
    def snrs(self) -> list[float]:
        """The SNRs of the noisy stacks, increasing."""
        return sorted(self.noisy)

    def noise_sigma(self, snr: float | None = None) -> np.ndarray:
        """Each image's noise standard deviation at one SNR.

        Parameters
        ----------
        snr : float, optional
            One of ``snrs`` (default: the lowest).

        Returns
        -------
        numpy.ndarray
            ``(n,)`` float64.
        """
        return self.meta[noise_sigma_label(min(self.noisy) if snr is None else snr)].to_numpy()

    def save(self, directory: str | os.PathLike, snrs: list[float] | None = None,
             clean: bool = False, overwrite: bool = False) -> list[Path]:
        """Write ``<name>_snr<snr>.mrcs`` + ``.star`` for each SNR (and the clean stack on request).

        Parameters
        ----------
        directory : str or os.PathLike
            Output folder (created if missing).
        snrs : list of float, optional
            Which noisy stacks (default: all).
        clean : bool, optional
            Also write ``<name>_clean.mrcs`` + ``.star``.
        overwrite : bool, optional
            Replace existing files.

        Returns
        -------
        list of pathlib.Path
            The files written, each stack followed by its STAR file.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        todo = [(s, self.noisy[s]) for s in (self.snrs if snrs is None else snrs)]
        if clean:
            todo.append((None, self.clean))
        for snr, imgs in todo:
            stem = stack_stem(self.name, snr)
            mrcs = directory / f"{stem}.mrcs"
            df = particles_table(self.meta, mrcs.name, snr, None if snr is None else self.noise_sigma(snr))
            write_stack(mrcs, imgs, self.pixel_size_A, overwrite=overwrite)
            write_star(directory / f"{stem}.star", df, self.optics, overwrite=overwrite)
            written += [mrcs, directory / f"{stem}.star"]
        return written


def simulate_blocks(volume: np.ndarray, pixel_size_A: float, views_deg: np.ndarray,
                    config: SimulationConfig, snrs: tuple[float, ...] = (0.1,),
                    device: str | torch.device | None = None):
    """Simulate block by block (``BLOCK`` images at a time), for stacks larger than memory.

    :func:`simulate` concatenates the same blocks, so both give identical images.

    Parameters
    ----------
    volume : numpy.ndarray
        ``(s, s, s)`` map; resampled to ``config.image_size`` if needed.
    pixel_size_A : float
        The map's voxel size, Angstrom.
    views_deg : numpy.ndarray
        ``(n_views, 3)`` view orientations ``(rot, tilt, psi)``, degrees.
    config : SimulationConfig
        Scale, realism options and seed.
    snrs : tuple of float, optional
        The SNRs to make noisy images at (each from the same clean images).
    device : str or torch.device, optional
        Where to project (default: CUDA if available).

    Returns
    -------
    meta : pandas.DataFrame
        One row per image (STAR labels).
    optics : dict
        The STAR optics group.
    pixel_size_A : float
        Pixel size of the images, Angstrom.
    blocks : generator
        Of ``(start, clean, {snr: noisy}, {snr: sigma})``: the index of the block's first image,
        float32 ``(b, size, size)`` images with ``b <= BLOCK``, and ``(b,)`` float64 noise sigmas.
    """
    plan = plan_simulation(volume, pixel_size_A, views_deg, config, snrs, device)
    n = len(plan.labels)

    def blocks():
        for b, start in enumerate(range(0, n, BLOCK)):
            stop = min(n, start + BLOCK)
            clean = clean_block(plan, slice(start, stop))
            noisy, sigmas = {}, {}
            for snr in snrs:
                rng = random_stream(config.seed, _snr_stream(snr) + 7919 * b)
                if config.noise_per == "stack":
                    sigma = np.full(stop - start, plan.sigma_stack[float(snr)])
                else:
                    sigma = noise_sigma(clean, snr)
                noise = rng.standard_normal(clean.shape, dtype=np.float32)
                noisy[float(snr)] = clean + noise * sigma[:, None, None].astype(np.float32)
                sigmas[float(snr)] = sigma
            yield start, clean, noisy, sigmas

    return plan.meta, plan.optics, plan.pixel_size_A, blocks()


def simulate(volume: np.ndarray, pixel_size_A: float, views_deg: np.ndarray,
             config: SimulationConfig, snrs: tuple[float, ...] = (0.1,), name: str = "protein",
             device: str | torch.device | None = None) -> SimulatedStack:
    """Simulate a labelled, paired stack of one protein.

    Parameters
    ----------
    volume : array (s, s, s) -- the map; resampled to ``config.image_size`` if needed.
    pixel_size_A : float -- the map's voxel size, Angstrom.
    views_deg : array (n_views, 3) -- view orientations ``(rot, tilt, psi)``, degrees.
    config : SimulationConfig -- scale, realism options and seed.
    snrs : tuple of float -- the SNRs to make noisy stacks at (each from the same clean images).
    name : str -- used in file names.
    device : where to project (default: CUDA if available).

    Returns
    -------
    SimulatedStack

    Examples
    --------
    >>> from cdae_lite.simulation import SimulationConfig, load_protein
    >>> p = load_protein("adk"); vol, px = p.volume(32)
    >>> s = simulate(vol, px, p.views_deg, SimulationConfig(image_size=32, images_per_view=5), snrs=(0.1,))
    >>> s.noisy[0.1].shape, s.labels.tolist()[:6]
    ((20, 32, 32), [0, 0, 0, 0, 0, 1])
    """
    meta, optics, px, blocks = simulate_blocks(volume, pixel_size_A, views_deg, config, snrs, device)
    cleans, noisy, sigmas = [], {float(s): [] for s in snrs}, {float(s): [] for s in snrs}
    for _, clean, nb, sb in blocks:
        cleans.append(clean)
        for s in nb:
            noisy[s].append(nb[s])
            sigmas[s].append(sb[s])
    meta = meta.copy()
    for s in sigmas:
        meta[noise_sigma_label(s)] = np.concatenate(sigmas[s])
    return SimulatedStack(clean=np.concatenate(cleans), noisy={s: np.concatenate(v) for s, v in noisy.items()},
                          labels=meta["cdaeView"].to_numpy(np.int64), meta=meta, pixel_size_A=float(px),
                          name=name, config=config, optics=optics)


def simulate_protein(protein, config: SimulationConfig, snrs: tuple[float, ...] | None = None,
                     device: str | torch.device | None = None) -> SimulatedStack:
    """Simulate a shipped protein at its four views.

    Parameters
    ----------
    protein : Protein or str
        A :class:`~cdae_lite.simulation.proteins.Protein` or its name.
    config : SimulationConfig
        Scale, realism options and seed.
    snrs : tuple of float, optional
        Default: the protocol's, ``config.train_snrs`` for the training protein, ``(config.test_snr,)``
        for a test protein.
    device : str or torch.device, optional
        Where to project (default: CUDA if available).

    Returns
    -------
    SimulatedStack
    """
    from cdae_lite.simulation.proteins import Protein, load_protein

    p = protein if isinstance(protein, Protein) else load_protein(protein)
    if snrs is None:
        snrs = tuple(config.train_snrs) if p.role == "train" else (config.test_snr,)
    vol, px = p.volume(config.image_size)
    return simulate(vol, px, np.array(p.views_deg), config, snrs=snrs, name=p.name, device=device)


def load_particles(star_path: str | os.PathLike) -> tuple[np.ndarray, pd.DataFrame, dict, float | None]:
    """Read a STAR file and the one stack its ``rlnImageName`` column points to.

    Parameters
    ----------
    star_path : str or os.PathLike
        The STAR file; the stack's name in it is relative to the STAR file's folder.

    Returns
    -------
    images : numpy.ndarray
        ``(n, size, size)`` float32, ordered as the STAR rows.
    particles : pandas.DataFrame
        The STAR rows.
    optics : dict
        The first optics group (empty when there is none).
    pixel_size_A : float or None
        ``rlnImagePixelSize`` of the optics group, else the stack header's, Angstrom.

    Raises
    ------
    ValueError
        If the STAR file names several stacks, or its row count differs from the stack's.
    """
    star_path = Path(star_path)
    particles, optics = read_star(star_path)
    if "rlnImageName" not in particles:
        raise ValueError(f"{star_path} has no rlnImageName column: which stack does it describe?")
    parts = particles["rlnImageName"].astype(str).str.split("@", n=1, expand=True)
    stacks = parts[1].unique()
    if len(stacks) != 1:
        raise ValueError(f"{star_path} names {len(stacks)} stacks; cdae-lite reads one stack per STAR file")
    images, px = read_stack(star_path.parent / stacks[0])
    idx = parts[0].astype(int).to_numpy() - 1
    if len(particles) != images.shape[0] or idx.min() < 0 or idx.max() >= images.shape[0]:
        raise ValueError(f"{star_path} has {len(particles)} rows but {stacks[0]} holds "
                         f"{images.shape[0]} images: they do not describe each other")
    px = float(optics.get("rlnImagePixelSize", px or 0)) or px
    return images[idx], particles, optics, px
