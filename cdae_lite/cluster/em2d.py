"""The expectation-maximisation of :func:`~cdae_lite.cluster.ml2d.ml2d_classify`: E-step, M-step, starts.

Private to :mod:`cdae_lite.cluster.ml2d` (its module docstring states the model). Images and references
live in Fourier space on the frequencies of a :class:`~cdae_lite.cluster.fourier._Band`: ``xf`` (n, F)
complex, ``cf`` (n, F) each image's CTF, references ``refs`` (k, size, size) in real space.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from cdae_lite.cluster.align import align_classify
from cdae_lite.cluster.fourier import _Band, _rotated, _scores
from cdae_lite.images import rotate_images

log = logging.getLogger(__name__)

FINAL_ITER = 2  # _final_step's iterations


def _maximise(num, den, sigma2: float, k: int, angles, band: _Band, mask, fudge: float, den2=None) -> torch.Tensor:
    """References (k, s, s) from the numerators (k*A, F) and CTF^2 weights (k*A, F) of the rotated frames.

    ``tau2``, each reference's signal power per frequency ring, is the power of its unregularised average
    minus the noise in that average: ``sigma2 * sum(w C^2) / sum(w C^2)^2`` as if every posterior weight
    were a whole image (``den2=None``), or ``sigma2 * sum(w^2 C^2) / sum(w C^2)^2``, the noise that the
    soft-weighted average holds, with ``den2`` the posterior-squared weights (k*A, F)."""
    a = len(angles)
    back = rotate_images(band.inverse(num), -angles.repeat(k))  # into each class's own frame
    nk = band.forward(back.reshape(k, a, band.size, band.size).sum(1))
    dk = den.reshape(k, a, -1).sum(1)  # CTF^2 weights, rotation-invariant for an isotropic CTF
    d2k = dk if den2 is None else den2.reshape(k, a, -1).sum(1)
    raw_power = band.ring_mean((nk.real**2 + nk.imag**2) / dk.clamp_min(1e-12) ** 2)
    tau2 = (raw_power - band.ring_mean(sigma2 * d2k / dk.clamp_min(1e-12) ** 2)).clamp_min(1e-6 * sigma2)
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


def _initial(x, xf, cf, k, angles, init, seed, band, mask, sigma2, fudge, aligned: dict):
    """First references from ``init``; ``aligned`` keeps each seed's alignment start, which every run of one
    classification (both noise counts, the coarse pass) shares."""
    n, a = len(x), len(angles)
    if isinstance(init, str) and init == "random":  # RELION: averages of random subsets
        labels = np.random.default_rng(seed).permutation(n) % k
        a_idx = np.zeros(n, np.int64)
    elif isinstance(init, str) and init == "align":  # the alignment classification's labels and rotations
        if seed not in aligned:
            aligned[seed] = align_classify(x, k, n_iter=3, n_angles=a, seed=seed)[:3]
        labels, _, ang = aligned[seed]
        a_idx = np.round(np.asarray(ang) / (360.0 / a)).astype(np.int64) % a
    elif isinstance(init, tuple) and len(init) == 2:  # given labels and rotations
        labels, a_idx = np.asarray(init[0], np.int64), np.round(np.asarray(init[1]) / (360.0 / a)).astype(np.int64) % a
        if labels.shape != (n,) or a_idx.shape != (n,) or labels.min() < 0 or labels.max() >= k:
            raise ValueError(f"init (labels, angles_deg) must hold {n} labels in 0..{k - 1} and {n} angles")
    else:
        raise ValueError(f"init must be 'align', 'random' or (labels, angles_deg), got {init!r}")
    num, den = _hard_sums(xf, cf, labels, a_idx, k, a)
    return _maximise(num, den, sigma2, k, angles, band, mask, fudge)


def _em_step(xf, cf, refs, sigma2, log_prior, angles, band, max_elements, hard=False, squared=False):
    """One E-step and the sums of the M-step; returns a dict of the totals (``den2``, the CTF^2 weights with
    the posteriors squared, only with ``squared`` and soft weights; else None)."""
    n, k, a = xf.shape[0], refs.shape[0], len(angles)
    rf = _rotated(refs, angles, band)
    t = len(band.shifts)
    batch = max(1, max_elements // (t * k * a))
    dof = float(band.w.sum())
    num = torch.zeros(k * a, xf.shape[1], dtype=xf.dtype, device=xf.device)
    den = torch.zeros(k * a, xf.shape[1], device=xf.device)
    squared = squared and not hard  # hard weights: w^2 = w, so den2 would equal den
    den2 = torch.zeros(k * a, xf.shape[1], device=xf.device) if squared else None  # tau2's noise, w^2
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
        if squared:
            den2 += (w**2).sum(1).T @ cb**2
        out["post"].append(w.sum(1).reshape(len(xb), k, a).sum(2))
        out["best"].append(flat.argmax(1))
        out["fit"].append(flat.amax(1))
    out.update(num=num, den=den, den2=den2, post=torch.cat(out["post"]), best=torch.cat(out["best"]),
               fit=torch.cat(out["fit"]), dof=dof)
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
                        ctx["hard"], squared=ctx["tau2_noise"] == "posterior")
        refs = _maximise(step["num"], step["den"], st["sigma2"], k, angles, band, mask, ctx["fudge"], step["den2"])
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
                         ctx["fudge"], ctx["aligned"]), sigma2, ctx, min(n_iter, 5) if len(starts) > 1 else n_iter)
            for j, st in enumerate(starts)]
    state = max(runs, key=lambda r: r["history"][-1])
    if len(starts) > 1:
        log.info("ML2D: start %d of %d has the highest log-likelihood", runs.index(state) + 1, len(runs))
        state = _em(state["refs"], state["sigma2"], ctx, n_iter - len(state["history"]), state)
    return state


def _final_step(state: dict, ctx: dict, radius: float) -> dict:
    """Two more iterations from a converged ``state`` with the references masked at ``radius`` (pixels): the
    first re-makes them under that mask from the converged posteriors, the second classifies every image
    against them (its labels, angles and shifts) and re-makes them once more (the averages returned)."""
    # n_iter 0: no class is reseeded (_em reseeds only before its last 5 iterations); tol -1: both iterations run
    wide = {**ctx, "mask": _soft_mask(ctx["band"].size, radius, ctx["xf"].device), "n_iter": 0, "tol": -1.0}
    return _em(state["refs"], state["sigma2"], wide, FINAL_ITER, state)


def _likeliest_noise_count(modes, x, k: int, init, n_init: int, n_iter: int, seed: int, sigma2: float,
                           ctx: dict, final_radius: float | None = None) -> tuple[str, dict]:
    """:func:`_best_start` once per way of counting tau2's noise in ``modes`` (``"counted"``,
    ``"posterior"``), each followed by :func:`_final_step` at ``final_radius`` (pixels) unless None;
    ``(mode, final EM state)`` of the run with the highest final log-likelihood."""
    runs = {}
    for mode in modes:
        mode_ctx = {**ctx, "tau2_noise": mode}
        runs[mode] = _best_start(x, k, init, n_init, n_iter, seed, sigma2, mode_ctx)
        if final_radius is not None:
            runs[mode] = _final_step(runs[mode], mode_ctx, final_radius)
    kept = max(runs, key=lambda m: runs[m]["history"][-1])  # the first of equals
    if len(runs) > 1:
        log.info("ML2D: final log-likelihood %s: kept %s", ", ".join(f"{m} {r['history'][-1]:.1f}"
                                                                      for m, r in runs.items()), kept)
    return kept, runs[kept]
