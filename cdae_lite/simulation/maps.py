"""3D density maps: from atomic models, from and to MRC files, resampled, fetched by ID.

Maps are float32 arrays ``(size, size, size)`` indexed ``[z, y, x]`` with a pixel size in Angstrom.
"""

from __future__ import annotations

import os
from pathlib import Path

import mrcfile
import numpy as np

from cdae_lite.images import fourier_resample
from cdae_lite.io.files import atomic_write
from cdae_lite.simulation.projection import check_map


def load_map(path: str | os.PathLike) -> tuple[np.ndarray, float | None]:
    """Read a 3D map from an MRC/CCP4 file (gzip or bzip2 compressed files too).

    Parameters
    ----------
    path : str or os.PathLike
        The map file (``.mrc``, ``.map``, ``.ccp4``, optionally ``.gz``/``.bz2``).

    Returns
    -------
    volume : numpy.ndarray
        Shape ``(size, size, size)``, float32, indexed ``[z, y, x]`` whatever the file's axis order.
    pixel_size_A : float or None
        Voxel size from the header, Angstrom; ``None`` when the header holds none (0).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a readable MRC file, or the map is not a finite cube.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no map file at {path}")
    try:
        with mrcfile.open(path, permissive=False) as mrc:
            data = np.asarray(mrc.data, dtype=np.float32)
            h = mrc.header
            order = (int(h.mapc), int(h.mapr), int(h.maps))  # file axes -> (x, y, z) = 1, 2, 3
            px = float(mrc.voxel_size.x)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path} is not a readable MRC map ({exc})") from exc
    if data.ndim != 3:
        raise ValueError(f"{path} holds an array of shape {data.shape}, not a 3D map")
    if order != (1, 2, 3) and sorted(order) == [1, 2, 3]:
        # data axes are (section, row, column) = (order[2], order[1], order[0]); want (z=3, y=2, x=1)
        axes_in_file = (order[2], order[1], order[0])
        data = np.transpose(data, [axes_in_file.index(a) for a in (3, 2, 1)])
    return check_map(data), (px if px > 0 else None)


def save_map(path: str | os.PathLike, volume: np.ndarray, pixel_size_A: float,
             overwrite: bool = False) -> Path:
    """Write a map as MRC (mode 2, float32), gzip-compressed if the name ends in ``.gz``.

    The file is written to a temporary name and renamed, so an interrupted write leaves nothing half
    written; an existing file is kept unless ``overwrite=True``.

    Parameters
    ----------
    path : str or os.PathLike
        The map file; missing folders are created.
    volume : numpy.ndarray
        ``(size, size, size)`` map, indexed ``[z, y, x]``.
    pixel_size_A : float
        Voxel size, Angstrom, positive.
    overwrite : bool, optional
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    vol = check_map(volume)
    if pixel_size_A <= 0:
        raise ValueError("pixel_size_A must be positive")
    with atomic_write(path, overwrite, make_parents=True) as tmp:
        with mrcfile.new(tmp, overwrite=True, compression="gzip" if path.suffix == ".gz" else None) as mrc:
            mrc.set_data(vol)
            mrc.voxel_size = pixel_size_A
            mrc.set_volume()
    return path


def resample(volume: np.ndarray, size: int) -> np.ndarray:
    """Fourier-crop (downsample) or zero-pad (upsample) a map to ``(size, size, size)`` voxels.

    The physical extent of the box is kept, so the pixel size becomes ``old_px * old_size / size``.
    Cropping is an ideal low-pass at the new Nyquist frequency (no aliasing); values are scaled so
    that densities (not sums) are preserved.

    Parameters
    ----------
    volume : numpy.ndarray
        ``(n, n, n)`` map.
    size : int
        New box size, voxels, at least 8.

    Returns
    -------
    numpy.ndarray
        ``(size, size, size)`` float32 (a copy when ``size`` is the map's).
    """
    vol = check_map(volume)
    if size == vol.shape[0]:
        return vol.copy()
    if size < 8:
        raise ValueError("size must be at least 8")
    return fourier_resample(vol, size, ndim=3)


def lowpass(volume: np.ndarray, pixel_size_A: float, resolution_A: float) -> np.ndarray:
    """Gaussian low-pass whose amplitude falls to 1/2 at ``1 / resolution_A`` (B = 4 ln2 res^2).

    Parameters
    ----------
    volume : numpy.ndarray
        ``(n, n, n)`` map.
    pixel_size_A : float
        Voxel size, Angstrom.
    resolution_A : float
        Resolution, Angstrom, at which the amplitude is halved.

    Returns
    -------
    numpy.ndarray
        ``(n, n, n)`` float32.
    """
    vol = check_map(volume)
    n = vol.shape[0]
    f = np.fft.fftfreq(n, d=pixel_size_A)
    k2 = f[:, None, None] ** 2 + f[None, :, None] ** 2 + f[None, None, :] ** 2
    b = 4 * np.log(2) * resolution_A**2
    return np.fft.ifftn(np.fft.fftn(vol) * np.exp(-b * k2 / 4)).real.astype(np.float32)


def phantom(size: int, seed: int, n_blobs: int | None = None, radius_fraction: float | None = None) -> np.ndarray:
    """A random pseudo-protein: Gaussian blobs along a random walk, inside a sphere.

    Used to diversify training data (shapes no real protein in ``data/`` has). Blob widths 1.2 to
    2.5 voxels, about 40 to 150 blobs, the particle's radius 25 to 40 % of the box (or
    ``radius_fraction``). Deterministic for a seed.

    Parameters
    ----------
    size : int
        Box size, voxels.
    seed : int
        Seed of the random shape.
    n_blobs : int, optional
        Number of blobs (default: drawn from 40 to 149).
    radius_fraction : float, optional
        Largest distance of a blob centre from the centre, as a fraction of the box (default: drawn
        from 0.25 to 0.40).

    Returns
    -------
    numpy.ndarray
        ``(size, size, size)`` float32, indexed ``[z, y, x]``, non-negative.
    """
    rng = np.random.default_rng(seed)
    n_blobs = n_blobs or int(rng.integers(40, 150))
    r_max = (radius_fraction or rng.uniform(0.25, 0.40)) * size
    pos = [np.zeros(3)]
    step = rng.uniform(1.0, 2.5)
    while len(pos) < n_blobs:
        nxt = pos[-1] + rng.normal(size=3) * step
        if np.linalg.norm(nxt) > r_max:  # bounce back towards the centre
            nxt = pos[int(rng.integers(len(pos)))] + rng.normal(size=3) * step
            if np.linalg.norm(nxt) > r_max:
                continue
        pos.append(nxt)
    pos = np.array(pos)
    pos -= pos.mean(0)
    c = size // 2
    z, y, x = np.ogrid[:size, :size, :size]
    vol = np.zeros((size, size, size), np.float32)
    for p_, s_, a_ in zip(pos, rng.uniform(1.2, 2.5, len(pos)), rng.uniform(0.5, 1.5, len(pos))):
        vol += (a_ * np.exp(-((x - c - p_[0]) ** 2 + (y - c - p_[1]) ** 2 + (z - c - p_[2]) ** 2)
                            / (2 * s_**2))).astype(np.float32)
    return vol


def diameter_voxels(volume: np.ndarray, threshold: float = 0.1) -> float:
    """Diameter of the particle in a map: twice the largest distance from the box centre of a voxel above
    ``threshold`` times the map's maximum, plus one voxel.

    Parameters
    ----------
    volume : numpy.ndarray
        A cubic map ``(n, n, n)``, any real dtype.
    threshold : float
        The share of the maximum a voxel must exceed to count as the particle's.

    Returns
    -------
    float
        The diameter, voxels.
    """
    idx = np.argwhere(volume > threshold * volume.max())
    centre = (np.array(volume.shape) - 1) / 2
    return float(2 * np.sqrt(((idx - centre) ** 2).sum(1)).max() + 1)


def fit_box(volume: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop or zero-pad a cubic map to ``size`` voxels a side (the pixel size is unchanged).

    Parameters
    ----------
    volume : numpy.ndarray
        A cubic map ``(n, n, n)``.
    size : int
        The new box, voxels.

    Returns
    -------
    numpy.ndarray
        ``(size, size, size)``, the dtype of ``volume``: a view of it when cropping, a new array when padding.
    """
    n = volume.shape[0]
    if n >= size:
        a = (n - size) // 2
        return volume[a:a + size, a:a + size, a:a + size]
    out = np.zeros((size,) * 3, volume.dtype)
    a = (size - n) // 2
    out[a:a + n, a:a + n, a:a + n] = volume
    return out


def read_model(path: str | os.PathLike, assembly: bool = True):
    """Read a PDB/mmCIF file (optionally gzipped) with gemmi, without hydrogens, waters, ligands.

    With ``assembly=True`` and an assembly record in the file, the first biological assembly is
    built (e.g. RuBisCO's L8S8 from its asymmetric unit).

    Parameters
    ----------
    path : str or os.PathLike
        The structure file.
    assembly : bool, optional
        Build the first biological assembly when the file describes one.

    Returns
    -------
    gemmi.Structure
        The structure; its first model holds the atoms (coordinates in Angstrom).

    Raises
    ------
    FileNotFoundError, ValueError
        A missing file; an unreadable one, or one without atoms.
    """
    import gemmi

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no structure file at {path}")
    try:
        st = gemmi.read_structure(str(path))
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable PDB/mmCIF file ({exc})") from exc
    st.setup_entities()
    if assembly and st.assemblies:
        model = gemmi.make_assembly(st.assemblies[0], st[0], gemmi.HowToNameCopiedChain.AddNumber)
        full = gemmi.Structure()
        full.add_model(model)
        full.setup_entities()
        st = full
    st.remove_hydrogens()
    st.remove_ligands_and_waters()
    if len(st) == 0 or st[0].count_atom_sites() == 0:
        raise ValueError(f"{path} holds no atoms")
    return st


def model_coordinates(st) -> np.ndarray:
    """Atom positions of the first model of a structure.

    Parameters
    ----------
    st : gemmi.Structure
        As :func:`read_model` returns it.

    Returns
    -------
    numpy.ndarray
        ``(n_atoms, 3)`` float64 ``(x, y, z)``, Angstrom.
    """
    return np.array([a.pos.tolist() for ch in st[0] for r in ch for a in r], dtype=np.float64)


def pixel_size_to_fill(st, size: int, fill: float = 2 / 3) -> float:
    """Pixel size at which the particle's diameter spans ``fill`` of a ``size`` box.

    The diameter is twice the largest distance of an atom from the centroid, so every projection of
    the particle fits in a centred disk of ``fill * size`` pixels.

    Parameters
    ----------
    st : gemmi.Structure
        As :func:`read_model` returns it.
    size : int
        Box size, pixels.
    fill : float, optional
        Fraction of the box the diameter should span.

    Returns
    -------
    float
        Pixel size, Angstrom.
    """
    xyz = model_coordinates(st)
    rmax = np.linalg.norm(xyz - xyz.mean(0), axis=1).max()
    return float(2 * rmax / (fill * size))


def model_to_map(path: str | os.PathLike, size: int, pixel_size_A: float, resolution_A: float,
                 oversample: int = 3, assembly: bool = True) -> np.ndarray:
    """Density map of an atomic model, centred on its centroid.

    The Coulomb potential is computed by gemmi from electron scattering factors
    (``DensityCalculatorE``) on a grid ``oversample`` times finer than the target, low-passed with
    :func:`lowpass` to ``resolution_A``, and Fourier-cropped to ``(size, size, size)`` (so no aliasing).

    Parameters
    ----------
    path : path to a PDB or mmCIF file (gzipped or not).
    size : int -- box size in voxels.
    pixel_size_A : float -- voxel size of the result, Angstrom.
    resolution_A : float -- resolution of the map (Gaussian filter at half amplitude), Angstrom.

    Returns
    -------
    numpy.ndarray (size, size, size), float32, indexed [z, y, x].
    """
    import gemmi

    st = read_model(path, assembly=assembly)
    if oversample < 1 or (size * oversample) % 2:
        raise ValueError("size * oversample must be even")
    fine_n, fine_px = size * oversample, pixel_size_A / oversample
    box = fine_n * fine_px
    centre = model_coordinates(st).mean(0)
    st[0].transform_pos_and_adp(gemmi.Transform(gemmi.Mat33(), gemmi.Vec3(*(box / 2 - centre))))
    st.cell = gemmi.UnitCell(box, box, box, 90, 90, 90)
    st.spacegroup_hm = "P 1"
    dc = gemmi.DensityCalculatorE()
    dc.d_min = 2 * fine_px
    dc.grid.setup_from(st)
    dc.grid.set_size(fine_n, fine_n, fine_n)
    # a small blur keeps the atoms smooth on the fine grid (amplitude < 1 % at its Nyquist)
    dc.blur = 4.6 * 4 * fine_px**2
    dc.add_model_density_to_grid(st[0])
    dc.grid.symmetrize_sum()
    fine = np.array(dc.grid, copy=True).transpose(2, 1, 0)  # gemmi [x, y, z] -> [z, y, x]
    fine = lowpass(fine, fine_px, resolution_A)
    # gemmi's grid point i sits at i * fine_px, so the centroid (at box / 2) is voxel fine_n // 2
    # (fine_n is even), which Fourier cropping maps to voxel size // 2: the convention of this package
    vol = resample(fine, size)
    # values below 1e-5 of the peak are FFT round-off; zeroing them lets the map compress
    vol[np.abs(vol) < 1e-5 * np.abs(vol).max()] = 0
    return vol
