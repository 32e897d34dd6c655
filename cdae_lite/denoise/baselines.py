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

import logging
import os
from dataclasses import dataclass, field

import numpy as np

from cdae_lite.images import check_images
from cdae_lite.runtime import progress_enabled

logger = logging.getLogger(__name__)


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
    """Base class: subclasses implement ``_one(image, sigma)`` or override ``denoise``."""

    name = "baseline"

    def params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def fit(self, *args, **kwargs) -> "Baseline":
        return self

    def denoise(self, images, sigma=None) -> np.ndarray:
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
    """Gaussian low-pass of width ``sigma_px`` pixels."""

    name = "Gaussian"

    def __init__(self, sigma_px: float = 1.5):
        self.sigma_px = float(sigma_px)

    def denoise(self, images, sigma=None) -> np.ndarray:
        from scipy.ndimage import gaussian_filter

        x = check_images(images)
        return gaussian_filter(x, sigma=(0, self.sigma_px, self.sigma_px), mode="reflect").astype(np.float32)


class TV(Baseline):
    """Total-variation denoising (Chambolle); weight = ``weight_factor`` x noise sigma."""

    name = "TV"

    def __init__(self, weight_factor: float = 0.5, n_jobs: int = 1):
        self.weight_factor = float(weight_factor)
        self.n_jobs = n_jobs

    def _one(self, img, sigma):
        from skimage.restoration import denoise_tv_chambolle

        return denoise_tv_chambolle(img, weight=self.weight_factor * sigma)


class Wavelet(Baseline):
    """Wavelet soft thresholding with BayesShrink's per-subband thresholds."""

    name = "Wavelet"

    def __init__(self, wavelet: str = "db2", n_jobs: int = 1):
        self.wavelet = wavelet
        self.n_jobs = n_jobs

    def _one(self, img, sigma):
        from skimage.restoration import denoise_wavelet

        return denoise_wavelet(img, sigma=sigma, wavelet=self.wavelet, mode="soft", method="BayesShrink",
                               rescale_sigma=True)


class NLMeans(Baseline):
    """Non-local means (Buades et al.); filter strength h = ``h_factor`` x noise sigma."""

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
    training protein like every other classical filter's parameter (:data:`TUNING_GRIDS`).
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
    """A trained torch model (DnCNN, Noise2Void U-Net, single DAE, CDAE) as a denoiser."""

    def __init__(self, model, name: str = "learned", device=None, batch_size: int = 256):
        self.model, self.name, self.device, self.batch_size = model, name, device, batch_size

    def params(self) -> dict:
        from cdae_lite.denoise.models import n_parameters

        return {"parameters": n_parameters(self.model)}

    def denoise(self, images, sigma=None) -> np.ndarray:
        from cdae_lite.denoise.inference import predict

        return predict(self.model, images, batch_size=self.batch_size, device=self.device)


CLASSICAL = {"Gaussian": Gaussian, "Wiener": Wiener, "TV": TV, "Wavelet": Wavelet, "NL-means": NLMeans, "BM3D": BM3D}

#: Parameter grids searched on the *training* protein (never on the test proteins' truth). Each numeric
#: grid reaches past the optimum on both sides in the quick (32 px) and cpu (64 px) profiles at SNR 0.1,
#: so that the value chosen is a maximum, not the edge of what was tried (:func:`at_grid_edge`).
TUNING_GRIDS = {
    "Gaussian": {"sigma_px": [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0]},
    "TV": {"weight_factor": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]},
    "Wavelet": {"wavelet": ["db1", "db2", "sym4", "coif1"]},
    "NL-means": {"h_factor": [0.4, 0.6, 0.8, 1.0, 1.2, 1.6, 2.0, 2.5, 3.0, 4.0]},
    "BM3D": {"sigma_factor": [0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0]},
}


def tune(name: str, noisy, clean, sigma=None, grid: dict | None = None, n_jobs: int = -1):
    """Pick a classical method's parameter by mean PSNR on (noisy, clean) pairs.

    Returns ``(best denoiser, table)`` where the table lists every value tried and its PSNR.
    Use the training protein's pairs: tuning on the test truth would be cheating. A best value at the
    edge of a numeric grid (:func:`at_grid_edge`) is logged as a warning: widen the grid.
    """
    import pandas as pd

    from cdae_lite.metrics import psnr

    grid = TUNING_GRIDS[name] if grid is None else grid
    if len(grid) != 1:
        raise ValueError("tune searches one parameter at a time")
    (param, values), = grid.items()
    rows, best = [], None
    for v in values:
        kwargs = {param: v}
        if name in ("TV", "Wavelet", "NL-means", "BM3D"):
            kwargs["n_jobs"] = n_jobs
        d = CLASSICAL[name](**kwargs)
        p = float(psnr(d.denoise(noisy, sigma), clean).mean())
        rows.append({"method": name, "parameter": param, "value": v, "psnr_mean": p})
        if best is None or p > best[0]:
            best = (p, d)
    table = pd.DataFrame(rows)
    if len(values) > 1 and at_grid_edge(table):
        logger.warning("%s: the best %s (%s) is at the edge of the grid %s; the optimum may lie outside it",
                       name, param, getattr(best[1], param), list(values))
    return best[1], table


def at_grid_edge(table) -> dict:
    """Which tuned parameters were chosen at the edge of their grid.

    Parameters
    ----------
    table : DataFrame or list of dict -- a tuning table (:func:`tune`): ``method``, ``parameter``,
        ``value``, ``psnr_mean``; several methods (and a ``preset`` column) may be stacked.

    Returns
    -------
    dict
        ``{(method, parameter[, preset]): chosen value}`` for every numeric parameter whose best value
        is the smallest or the largest one tried (so the optimum may lie outside the grid); empty when
        every optimum is interior. Categorical parameters (the wavelet's name) have no edge.

    Examples
    --------
    >>> rows = [{"method": "TV", "parameter": "w", "value": v, "psnr_mean": p} for v, p in ((1, 3.0), (2, 4.0))]
    >>> at_grid_edge(rows)
    {('TV', 'w'): 2}
    >>> at_grid_edge(rows + [{"method": "TV", "parameter": "w", "value": 4, "psnr_mean": 3.5}])
    {}
    """
    import numbers

    import pandas as pd

    t = pd.DataFrame(table)
    keys = ["method", "parameter", *(["preset"] if "preset" in t else [])]
    edges = {}
    for key, g in t.groupby(keys, sort=False):
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in g["value"]):
            continue
        values = sorted(g["value"])
        best = g.loc[g["psnr_mean"].idxmax(), "value"]
        if best in (values[0], values[-1]):
            edges[tuple(key)] = best.item() if hasattr(best, "item") else best
    return edges
