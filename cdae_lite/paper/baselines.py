"""Chapter 4 (the paper's Table 1 and beyond): every denoiser on the same test images."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd

from cdae_lite import metrics
from cdae_lite.images import evenly_spaced
from cdae_lite.paper.configs import BaselineExperiment
from cdae_lite.paper.models import dncnn_model, learned_denoisers, paper_data
from cdae_lite.paper.tables import score, view_columns
from cdae_lite.simulation.stacks import SimulatedStack, simulate_protein


def tuned_classical(bx: BaselineExperiment, train: SimulatedStack) -> tuple[dict, pd.DataFrame]:
    """Classical denoisers with parameters tuned on the training protein at the lowest SNR.

    Returns ``({name: denoiser}, tuning table)``. BM3D's sigma factor is tuned like the others'
    parameters ("BM3D"); "BM3D (factor 1)" keeps the textbook setting for reference. The Wiener filter
    has no parameter.
    """
    from cdae_lite.denoise import baselines, tuning

    lo = min(train.noisy)
    idx = evenly_spaced(len(train), bx.n_tune)
    x, c = train.noisy[lo][idx], train.clean[idx]
    sigma = train.noise_sigma(lo)[idx]
    methods, tables = {}, []
    for name in ("Gaussian", "TV", "Wavelet", "NL-means", "BM3D"):
        best, table = tuning.tune(name, x, c, sigma)
        methods[name] = best
        tables.append(table)
    methods["Wiener"] = baselines.Wiener()
    methods["BM3D (factor 1)"] = baselines.BM3D()
    return methods, pd.concat(tables, ignore_index=True)


def _same_filter(a, b) -> bool:
    """Whether two denoisers are the same classical filter with the same settings (one output serves both).

    A trained model is never the same filter as another: its ``params()`` (the parameter count) do not tell
    two models of one architecture apart, such as the pre-trained and the fine-tuned CDAE."""
    from cdae_lite.denoise.baselines import Baseline, Learned

    classical = isinstance(a, Baseline) and not isinstance(a, Learned)
    return classical and type(a) is type(b) and a.params() == b.params()


def table1(bx: BaselineExperiment, tests: dict, methods_for: dict) -> tuple[list[dict], dict, dict]:
    """Every method on the same evenly spread ``bx.n_eval`` images of each test protein.

    ``methods_for[protein]`` maps method names to denoisers. Returns ``(rows, outputs, runtime)``:
    scores per (protein, method), the denoised images, and seconds per image per method. A classical
    filter listed twice with the same settings (BM3D tuned to the textbook factor 1 and "BM3D (factor 1)")
    is run once and its output scored under both names.
    """
    from cdae_lite.denoise import baselines

    rows, outputs, runtime = [], {}, {}
    for name, s in tests.items():
        idx = evenly_spaced(len(s), bx.n_eval)
        x, c, lab = s.noisy[min(s.noisy)][idx], s.clean[idx], s.labels[idx]
        sigma = s.noise_sigma()[idx]
        outputs[name], done = {}, []  # done: (filter, output, seconds per image) of this protein's filters
        for m, d in {"raw": baselines.Identity(), **methods_for[name]}.items():
            same = next((o for o in done if _same_filter(o[0], d)), None)  # e.g. BM3D tuned to factor 1
            if same is None:
                t = time.perf_counter()
                same = (d, d.denoise(x, sigma=sigma), (time.perf_counter() - t) / len(x))
                done += [same] if isinstance(d, baselines.Baseline) else []
            out = outputs[name][m] = same[1]
            runtime.setdefault(m, []).append(same[2])
            rows.append({"protein": name, "method": m, **score(out, c, lab)})
        out = baselines.BM3D().denoise(x)  # noise sigma estimated from each image
        outputs[name]["BM3D (estimated sigma)"] = out
        rows.append({"protein": name, "method": "BM3D (estimated sigma)", **score(out, c, lab)})
    return rows, outputs, {m: float(np.mean(v)) for m, v in runtime.items()}


def denoising_snr_sweep(bx: BaselineExperiment, methods: dict, protein: str = "proteasome", device=None) -> list[dict]:
    """PSNR and view fidelity of each method against the input SNR (``bx.snr_sweep``), on fresh images of
    ``protein``: one row per SNR and method with ``psnr`` (mean, dB), ``n`` and the view-fidelity columns
    of :func:`~cdae_lite.paper.tables.view_columns` (so a collapsed output is seen at each SNR)."""

    rows = []
    for snr in bx.snr_sweep:
        s = simulate_protein(protein, replace(bx.cdae.sim, images_per_view=max(1, bx.n_sweep // 4),
                                              seed=bx.cdae.sim.seed + 7), snrs=(snr,), device=device)
        x, c = s.noisy[snr], s.clean
        sigma = s.noise_sigma(snr)
        for m, d in methods.items():
            out = d.denoise(x, sigma=sigma)
            rows.append({"snr": snr, "method": m, "psnr": float(metrics.psnr(out, c).mean()), "n": len(x),
                         **view_columns(out, c, s.labels)})
    return rows


def run_baselines(bx: BaselineExperiment, device=None) -> dict:
    """Table 1 (every denoiser on the same test images), its tuning, runtimes and the SNR sweep."""
    from cdae_lite.denoise import baselines

    train, tests = paper_data(bx.cdae, device)
    classical, tuning = tuned_classical(bx, train)
    learned = {name: learned_denoisers(bx, train, s, device) for name, s in tests.items()}
    rows, _, runtime = table1(bx, tests, {name: {**classical, **learned[name]} for name in tests})
    prot = "proteasome"
    sweep = denoising_snr_sweep(bx, {"raw": baselines.Identity(), "NL-means": classical["NL-means"],
                                     "BM3D": classical["BM3D"], **{m: learned[prot][m] for m in
                                     ("DnCNN", "single DAE (fine-tuned)", "CDAE (fine-tuned)")}}, prot, device)
    return {"table1": rows, "tuning": tuning.to_dict("records"), "seconds_per_image": runtime, "snr_sweep": sweep,
            "dncnn_history": dncnn_model(bx, train, device)[1]["history"]}
