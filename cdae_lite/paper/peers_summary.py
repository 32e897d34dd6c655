"""What the README and chapter 7's targets quote of the peers' record (:mod:`cdae_lite.paper.peers`): the margins
of our denoisers over the best peer per set, stack-aware denoising as a user runs it, and the README's paragraph.
"""

from __future__ import annotations

from cdae_lite.paper.peers import (AWARE, AWARE_CTF, AWARE_NA, COV2D, GENERAL, INSTALL, TOPAZ_MODELS, TOPAZ_PIXEL_A, set_margins,
                                   topaz_row)


def best_peer_margins(rows: list[dict], subject: str, peers: list[str], value: str = "affine_psnr") -> dict:
    """Per test-protein set (the held-out one left out), ``subject`` minus the best of ``peers`` there, dB.

    >>> rows = [{"protein": "adk", "preset": "paper", "method": m, "affine_psnr": v} for m, v in (("a", 25.0), ("b", 22.5), ("c", 24.0))]
    >>> best_peer_margins(rows, "a", ["b", "c"])
    {'adk / paper': 1.0}
    """
    each = [set_margins(rows, subject, p, value) for p in peers]
    sets = [k for k in each[0] if "held out" not in k and all(k in e for e in each)]
    return {k: min(e[k] for e in each) for k in sets}


def as_run_margins(rows: list[dict], other: str = COV2D, value: str = "affine_psnr") -> dict:
    """Per test-protein set, ``--stack-aware`` as the README has a user run it minus ``other``, dB: with
    ``--no-align`` where that variant was scored (particles not rotated in plane), with ``--ctf-aware``
    where that one was (particles with a CTF), else aligned.

    >>> rows = [{"protein": "adk", "preset": s, "method": m, "affine_psnr": v} for s, m, v in (("paper", AWARE, 30.0),
    ...         ("paper", AWARE_NA, 32.0), ("paper", COV2D, 28.0), ("realistic", AWARE, 26.0), ("realistic", COV2D, 24.5))]
    >>> as_run_margins(rows)
    {'adk / paper': 4.0, 'adk / realistic': 1.5}
    """
    both = {**set_margins(rows, AWARE, other, value), **set_margins(rows, AWARE_NA, other, value),
            **set_margins(rows, AWARE_CTF, other, value)}
    return {k: v for k, v in both.items() if "held out" not in k}


def readme_paragraph(result: dict) -> str:
    """The README's "compared with" paragraph, computed from a recorded ``peers`` result."""
    rows = result["metrics"]["rows"]
    single = best_peer_margins(rows, GENERAL, [topaz_row(t, r) for t in TOPAZ_MODELS for r in (False, True)])
    stack = as_run_margins(rows)

    def span(d: dict) -> str:
        lo = min(d, key=d.get)
        return f"{d[lo]:+.1f} dB ({lo}) to {max(d.values()):+.1f} dB"

    return (f"**Compared with the field's tools** (`results/{result['profile']}/peers.json`, recorded "
            f"{result['created'][:10]} at commit `{result['commit'][:7]}`, {result['config']['n_images']} images "
            f"per set; chapters 4 and 7 show the tables): on the three test proteins at SNR 0.1, 64 px, in both "
            f"presets, the shipped denoiser minus the best of Topaz-Denoise's pretrained `unet` and `unet-small` "
            f"(at our pixel size or resampled to {TOPAZ_PIXEL_A:g} Å/px) is {span(single)} in affine-fitted PSNR; "
            f"on stacks of 4 x 250 images, `--stack-aware` (with `--no-align` in the paper's preset, whose particles are "
            f"not rotated in plane, and `--ctf-aware` in the realistic one) minus ASPIRE's Cov2D (given the true noise "
            f"variance) "
            f"is {span(stack)}. Install them with `{INSTALL}`.")
