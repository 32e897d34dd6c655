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
  circle; ``sigma2`` is the expected residual power (and, with ``update_priors``, the class priors the
  mean posteriors).
* A class left (nearly) empty takes the worse-fitting half of the largest class, the usual remedy for
  two views merged into one class (not in the last 5 iterations).

CTF: with ``ctf_mode="full"`` (default) the references are multiplied by each image's CTF in the
likelihood and averaged with CTF weights (equivalent to phase-flipped images with ``|C_i|``);
``"flip"`` uses ``sign(C_i)`` only (phase-flipped images, plain averages); ``ctf=None`` ignores the
CTF. The CTF of the sum is treated as isotropic when rotating back (exact without astigmatism). Only
frequencies up to ``max_freq`` (a fraction of Nyquist), DC excluded, enter the likelihood.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from cdae_lite.cluster.align import align_classify
from cdae_lite.cluster.fourier import _Band, _check_stack, _prepare, _rotated, _scores
from cdae_lite.images import rotate_images
from cdae_lite.runtime import progress

log = logging.getLogger(__name__)


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
    """

    labels: np.ndarray
    averages: np.ndarray
    angles_deg: np.ndarray
    shifts_px: np.ndarray
    loglik: list = field(default_factory=list)
    sigma2: float = float("nan")
    class_fractions: np.ndarray | None = None
    confidence: np.ndarray | None = None


def _maximise(num, den, sigma2: float, k: int, angles, band: _Band, mask, fudge: float) -> torch.Tensor:
    """References (k, s, s) from the numerators (k*A, F) and CTF^2 weights (k*A, F) of the rotated frames."""
    a = len(angles)
    back = rotate_images(band.inverse(num), -angles.repeat(k))  # into each class's own frame
    nk = band.forward(back.reshape(k, a, band.size, band.size).sum(1))
    dk = den.reshape(k, a, -1).sum(1)  # CTF^2 weights, rotation-invariant for an isotropic CTF
    raw_power = band.ring_mean((nk.real**2 + nk.imag**2) / dk.clamp_min(1e-12) ** 2)
    tau2 = (raw_power - band.ring_mean(sigma2 / dk.clamp_min(1e-12))).clamp_min(1e-6 * sigma2)
    refs = band.inverse(nk / (dk + sigma2 / (fudge * tau2)))
    return refs * mask


def _soft_mask(size: int, radius: float, device) -> torch.Tensor:
    yy, xx = torch.meshgrid(*(torch.arange(size, device=device, dtype=torch.float32) - size // 2,) * 2,
                            indexing="ij")
    r = torch.sqrt(xx**2 + yy**2)
    return torch.clamp((radius + 3 - r) / 3, 0, 1) ** 2


def _hard_sums(xf, cf, labels, a_idx, k: int, n_angles: int, phase=None):
    """Numerators and CTF^2 weights of given (class, angle) assignments, shifted back by ``phase`` (n, F)."""
    slot = torch.as_tensor(labels * n_angles + a_idx, device=xf.device)
    q = xf * cf if phase is None else xf * cf * torch.conj(phase)
    num = torch.zeros(k * n_angles, xf.shape[1], dtype=xf.dtype, device=xf.device).index_add_(0, slot, q)
    den = torch.zeros(k * n_angles, xf.shape[1], device=xf.device).index_add_(0, slot, cf**2)
    return num, den


def _initial(x, xf, cf, k, angles, init, seed, band, mask, sigma2, fudge):
    n, a = len(x), len(angles)
    if isinstance(init, str) and init == "random":  # RELION: averages of random subsets
        labels = np.random.default_rng(seed).permutation(n) % k
        a_idx = np.zeros(n, np.int64)
    elif isinstance(init, str) and init == "align":  # the alignment classification's labels and rotations
        labels, _, ang = align_classify(x, k, n_iter=3, n_angles=a, seed=seed)
        a_idx = np.round(np.asarray(ang) / (360.0 / a)).astype(np.int64) % a
    elif isinstance(init, tuple) and len(init) == 2:  # given labels and rotations
        labels, a_idx = np.asarray(init[0], np.int64), np.round(np.asarray(init[1]) / (360.0 / a)).astype(np.int64) % a
        if labels.shape != (n,) or a_idx.shape != (n,) or labels.min() < 0 or labels.max() >= k:
            raise ValueError(f"init (labels, angles_deg) must hold {n} labels in 0..{k - 1} and {n} angles")
    else:
        raise ValueError(f"init must be 'align', 'random' or (labels, angles_deg), got {init!r}")
    num, den = _hard_sums(xf, cf, labels, a_idx, k, a)
    return _maximise(num, den, sigma2, k, angles, band, mask, fudge)


def _em_step(xf, cf, refs, sigma2, log_prior, angles, band, max_elements, hard=False):
    """One E-step and the sums of the M-step; returns a dict of the totals."""
    n, k, a = xf.shape[0], refs.shape[0], len(angles)
    rf = _rotated(refs, angles, band)
    t = len(band.shifts)
    batch = max(1, max_elements // (t * k * a))
    dof = float(band.w.sum())
    num = torch.zeros(k * a, xf.shape[1], dtype=xf.dtype, device=xf.device)
    den = torch.zeros(k * a, xf.shape[1], device=xf.device)
    out = {"ll": 0.0, "resid": 0.0, "post": [], "best": [], "fit": []}
    for s in range(0, n, batch):
        xb, cb = xf[s: s + batch], cf[s: s + batch]
        cross, norm = _scores(xb, cb, rf, band)
        x2 = ((xb.real**2 + xb.imag**2) * band.w).sum(1)
        logp = (cross - norm[:, None] / 2) / sigma2 + log_prior.repeat_interleave(a)[None, None]
        flat = logp.reshape(len(xb), -1)
        lse = torch.logsumexp(flat, 1)
        w = torch.exp(flat - lse[:, None])
        if hard:  # classification EM: each image counts once, at its most probable (class, rotation, shift)
            w = torch.zeros_like(w).scatter_(1, flat.argmax(1, keepdim=True), 1.0)
        w = w.reshape(logp.shape)  # (B, T, KA)
        out["ll"] += float((lse - x2 / (2 * sigma2) - dof / 2 * math.log(2 * math.pi * sigma2)).sum())
        out["resid"] += float((x2 - 2 * (w * cross).sum((1, 2)) + (w.sum(1) * norm).sum(1)).sum())
        q = (xb * cb)[:, None, :] * torch.conj(band.phase)[None]  # (B, T, F)
        wt = w.reshape(-1, k * a).T
        num += torch.complex(wt @ q.real.reshape(-1, q.shape[-1]), wt @ q.imag.reshape(-1, q.shape[-1]))
        den += w.sum(1).T @ cb**2
        out["post"].append(w.sum(1).reshape(len(xb), k, a).sum(2))
        out["best"].append(flat.argmax(1))
        out["fit"].append(flat.amax(1))
    out.update(num=num, den=den, post=torch.cat(out["post"]), best=torch.cat(out["best"]), fit=torch.cat(out["fit"]),
               dof=dof)
    return out


def _reseed_empty(refs, step, xf, cf, labels, angles, band, mask, sigma2, fudge, min_size: float) -> list:
    """Give each (nearly) empty class the worse-fitting half of the largest class (a merge of views splits)."""
    k, a = refs.shape[0], len(angles)
    sizes = np.bincount(labels, minlength=k)
    best = step["best"].cpu().numpy()
    fit = step["fit"].cpu().numpy()
    done = []
    for e in np.flatnonzero(sizes < min_size):
        big = int(np.argmax(sizes))
        members = np.flatnonzero(labels == big)
        if len(members) < 2 * min_size:
            break
        worse = members[np.argsort(fit[members])[: len(members) // 2]]
        t_idx, a_idx = best[worse] // (k * a), best[worse] % a
        num, den = _hard_sums(xf[worse], cf[worse], np.zeros(len(worse), np.int64), a_idx, 1, a,
                              band.phase[torch.as_tensor(t_idx, device=xf.device)])
        refs[e] = _maximise(num, den, sigma2, 1, angles, band, mask, fudge)[0]
        labels[worse], sizes[big], sizes[e] = e, sizes[big] - len(worse), len(worse)
        done.append(int(e))
    return done


def _particle_radius(xf, band: _Band) -> float:
    """Radius (pixels) inside which the stack's pixel variance exceeds the background's: the particle's."""
    s = band.size
    img = band.inverse(xf)
    var = (img**2).mean(0).cpu().numpy()
    yy, xx = np.indices((s, s)) - s // 2
    r = np.round(np.hypot(xx, yy)).astype(int)
    prof = np.bincount(r.ravel(), var.ravel()) / np.maximum(np.bincount(r.ravel()), 1)
    prof = prof[: s // 2]
    excess = prof - np.median(prof[int(0.4 * s):])
    above = np.flatnonzero(excess > 0.1 * excess.max())
    return float(np.clip(above.max() + 2 if len(above) else s / 2 - 4, s / 8, s / 2 - 2))


def _finite_or_raise(it: int, step: dict, refs: torch.Tensor) -> None:
    if not (math.isfinite(step["ll"]) and math.isfinite(step["resid"]) and bool(torch.isfinite(refs).all())):
        raise ValueError(f"ML2D diverged at iteration {it} (non-finite log-likelihood or references): "
                         "check the images and CTFs, or lower max_freq")


def _em(refs, sigma2: float, ctx: dict, iters: int, state: dict | None = None) -> dict:
    """``iters`` EM iterations from ``refs`` (or continuing ``state``); returns the state after them."""
    xf, cf, angles, band, mask = ctx["xf"], ctx["cf"], ctx["angles"], ctx["band"], ctx["mask"]
    n, k = xf.shape[0], refs.shape[0]
    st = state or {"history": [], "labels": None, "log_prior": torch.full((k,), -math.log(k), device=xf.device)}
    st.update(refs=refs, sigma2=sigma2)
    for _ in range(iters):
        it = len(st["history"])
        step = _em_step(xf, cf, st["refs"], st["sigma2"], st["log_prior"], angles, band, ctx["max_elements"],
                        ctx["hard"])
        refs = _maximise(step["num"], step["den"], st["sigma2"], k, angles, band, mask, ctx["fudge"])
        _finite_or_raise(it, step, refs)
        st["history"].append(step["ll"])
        st["sigma2"] = max(step["resid"] / (n * step["dof"]), 1e-12)
        frac = step["post"].mean(0).clamp_min(1e-8)
        st["frac"] = frac / frac.sum()
        if ctx["update_priors"]:
            st["log_prior"] = torch.log(st["frac"])
        new = step["post"].argmax(1).cpu().numpy()
        changed = 1.0 if st["labels"] is None else float(np.mean(new != st["labels"]))
        st.update(labels=new, step=step, refs=refs)
        if it < max(1, ctx["n_iter"] - 5) and _reseed_empty(refs, step, xf, cf, new.copy(), angles, band, mask,
                                                          st["sigma2"], ctx["fudge"], max(2.0, 0.25 * n / k)):
            st["log_prior"], changed = torch.full((k,), -math.log(k), device=xf.device), 1.0
        ctx["bar"].update(1)
        log.info("ML2D iteration %d: log-likelihood %.6g, sigma2 %.4g, %.2f%% labels changed",
                 it + 1, step["ll"], st["sigma2"], 100 * changed)
        if changed < ctx["tol"]:
            break
    return st


def _check_settings(n_init: int, n_iter: int, max_freq: float) -> None:
    if n_init < 1 or n_iter < 1:
        raise ValueError(f"n_init and n_iter must be >= 1, got {n_init} and {n_iter}")
    if not 0 < max_freq <= 1:
        raise ValueError(f"max_freq must be in (0, 1] (a fraction of Nyquist), got {max_freq}")


def _best_start(x: np.ndarray, k: int, init, n_init: int, n_iter: int, seed: int, sigma2: float, ctx: dict) -> dict:
    """EM from ``init`` and ``n_init - 1`` random starts (a string ``init``), 5 iterations each, then the
    likeliest on to ``n_iter`` iterations; a tuple ``init`` runs alone. Returns the final EM state."""
    starts = [init] + ["random"] * (n_init - 1) if isinstance(init, str) else [init]
    runs = [_em(_initial(x, ctx["xf"], ctx["cf"], k, ctx["angles"], st, seed + j, ctx["band"], ctx["mask"], sigma2,
                         ctx["fudge"]), sigma2, ctx, min(n_iter, 5) if len(starts) > 1 else n_iter)
            for j, st in enumerate(starts)]
    state = max(runs, key=lambda r: r["history"][-1])
    if len(starts) > 1:
        log.info("ML2D: start %d of %d has the highest log-likelihood", runs.index(state) + 1, len(runs))
        state = _em(state["refs"], state["sigma2"], ctx, n_iter - len(state["history"]), state)
    return state


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


def ml2d_classify(images, k: int, ctf=None, n_iter: int = 20, n_angles: int = 36,
                  max_shift_px: float | None = None, shift_step_px: float = 1.0, max_freq: float = 0.5,
                  init="align", n_init: int = 3, ctf_mode: str = "full", mask_radius_px: float | None = None,
                  tau2_fudge: float = 2.0, update_priors: bool = False, hard: bool = False, tol: float = 0.001,
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
        The references' soft circular mask, pixels (default: where the stack's pixel variance exceeds
        the background's, plus 2).
    tau2_fudge : float
        RELION's regularisation parameter T.
    update_priors : bool
        Learn the class priors (RELION); default: equal priors, which resist a collapse into one class.
    hard : bool
        Count each image only at its likeliest (class, rotation, shift) (cryoSPARC's "force max").
    tol : float
        Stop when fewer than this fraction of the labels change.
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
    x = _check_stack(images, k)
    n, s = x.shape[0], x.shape[-1]
    _check_settings(n_init, n_iter, max_freq)
    dev = torch.device(device or "cpu")
    band = _Band(s, max_freq, s / 24 if max_shift_px is None else max_shift_px, shift_step_px, dev)
    xf, cf = _prepare(x, ctf, ctf_mode, band, dev)
    angles = torch.arange(n_angles, device=dev, dtype=torch.float32) * (360.0 / n_angles)
    radius = _particle_radius(xf, band) if mask_radius_px is None else float(mask_radius_px)
    mask = _soft_mask(s, radius, dev)
    log.info("ML2D: %d images, %d classes, mask radius %.1f px, %d rotations, %d shifts", n, k, radius,
             n_angles, len(band.shifts))
    sigma2 = float(((xf.real**2 + xf.imag**2) * band.w).sum(1).mean() / band.w.sum())
    ctx = dict(xf=xf, cf=cf, angles=angles, band=band, mask=mask, fudge=tau2_fudge, max_elements=max_elements,
               update_priors=update_priors, hard=hard,
               n_iter=n_iter, tol=tol, bar=progress(n_iter + (n_init - 1) * min(n_iter, 5), "ML2D", unit="iter"))
    state = _best_start(x, k, init, n_init, n_iter, seed, sigma2, ctx)
    ctx["bar"].close()
    return _result(state, band, k, n_angles)


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
    keep = started if started.loglik[-1] > own.loglik[-1] else own
    log.info("ML2D: the start from the denoised images ends at log-likelihood %.1f, ML2D's own starts at %.1f: "
             "kept %s", started.loglik[-1], own.loglik[-1], "the denoised start" if keep is started else "its own")
    return keep
