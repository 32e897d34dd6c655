"""Denoisers to compare CDAE with, all behind one interface.

Every denoiser has ``denoise(images, sigma=None) -> images``: a stack ``(n, size, size)`` in, a float32
stack of the same shape out, in the same units. ``sigma`` is the noise standard deviation of each
image (``(n,)`` or a scalar) when it is known, as it is for simulated data; methods that need it
estimate it otherwise (``skimage.restoration.estimate_sigma``, a wavelet-based MAD estimator).
Learned denoisers also have ``fit(...)``.

What each method assumes about the noise:

==============  ==================================================================================
``Gaussian``    signal smoother than the noise: a fixed low-pass (one width for all images)
``Wiener``      stationary signal and white noise with known spectra: the best *linear* filter;
                the signal's power spectrum is estimated from the stack itself; with CTF
                parameters it knows the signal vanishes at the CTF's zeros
``TV``          piecewise-constant images (Chambolle's total-variation minimisation)
``Wavelet``     sparse in a wavelet basis (BayesShrink soft thresholding)
``NLMeans``     patches repeat within an image (non-local means)
``BM3D``        patches repeat, and groups of similar patches are sparse in a 3D transform
``Learned``     a network trained on examples (DnCNN, Noise2Void, the paper's DAE and CDAE)
==============  ==================================================================================

CPU-heavy methods (BM3D, NL-means) run in parallel over images with joblib.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from cdae_lite.images import check_images
from cdae_lite.runtime import progress_enabled


def _sigmas(x: np.ndarray, sigma) -> np.ndarray:
    from skimage.restoration import estimate_sigma

    if sigma is None:
        return np.array([float(estimate_sigma(img)) for img in x])
    s = np.broadcast_to(np.asarray(sigma, np.float64), (len(x),)).copy()
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError("sigma must be finite and >= 0")
    return s


def _parallel(fn, x: np.ndarray, sig: np.ndarray, n_jobs: int, desc: str) -> np.ndarray:
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    n_jobs = (os.cpu_count() or 1) if n_jobs in (-1, None) else n_jobs
    items = tqdm(range(len(x)), desc=desc, disable=not progress_enabled(), leave=False)
    if n_jobs == 1 or len(x) < 4:
        out = [fn(x[i], sig[i]) for i in items]
    else:
        out = Parallel(n_jobs=n_jobs)(delayed(fn)(x[i], sig[i]) for i in items)
    return np.stack(out).astype(np.float32)


class Baseline:
    """The interface of every denoiser CDAE is compared with: ``denoise(images, sigma=None)``.

    Subclasses implement ``_one(image, sigma)`` (one image at a time, in parallel over images) or
    override :meth:`denoise`.
    """

    name = "baseline"

    def params(self) -> dict:
        """The denoiser's settings, ``{name: value}`` (for tables)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def fit(self, *args, **kwargs) -> "Baseline":
        """Nothing to learn for a classical filter; returns the denoiser itself."""
        return self

    def denoise(self, images, sigma=None) -> np.ndarray:
        """Denoise a stack.

        Parameters
        ----------
        images : array (n, size, size)
            The noisy images, in any units.
        sigma : float or array (n,), optional
            Each image's noise standard deviation in those units (default: estimated, where needed).

        Returns
        -------
        numpy.ndarray
            float32 (n, size, size), in the images' units.
        """
        x = check_images(images)
        return _parallel(self._one, x, _sigmas(x, sigma), getattr(self, "n_jobs", 1), self.name)

    def _one(self, img: np.ndarray, sigma: float) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params().items())})"


class Identity(Baseline):
    """No denoising: the raw images (the baseline of every table)."""

    name = "raw"

    def denoise(self, images, sigma=None) -> np.ndarray:
        return check_images(images).copy()


class Gaussian(Baseline):
    """Gaussian low-pass filter.

    Parameters
    ----------
    sigma_px : float
        The Gaussian's standard deviation, in pixels.
    """

    name = "Gaussian"

    def __init__(self, sigma_px: float = 1.5):
        self.sigma_px = float(sigma_px)

    def denoise(self, images, sigma=None) -> np.ndarray:
        from scipy.ndimage import gaussian_filter

        x = check_images(images)
        return gaussian_filter(x, sigma=(0, self.sigma_px, self.sigma_px), mode="reflect").astype(np.float32)


class TV(Baseline):
    """Total-variation denoising (Chambolle).

    Parameters
    ----------
    weight_factor : float
        The TV weight in units of the image's noise sigma.
    n_jobs : int
        Images denoised in parallel (-1: every core).
    """

    name = "TV"

    def __init__(self, weight_factor: float = 0.5, n_jobs: int = 1):
        self.weight_factor = float(weight_factor)
        self.n_jobs = n_jobs

    def _one(self, img, sigma):
        from skimage.restoration import denoise_tv_chambolle

        return denoise_tv_chambolle(img, weight=self.weight_factor * sigma)


class Wavelet(Baseline):
    """Wavelet soft thresholding with BayesShrink's per-subband thresholds.

    Parameters
    ----------
    wavelet : str
        A PyWavelets name (``"db2"``, ``"sym4"``, ...).
    n_jobs : int
        Images denoised in parallel (-1: every core).
    """

    name = "Wavelet"

    def __init__(self, wavelet: str = "db2", n_jobs: int = 1):
        self.wavelet = wavelet
        self.n_jobs = n_jobs

    def _one(self, img, sigma):
        from skimage.restoration import denoise_wavelet

        return denoise_wavelet(img, sigma=sigma, wavelet=self.wavelet, mode="soft", method="BayesShrink",
                               rescale_sigma=True)


class NLMeans(Baseline):
    """Non-local means (Buades et al.).

    Parameters
    ----------
    h_factor : float
        The filter strength ``h`` in units of the image's noise sigma.
    patch_size, patch_distance : int
        Patch side and search radius, in pixels.
    n_jobs : int
        Images denoised in parallel (-1: every core).
    """

    name = "NL-means"

    def __init__(self, h_factor: float = 0.8, patch_size: int = 5, patch_distance: int = 6, n_jobs: int = -1):
        self.h_factor, self.patch_size, self.patch_distance = float(h_factor), int(patch_size), int(patch_distance)
        self.n_jobs = n_jobs

    def _one(self, img, sigma):
        from skimage.restoration import denoise_nl_means

        return denoise_nl_means(img, h=self.h_factor * sigma, sigma=sigma, fast_mode=True,
                                patch_size=self.patch_size, patch_distance=self.patch_distance)


class BM3D(Baseline):
    """BM3D (Dabov et al. 2007) from the ``bm3d`` package, with the known or estimated noise sigma.

    ``sigma_factor`` multiplies the sigma BM3D is given: 1 is the textbook setting; it is tuned on the
    training protein like every other classical filter's parameter
    (:data:`~cdae_lite.denoise.tuning.TUNING_GRIDS`).

    Parameters
    ----------
    n_jobs : int
        Images denoised in parallel (-1: every core).
    sigma_factor : float
        Factor on the noise sigma BM3D is given (> 0).

    Raises
    ------
    ValueError
        If ``sigma_factor <= 0``.
    """

    name = "BM3D"

    def __init__(self, n_jobs: int = -1, sigma_factor: float = 1.0):
        if not sigma_factor > 0:
            raise ValueError("sigma_factor must be > 0")
        self.n_jobs = n_jobs
        self.sigma_factor = sigma_factor

    def _one(self, img, sigma):
        import bm3d

        # one thread per call: the library's default (all cores) burns a second core for no gain on a
        # small image (0.6 s of CPU for 0.3 s of wall time at 32 px); images run in parallel instead
        profile = bm3d.BM3DProfile()
        profile.num_threads = 1
        return bm3d.bm3d(img.astype(np.float64), sigma_psd=max(float(sigma) * self.sigma_factor, 1e-6),
                         profile=profile)


@dataclass
class Wiener(Baseline):
    """The best linear filter for a stack, with the signal's power spectrum estimated from the stack.

    The mean power spectrum of the noisy images minus the white-noise level gives the signal's mean
    power per frequency ring ``S(k)``; each image is filtered by ``S / (S + N)``. With CTF parameters
    (``defocus_u_A`` ... per image), the signal power of image ``i`` is ``CTF_i(k)^2 S0(k)``, so the
    filter suppresses frequencies near each image's CTF zeros; ``ctf_correct=True`` returns the
    estimate of the projection *before* the CTF (``CTF S0 / (CTF^2 S0 + N)``) instead.

    Attributes
    ----------
    name : str
        The label in tables.
    ctf_correct : bool
        Return the estimate before the CTF (CTF-aware filters only).
    pixel_size_A : float or None
        Pixel size in Å (needed with ``ctf``).
    ctf : dict
        Per-image CTF parameters (``defocus_u_A``, ``defocus_v_A``, ``defocus_angle_deg`` as arrays (n,),
        and scalar :class:`~cdae_lite.simulation.ctf.CTFParams` fields); empty: a plain Wiener filter.
    """

    name: str = "Wiener"
    ctf_correct: bool = False
    pixel_size_A: float | None = None
    ctf: dict = field(default_factory=dict)

    def params(self) -> dict:
        return {"ctf_correct": self.ctf_correct, "ctf_aware": bool(self.ctf)}

    def denoise(self, images, sigma=None) -> np.ndarray:
        from cdae_lite.simulation.ctf import CTFParams, ctf_2d

        x = check_images(images).astype(np.float64)
        n, s = x.shape[0], x.shape[-1]
        sig = _sigmas(x.astype(np.float32), sigma)
        ft = np.fft.fftshift(np.fft.fft2(x), axes=(-2, -1))
        power = np.abs(ft) ** 2
        noise_power = (sig**2 * s * s)[:, None, None]  # white noise: flat, sigma^2 * pixels
        y, xx = np.indices((s, s)) - s // 2
        ring = np.round(np.hypot(xx, y)).astype(int)
        nr = ring.max() + 1
        if self.ctf:
            if self.pixel_size_A is None:
                raise ValueError("a CTF-aware Wiener filter needs pixel_size_A")
            base = CTFParams(**{k: v for k, v in self.ctf.items() if k in CTFParams.__dataclass_fields__
                                and np.ndim(v) == 0})
            c = ctf_2d(s, self.pixel_size_A, self.ctf.get("defocus_u_A", base.defocus_u_A),
                       self.ctf.get("defocus_v_A", self.ctf.get("defocus_u_A", base.defocus_v_A)),
                       self.ctf.get("defocus_angle_deg", base.defocus_angle_deg), base.voltage_kV, base.cs_mm,
                       base.amplitude_contrast, base.b_factor_A2).numpy().astype(np.float64)
            c = np.broadcast_to(c, x.shape)
        else:
            c = np.ones_like(x)
        # signal power without the CTF, per ring: sum over images of (P - N) / sum of CTF^2
        num = np.bincount(ring.ravel(), (power - noise_power).sum(0).ravel(), nr)
        den = np.bincount(ring.ravel(), (c**2).sum(0).ravel(), nr)
        s0 = np.clip(num / np.maximum(den, 1e-12), 0, None)[ring]
        sig_power = c**2 * s0[None]
        if self.ctf_correct:
            h = c * s0[None] / (sig_power + noise_power)
        else:
            h = sig_power / (sig_power + noise_power)
        out = np.fft.ifft2(np.fft.ifftshift(ft * h, axes=(-2, -1))).real
        return out.astype(np.float32)


class Learned(Baseline):
    """A trained torch model (DnCNN, Noise2Void U-Net, single DAE, CDAE) as a denoiser.

    Parameters
    ----------
    model : torch.nn.Module
        A model in the units of its input (:mod:`cdae_lite.denoise.models`); ``sigma`` is ignored.
    name : str
        The label in tables.
    device : str or torch.device, optional
        Where it runs.
    batch_size : int
        Images per forward pass.
    """

    def __init__(self, model, name: str = "learned", device=None, batch_size: int = 256):
        self.model, self.name, self.device, self.batch_size = model, name, device, batch_size

    def params(self) -> dict:
        from cdae_lite.denoise.models import n_parameters

        return {"parameters": n_parameters(self.model)}

    def denoise(self, images, sigma=None) -> np.ndarray:
        from cdae_lite.denoise.inference import predict

        return predict(self.model, images, batch_size=self.batch_size, device=self.device)


CLASSICAL = {"Gaussian": Gaussian, "Wiener": Wiener, "TV": TV, "Wavelet": Wavelet, "NL-means": NLMeans, "BM3D": BM3D}
