"""Maximum-likelihood 2D classification over classes, in-plane rotations and shifts (Sigworth 1998;
Scheres et al. 2005; RELION's 2D classification), and the ceiling that the true views give.

The model of image ``i``: its Fourier transform is ``X_i = C_i * S_t(R_a(A_k)) + N_i``: class
reference ``A_k`` rotated in plane by ``a`` degrees, shifted by ``t`` pixels, multiplied by the
image's own CTF ``C_i``, plus white Gaussian noise of variance ``sigma2`` per Fourier coefficient
(orthonormal FFT, so per pixel too). Expectation-maximisation over ``(k, a, t)``:

* E-step: the posterior of every (class, rotation, shift) of every image, from the log-likelihood
  ``(Re<C_i S_t R_a A_k, X_i> - |C_i R_a A_k|^2 / 2) / sigma2`` plus the class prior. The
  correlations over all shifts and all rotated references are matrix products in Fourier space,
  batched so that memory is bounded (``max_elements`` scores at a time).
* M-step: each reference is the CTF-weighted (Wiener) average of its rotated-back, shifted-back
  images, ``sum_i w C_i X_i / (sum_i w C_i^2 + sigma2 / tau2)``, with ``tau2`` the reference's own
  signal power per frequency ring (RELION's regularisation, ``tau2_fudge``), then masked by a soft
  circle. ``tau2`` is the power of the unregularised average minus its noise, counted either as if
  every posterior weight were a whole image or with the weights squared (the noise a soft-weighted
  average holds); by default EM runs with each and also from a coarse pass (low frequencies first), and
  the likeliest run is kept (``tau2_noise``, ``coarse_start``); ``sigma2`` is the expected residual
  power (and, with ``update_priors``, the class priors the
  mean posteriors).
* A class left (nearly) empty takes the worse-fitting half of the largest class, the usual remedy for
  two views merged into one class (not in the last 5 iterations).
* The mask: EM runs with the references masked at the particle's radius (estimated from the stack), which
  keeps the background's noise out of the search; then two more iterations re-make the references under a
  mask of nearly the whole box and classify every image against them (``final_mask_radius_px``; chosen on
  the validation seeds 1 and 3 of ``benchmarks/ml2d.py``).

CTF: with ``ctf_mode="full"`` (default) the references are multiplied by each image's CTF in the
likelihood and averaged with CTF weights (equivalent to phase-flipped images with ``|C_i|``);
``"flip"`` uses ``sign(C_i)`` only (phase-flipped images, plain averages); ``ctf=None`` ignores the
CTF. The CTF of the sum is treated as isotropic when rotating back (exact without astigmatism). Only
frequencies up to ``max_freq`` (a fraction of Nyquist), DC excluded, enter the likelihood.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from cdae_lite.cluster.align import align_classify
from cdae_lite.cluster.em2d import FINAL_ITER, _check_settings, _likeliest_noise_count, _particle_radius, _soft_mask
from cdae_lite.cluster.fourier import _Band, _check_stack, _prepare
from cdae_lite.runtime import progress

log = logging.getLogger(__name__)

TAU2_NOISE = ("both", "counted", "posterior")  # ml2d_classify's tau2_noise
COARSE_FREQ, COARSE_ITER = 0.25, 10  # ml2d_classify's coarse pass: highest frequency (of Nyquist), iterations
FINAL_MARGIN_PX = 6  # the default final mask's radius: the box's half-size less this (a 3-px soft edge inside it)


@dataclass
class ML2DResult:
    """What :func:`~cdae_lite.cluster.ml2d.ml2d_classify` found.

    Attributes
    ----------
    labels : ndarray (n,) int64
        The most probable class of each image.
    averages : ndarray (k, size, size) float32
        The CTF-corrected class references, in the units of the images after centring each and scaling
        the stack to unit standard deviation.
    angles_deg : ndarray (n,) float64
        In-plane rotation (degrees) of the reference that best matches each image.
    shifts_px : ndarray (n, 2) float64
        Its shift ``(x, y)``, pixels.
    loglik : list of float
        The log-likelihood of the data after each E-step (natural log).
    sigma2 : float
        The final noise variance per pixel (images scaled to unit standard deviation).
    class_fractions : ndarray (k,) float64
        The mean posterior of each class (the class priors when ``update_priors``).
    confidence : ndarray (n,) float64
        The posterior probability of each image's class.
    tau2_noise : str or None
        How the kept run counted the noise in its signal-power estimate (``"counted"`` or ``"posterior"``).
    """

    labels: np.ndarray
    averages: np.ndarray
    angles_deg: np.ndarray
    shifts_px: np.ndarray
    loglik: list = field(default_factory=list)
    sigma2: float = float("nan")
    class_fractions: np.ndarray | None = None
    confidence: np.ndarray | None = None
    tau2_noise: str | None = None


def _result(state: dict, band: _Band, k: int, n_angles: int) -> ML2DResult:
    """The result of a finished EM ``state``."""
    step, refs, labels, frac = state["step"], state["refs"], state["labels"], state["frac"]
    best = step["best"].cpu().numpy()
    t_idx, a_idx = best // (k * n_angles), best % n_angles
    return ML2DResult(labels=labels.astype(np.int64), averages=refs.cpu().numpy().astype(np.float32),
                      angles_deg=a_idx * (360.0 / n_angles), shifts_px=band.shifts[t_idx].astype(np.float64),
                      loglik=state["history"], sigma2=state["sigma2"],
                      class_fractions=frac.cpu().numpy().astype(np.float64),
                      confidence=step["post"].max(1).values.cpu().numpy().astype(np.float64))


def _noise_counts(tau2_noise: str, hard: bool) -> tuple[str, ...]:
    """The ways of counting tau2's noise that ``tau2_noise`` asks to run (hard EM: w^2 = w, one run)."""
    if tau2_noise not in TAU2_NOISE:
        raise ValueError(f"tau2_noise must be one of {', '.join(TAU2_NOISE)}, got {tau2_noise!r}")
    return (tau2_noise,) if tau2_noise != "both" else ("counted",) if hard else ("counted", "posterior")


def _ml2d_once(images, k: int, ctf, n_iter: int, n_angles: int, max_shift_px, shift_step_px: float,
               max_freq: float, init, n_init: int, ctf_mode: str, mask_radius_px, final_mask_radius_px,
               tau2_fudge: float, tau2_noise: str, update_priors: bool, hard: bool, tol: float, seed: int, device,
               max_elements: int, aligned: dict) -> ML2DResult:
    """One classification from ``init`` (and ``n_init - 1`` random starts): :func:`ml2d_classify` without
    its coarse pass. ``aligned`` keeps the alignment starts for the calls of one classification."""
    x, modes = _check_stack(images, k), _noise_counts(tau2_noise, hard)
    _check_settings(n_init, n_iter, max_freq)
    dev, s = torch.device(device or "cpu"), x.shape[-1]
    band = _Band(s, max_freq, s / 24 if max_shift_px is None else max_shift_px, shift_step_px, dev)
    xf, cf = _prepare(x, ctf, ctf_mode, band, dev)
    radius = _particle_radius(xf, band) if mask_radius_px is None else float(mask_radius_px)
    final = final_mask_radius(s, radius, final_mask_radius_px)
    log.info("ML2D: %d images, %d classes, mask radius %.1f px (final %s), %d rotations, %d shifts", len(x), k,
             radius, "none" if final is None else f"{final:.1f} px", n_angles, len(band.shifts))
    sigma2 = float(((xf.real**2 + xf.imag**2) * band.w).sum(1).mean() / band.w.sum())
    ctx = dict(xf=xf, cf=cf, angles=torch.arange(n_angles, device=dev, dtype=torch.float32) * (360.0 / n_angles),
               band=band, mask=_soft_mask(s, radius, dev), fudge=tau2_fudge, max_elements=max_elements,
               update_priors=update_priors, hard=hard, n_iter=n_iter, tol=tol, aligned=aligned,
               bar=progress(len(modes) * (n_iter + (n_init - 1) * min(n_iter, 5) + (final is not None) * FINAL_ITER),
                            "ML2D", unit="iter"))
    kept, state = _likeliest_noise_count(modes, x, k, init, n_init, n_iter, seed, sigma2, ctx, final)
    ctx["bar"].close()
    return replace(_result(state, band, k, n_angles), tau2_noise=kept)


def final_mask_radius(size: int, radius: float, final_mask_radius_px: float | None = None) -> float | None:
    """The radius (pixels) of the mask under which :func:`ml2d_classify` makes its final references.

    Parameters
    ----------
    size : int
        The box, pixels.
    radius : float
        The mask during EM, pixels.
    final_mask_radius_px : float, optional
        A radius asked for; None: the default, ``size / 2 - 6`` (the soft edge ends 3 px inside the box,
        nearly the whole box, as RELION without a particle diameter) and at least ``radius``; 0: none.

    Returns
    -------
    float or None
        The final mask's radius, pixels; None: no final step.

    Raises
    ------
    ValueError
        A negative ``final_mask_radius_px``.
    """
    if final_mask_radius_px is None:
        return max(float(radius), size / 2 - FINAL_MARGIN_PX)
    if final_mask_radius_px < 0:
        raise ValueError(f"final_mask_radius_px must be >= 0 (0: no final step), got {final_mask_radius_px}")
    return float(final_mask_radius_px) or None


def ml2d_classify(images, k: int, ctf=None, n_iter: int = 20, n_angles: int = 36,
                  max_shift_px: float | None = None, shift_step_px: float = 1.0, max_freq: float = 0.5,
                  init="align", n_init: int = 3, ctf_mode: str = "full", mask_radius_px: float | None = None,
                  final_mask_radius_px: float | None = None, tau2_fudge: float = 2.0, tau2_noise: str = "both",
                  update_priors: bool = False, hard: bool = False, tol: float = 0.001, coarse_start: bool = True,
                  seed: int = 0, device=None, max_elements: int = 1 << 22) -> ML2DResult:
    """Maximum-likelihood 2D classification: EM over classes, in-plane rotations and shifts (see the module).

    Parameters
    ----------
    images : array (n, size, size)
        The particles, any units (each image's mean is removed and the stack scaled to unit std).
    k : int
        The number of classes, 1 <= k <= n.
    ctf : array (n, size, size), optional
        Each image's CTF (zero frequency at the centre, :func:`~cdae_lite.simulation.ctf.ctf_2d`); None: no CTF.
    n_iter : int
        At most this many EM iterations.
    n_angles : int
        In-plane rotations searched, ``360 / n_angles`` degrees apart.
    max_shift_px : float, optional
        Shifts searched up to this radius, pixels (default ``size / 24``).
    shift_step_px : float
        The shift grid's step, pixels.
    max_freq : float
        Highest frequency in the likelihood, a fraction of Nyquist in (0, 1].
    init : str or tuple
        ``"align"`` (labels and rotations of :func:`~cdae_lite.cluster.align.align_classify`),
        ``"random"`` (averages of random subsets, as RELION), or ``(labels (n,) int, angles_deg (n,))``.
    n_init : int
        A string ``init`` and ``n_init - 1`` random starts run 5 iterations each; the likeliest goes on.
    ctf_mode : str
        ``"full"`` or ``"flip"`` (see the module).
    mask_radius_px : float, optional
        The references' soft circular mask during EM, pixels (default: where the stack's pixel variance
        exceeds the background's, plus 2).
    final_mask_radius_px : float, optional
        After EM, two more iterations re-make the references under this mask (pixels; default
        :func:`final_mask_radius`, nearly the whole box; 0: none) and give the labels, angles, shifts and averages.
    tau2_fudge : float
        RELION's regularisation parameter T.
    tau2_noise : str
        The noise subtracted in the signal power ``tau2``: ``"counted"`` (``sum w C^2``), ``"posterior"``
        (``sum w^2 C^2``) or ``"both"``: one run each, the likelier kept (no truth used; twice the time).
    update_priors : bool
        Learn the class priors (RELION); default: equal priors, which resist a collapse into one class.
    hard : bool
        Count each image only at its likeliest (class, rotation, shift) (cryoSPARC's "force max").
    tol : float
        Stop when fewer than this fraction of the labels change.
    coarse_start : bool
        With a string ``init``, EM also runs from a coarse pass (at most 10 iterations up to 0.25 of
        Nyquist, refined at ``max_freq``); the likelier run is kept (no truth used).
    seed : int
        Seeds the starts (the same seed, device and number of threads give the same result).
    device : str or torch.device, optional
        Where to compute (default CPU).
    max_elements : int
        Scores held in memory at once (the memory bound).

    Returns
    -------
    ML2DResult
        Labels, CTF-corrected class references, each image's rotation (degrees) and shift (pixels).

    Raises
    ------
    ValueError
        Bad images (one only, constant or non-finite), ``k`` out of range, a CTF of the wrong shape, a
        setting out of range, or a run whose log-likelihood or references become non-finite.
    """
    opts = {key: val for key, val in locals().items() if key not in ("images", "k", "ctf", "coarse_start")}
    opts["aligned"] = {}  # the alignment start, computed once for every run below
    own = _ml2d_once(images, k, ctf, **opts)
    if not (coarse_start and isinstance(init, str) and max_freq > COARSE_FREQ):
        return own
    coarse = _ml2d_once(images, k, ctf, **{**opts, "max_freq": COARSE_FREQ, "n_iter": min(n_iter, COARSE_ITER),
                                            "final_mask_radius_px": 0})  # a start only
    fine = _ml2d_once(images, k, ctf, **{**opts, "init": (coarse.labels, coarse.angles_deg), "n_init": 1})
    return _likelier(own, fine, "the coarse pass")


def _likelier(own: ML2DResult, other: ML2DResult, name: str) -> ML2DResult:
    """The run with the higher final log-likelihood (``own`` on a tie); ``name`` says in the log what
    started ``other``."""
    keep = other if other.loglik[-1] > own.loglik[-1] else own
    log.info("ML2D: final log-likelihood %.1f from its own starts, %.1f from %s: kept %s", own.loglik[-1],
             other.loglik[-1], name, name if keep is other else "its own")
    return keep


def ml2d_denoised_start(images, k: int, denoise, ctf=None, seed: int = 0, device=None, **options) -> ML2DResult:
    """ML2D of the raw images, started as usual and from the alignment of denoised images; the likelier is kept.

    A denoiser's output breaks ML2D's model (white Gaussian noise on each CTF-modulated image): its
    noise is coloured and its contrast shrunk, so classifying denoised images loses views (on a
    realistic adk stack at SNR 0.05, F1 0.95 on the raw images, 0.21 on the denoised ones). Here the
    denoised images only give a start: :func:`~cdae_lite.cluster.align.align_classify` on them sets
    each image's class and rotation, EM runs from there on the raw images, and the run (from this
    start or from :func:`ml2d_classify`'s own) with the higher final log-likelihood of the raw images
    is returned. No truth is used in the choice.

    Parameters
    ----------
    images : array (n, size, size)
        The raw particles, any units.
    k : int
        The number of classes, 1 <= k <= n.
    denoise : callable
        Maps an array (n, size, size) to denoised images of the same shape (e.g. ``partial(predict, model)``).
    ctf : array (n, size, size), optional
        Each image's CTF (zero frequency at the centre); None: no CTF.
    seed : int
        Seeds both runs and the alignment.
    device : str or torch.device, optional
        Where ML2D runs.
    **options
        Further :func:`ml2d_classify` settings, the same for both runs.

    Returns
    -------
    ML2DResult
        The likelier run's result.

    Raises
    ------
    ValueError
        As :func:`ml2d_classify`, or a denoiser whose output is not finite or not of the images' shape.
    """
    x = np.asarray(images, np.float32)
    own = ml2d_classify(x, k, ctf, seed=seed, device=device, **options)
    d = np.asarray(denoise(x), np.float32)
    if d.shape != x.shape or not np.isfinite(d).all():
        raise ValueError(f"the denoiser gave {d.shape} images{'' if np.isfinite(d).all() else ' with NaN or inf'} "
                         f"for {x.shape}")
    labels, _, angles = align_classify(d, k, seed=seed)[:3]
    started = ml2d_classify(x, k, ctf, init=(labels, angles), seed=seed, device=device, **options)
    return _likelier(own, started, "the denoised images' start")
