"""Checks and transforms of image stacks that every stage uses.

Images are ``float32`` NumPy arrays ``(n, size, size)``; :func:`check_images` is the one gate every
function passes its input through. The transforms here (normalisation, Fourier resampling, in-plane
rotation, rotation-invariant features, histogram equalisation) know nothing of maps, networks or clusters.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from skimage import exposure


def check_images(images: np.ndarray, name: str = "images", allow_empty: bool = False) -> np.ndarray:
    """Validate a stack of square images and return it as float32 ``(n, size, size)``.

    A single image ``(size, size)`` is promoted to a stack of one.

    Parameters
    ----------
    images : array_like
        ``(n, size, size)`` or ``(size, size)``, any real dtype.
    name : str, optional
        What the images are, for the error messages (e.g. ``"clean"``).
    allow_empty : bool, optional
        Accept a stack of 0 images.

    Returns
    -------
    numpy.ndarray
        ``(n, size, size)`` float32 (the input itself when it already is one).

    Raises
    ------
    ValueError
        Wrong number of axes, non-square images, images under 2 pixels, an empty stack, or NaN/infinite
        pixels (with the indices of the first images holding them).
    """
    a = np.asarray(images)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"{name} must be a stack of shape (n, size, size), got shape {a.shape}")
    if a.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (0 images): nothing to process")
    if a.shape[1] != a.shape[2]:
        raise ValueError(f"{name} must hold square images, got {a.shape[1]}x{a.shape[2]}: "
                         "crop or pad them to a square box first")
    if a.shape[1] < 2:
        raise ValueError(f"{name} has images of {a.shape[1]} pixel(s): too small")
    a = a.astype(np.float32, copy=False)
    bad = ~np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)
    if bad.any():
        first = np.flatnonzero(bad)[:5].tolist()
        raise ValueError(f"{name} holds NaN or infinite pixels in {int(bad.sum())} image(s) "
                         f"(first: {first}); remove or repair them first")
    return a


def fourier_resample(a: np.ndarray, size: int, ndim: int) -> np.ndarray:
    """Fourier-crop or zero-pad the last ``ndim`` axes of ``a`` (all of length n) to ``size``.

    Keeps the physical extent (the sampling interval becomes ``old * n / size``); cropping is an
    ideal low-pass at the new Nyquist frequency. Values keep their scale (densities, not sums).

    Parameters
    ----------
    a : array_like
        ``(..., n, n)`` images or ``(..., n, n, n)`` maps, real.
    size : int
        New length of each of the last ``ndim`` axes, pixels (voxels).
    ndim : int
        Number of trailing axes to resample: 2 for images, 3 for maps.

    Returns
    -------
    numpy.ndarray
        float32, shape ``a.shape[:-ndim] + (size,) * ndim``.
    """
    x = np.asarray(a, dtype=np.float64)
    axes = tuple(range(x.ndim - ndim, x.ndim))
    n = x.shape[-1]
    if size == n:
        return x.astype(np.float32)
    ft = np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(x, axes=axes), axes=axes), axes=axes)
    m = min(n, size)
    src = tuple(slice(n // 2 - m // 2, n // 2 - m // 2 + m) for _ in axes)
    dst = tuple(slice(size // 2 - m // 2, size // 2 - m // 2 + m) for _ in axes)
    out = np.zeros(x.shape[:-ndim] + (size,) * ndim, np.complex128)
    out[(Ellipsis,) + dst] = ft[(Ellipsis,) + src]
    res = np.fft.fftshift(np.fft.ifftn(np.fft.ifftshift(out, axes=axes), axes=axes), axes=axes).real
    return (res * (size / n) ** ndim).astype(np.float32)


def normalise(images) -> np.ndarray:
    """Each image to zero mean and unit standard deviation.

    Parameters
    ----------
    images : array_like
        ``(n, size, size)`` or one ``(size, size)`` image (checked by :func:`check_images`).

    Returns
    -------
    numpy.ndarray
        ``(n, size, size)`` float32; a constant image becomes zeros.
    """
    x = check_images(images).astype(np.float64)
    x = x - x.mean(axis=(1, 2), keepdims=True)
    s = x.std(axis=(1, 2), keepdims=True)
    return (x / np.where(s > 0, s, 1)).astype(np.float32)


def resample_images(images, size: int) -> np.ndarray:
    """Fourier-crop (downsample) or zero-pad (upsample) images to ``size`` x ``size``.

    The physical extent of the box is kept, so the pixel size becomes ``px * old_size / size``;
    cropping is an ideal low-pass at the new Nyquist frequency (no aliasing). Pixel values keep their
    scale (a density, not a sum).

    Parameters
    ----------
    images : array_like
        ``(n, old_size, old_size)`` or one image.
    size : int
        New box size, pixels, at least 2.

    Returns
    -------
    numpy.ndarray
        ``(n, size, size)`` float32.
    """
    x = check_images(images)
    if size < 2:
        raise ValueError("size must be >= 2")
    return fourier_resample(x, size, ndim=2)


def normalize_background(images, radius_px: float | None = None) -> np.ndarray:
    """Zero mean and unit standard deviation *of the background*, per image.

    Parameters
    ----------
    images : array_like
        ``(n, size, size)`` or one image.
    radius_px : float, optional
        Pixels farther than this from the centre are the background; default 0.9 times half the box.

    Returns
    -------
    numpy.ndarray
        ``(n, size, size)`` float32.

    Raises
    ------
    ValueError
        When fewer than 10 pixels lie outside ``radius_px``.
    """
    x = check_images(images).astype(np.float64)
    n = x.shape[-1]
    r = 0.9 * n / 2 if radius_px is None else radius_px
    yy, xx = np.indices((n, n)) - n // 2
    bg = np.hypot(xx, yy) > r
    if bg.sum() < 10:
        raise ValueError(f"radius {r} px leaves too little background in a {n} px box")
    m = x[:, bg].mean(axis=1)[:, None, None]
    s = x[:, bg].std(axis=1)[:, None, None]
    return ((x - m) / np.where(s > 0, s, 1)).astype(np.float32)


def rotate_images(images: torch.Tensor, angles_deg: torch.Tensor) -> torch.Tensor:
    """Rotate images about their centre pixel (``size // 2``), bilinear, zero fill.

    Parameters
    ----------
    images : torch.Tensor
        ``(n, size, size)`` floating point.
    angles_deg : torch.Tensor
        ``(n,)`` angle of each image, degrees; positive turns the image counter-clockwise as shown
        with row 0 at the top (``imshow``'s default).

    Returns
    -------
    torch.Tensor
        ``(n, size, size)``, the dtype and device of ``images``.
    """
    n, s = images.shape[0], images.shape[-1]
    t = torch.deg2rad(angles_deg.to(images.dtype))
    c, si = torch.cos(t), torch.sin(t)
    theta = torch.zeros(n, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = c, -si, si, c
    # align_corners=False maps pixel centres; shift so that pixel s//2 is the centre for even s
    off = (1.0 / s) if s % 2 == 0 else 0.0
    theta[:, 0, 2] = off * (1 - c) + off * si
    theta[:, 1, 2] = off * (1 - c) - off * si
    grid = F.affine_grid(theta, (n, 1, s, s), align_corners=False)
    return F.grid_sample(images[:, None], grid, align_corners=False, padding_mode="zeros")[:, 0]


def equalize_hist(images, nbins: int = 256) -> np.ndarray:
    """Histogram-equalise every image of a stack.

    Parameters
    ----------
    images : array_like
        ``(n, size, size)`` or one image.
    nbins : int, optional
        Number of grey-level bins.

    Returns
    -------
    numpy.ndarray
        ``(n, size, size)`` float32 in [0, 1]; a constant image becomes zeros.
    """
    x = check_images(images)
    out = np.empty_like(x)
    for i, img in enumerate(x.astype(np.float64)):  # float64: tiny grey ranges still give 256 bins
        if np.ptp(img) == 0:
            out[i] = 0.0
            continue
        try:
            out[i] = exposure.equalize_hist(img, nbins=nbins)
        except ValueError:  # a range too small even for float64 bins: equalise by rank instead
            ranks = np.argsort(np.argsort(img.ravel(), kind="stable"), kind="stable")
            out[i] = ((ranks + 1) / ranks.size).reshape(img.shape)
    return out


def minmax(images) -> np.ndarray:
    """Scale every image linearly to [0, 1].

    Parameters
    ----------
    images : array_like
        ``(n, size, size)`` or one image.

    Returns
    -------
    numpy.ndarray
        ``(n, size, size)`` float32 in [0, 1]; a constant image becomes zeros.
    """
    x = check_images(images)
    lo = x.min(axis=(1, 2), keepdims=True)
    rng = np.ptp(x, axis=(1, 2), keepdims=True)
    return np.where(rng > 0, (x - lo) / np.where(rng > 0, rng, 1), 0).astype(np.float32)


def evenly_spaced(n: int, m: int) -> np.ndarray:
    """Sorted indices of ``min(n, m)`` items spread evenly over ``range(n)``, first and last included.

    Used to pick a subset of a stack in which every view is represented (images of one view are
    usually contiguous), or blocks spread over a file.

    Parameters
    ----------
    n : int
        Number of items to pick from.
    m : int
        Number wanted (at least one is returned).

    Returns
    -------
    numpy.ndarray
        ``(min(n, m),)`` int indices, increasing.

    Examples
    --------
    >>> evenly_spaced(10, 4).tolist()
    [0, 3, 6, 9]
    >>> evenly_spaced(3, 10).tolist()
    [0, 1, 2]
    """
    return np.unique(np.linspace(0, n - 1, max(1, min(n, m))).astype(int))


def particle_polarity(images, radius_fraction: float = 0.25) -> tuple[str, float]:
    """Whether centred particles are brighter or darker than their background.

    Compares, image by image, the mean inside a central disk (radius ``radius_fraction`` of the box)
    with the mean outside a circle of 0.4 of the box, and averages over the images: simulated
    projections (and images after phase flipping with positive contrast) are bright, raw cryo-EM
    particles usually dark.

    Parameters
    ----------
    images : array_like
        ``(n, size, size)`` or one image, particles centred.
    radius_fraction : float, optional
        Radius of the central disk as a fraction of the box size.

    Returns
    -------
    tuple of (str, float)
        ``"bright"`` or ``"dark"``, and the mean difference (disk minus background) in units of the
        background's standard deviation.

    Examples
    --------
    >>> x = np.zeros((3, 32, 32), np.float32); x[:, 12:20, 12:20] = -1
    >>> particle_polarity(x + np.random.default_rng(0).normal(size=x.shape))[0]
    'dark'
    """
    x = check_images(images).astype(np.float64)
    size = x.shape[-1]
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    r = np.hypot(yy, xx)
    inner, outer = r <= radius_fraction * size, r >= 0.4 * size
    diff = x[:, inner].mean(1) - x[:, outer].mean(1)
    sd = float(np.mean(x[:, outer].std(1))) or 1.0
    score = float(diff.mean() / sd)
    return ("dark" if score < 0 else "bright"), score


def needs_inversion(images, invert: bool | None = None) -> tuple[bool, str]:
    """Whether ``images`` must be negated for a model trained on bright particles, and their polarity.

    Parameters
    ----------
    images : array_like
        ``(n, size, size)`` or one image (a sample of the stack is enough).
    invert : bool, optional
        ``True`` forces the negation, ``False`` forbids it; ``None`` decides from
        :func:`particle_polarity` (dark particles are negated).

    Returns
    -------
    tuple of (bool, str)
        Whether to negate, and the detected polarity (``"bright"`` or ``"dark"``), whatever ``invert`` says.
    """
    polarity, _ = particle_polarity(images)
    return (polarity == "dark" if invert is None else bool(invert)), polarity


def _polar_grid(size: int, n_radii: int, n_angles: int, full_circle: bool, r_min: float = 1.0) -> torch.Tensor:
    r = torch.linspace(r_min, size / 2 - 1, n_radii)
    t = torch.linspace(0, (2 if full_circle else 1) * np.pi, n_angles + 1)[:-1]
    rr, tt = torch.meshgrid(r, t, indexing="ij")
    c = size // 2
    # grid_sample coordinates (x, y) in [-1, 1] with align_corners=True: pixel i -> 2 i / (size - 1) - 1
    gx = (c + rr * torch.cos(tt)) / (size - 1) * 2 - 1
    gy = (c + rr * torch.sin(tt)) / (size - 1) * 2 - 1
    return torch.stack([gx, gy], -1)


def rotation_invariant_features(images, n_radii: int | None = None, n_angles: int = 64,
                                n_harmonics: int = 12) -> np.ndarray:
    """Features invariant to in-plane rotation and shift.

    ``|FFT2(image)|`` does not change when the image shifts; on a polar grid an in-plane rotation
    becomes a cyclic shift along the angle, which ``|FFT over the angle|`` ignores. What is lost: the
    phases (so mirror images and some fine detail look alike). Invariance is approximate: resampling
    the Fourier grid on circles is inexact, so rotated copies of an image land near, not on, each
    other. Good enough to start :func:`~cdae_lite.cluster.align.align_classify`, weak on its own at low SNR.

    Parameters
    ----------
    images : array_like
        ``(n, size, size)`` or one image (normalised here).
    n_radii : int, optional
        Rings of the polar grid in Fourier space, from 3 pixels to ``size / 2 - 1``; default ``size // 4``.
    n_angles : int, optional
        Samples per ring over half a circle (``|F|`` is centrosymmetric).
    n_harmonics : int, optional
        Angular harmonics kept per ring (those above ``pi r / 2`` on a ring of radius ``r`` are zeroed).

    Returns
    -------
    numpy.ndarray
        ``(n, n_radii * n_harmonics)`` float32.
    """
    x = torch.from_numpy(normalise(images))
    n, s = x.shape[0], x.shape[-1]
    n_radii = n_radii or s // 4
    r_min = 3.0  # nearer the centre a ring passes through too few Fourier pixels to be resampled well
    amp = torch.fft.fftshift(torch.fft.fft2(x), dim=(-2, -1)).abs()
    grid = _polar_grid(s, n_radii, n_angles, full_circle=False, r_min=r_min)[None].expand(n, -1, -1, -1)
    polar = torch.nn.functional.grid_sample(amp[:, None], grid, align_corners=True)[:, 0]
    inv = torch.fft.rfft(polar, dim=-1).abs()[..., :n_harmonics]
    # a ring of radius r holds about 2 pi r Fourier pixels, half of them independent (|F| is
    # centrosymmetric): harmonics above pi r / 2 of it are resampling artefacts, not signal
    radii = torch.linspace(r_min, s / 2 - 1, n_radii)
    keep = torch.arange(inv.shape[-1])[None, :] <= (np.pi * radii[:, None] / 2)
    # square roots keep the strong harmonics dominant; a logarithm would inflate the weak ones, whose
    # relative errors after resampling are large
    return torch.sqrt(inv * keep).reshape(n, -1).numpy().astype(np.float32)
