"""Tuning a classical denoiser's parameter on training pairs, and checking that the optimum is inside its grid.

The paper's comparison gives every classical filter of :mod:`cdae_lite.denoise.baselines` its best
parameter, chosen by PSNR on the *training* protein (never on the test proteins' truth).
"""

from __future__ import annotations

import logging

from cdae_lite.denoise.baselines import CLASSICAL

logger = logging.getLogger(__name__)

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


def tune(name: str, noisy, clean, sigma=None, grid: dict | None = None, n_jobs: int = -1) -> tuple:
    """Pick a classical method's parameter by mean PSNR on (noisy, clean) pairs.

    Use the training protein's pairs: tuning on the test truth would be cheating. A best value at the
    edge of a numeric grid (:func:`at_grid_edge`) is logged as a warning: widen the grid.

    Parameters
    ----------
    name : str
        A key of ``cdae_lite.denoise.CLASSICAL`` (``"Gaussian"``, ``"TV"``, ``"BM3D"``, ...).
    noisy, clean : arrays (n, size, size)
        The pairs, in the same units.
    sigma : float or array (n,), optional
        The noise standard deviation of each image, in those units (default: estimated).
    grid : dict, optional
        ``{parameter: values}``, one parameter (default: :data:`TUNING_GRIDS`'s).
    n_jobs : int
        Parallel jobs of the methods that run image by image (-1: every core).

    Returns
    -------
    tuple
        ``(best denoiser, table)``: the table (pandas.DataFrame) lists ``method``, ``parameter``,
        ``value`` and ``psnr_mean`` (dB) of every value tried.

    Raises
    ------
    ValueError
        If the grid has more than one parameter.
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
    table : pandas.DataFrame or list of dict
        A tuning table (:func:`tune`): ``method``, ``parameter``, ``value``, ``psnr_mean``; several
        methods (and a ``preset`` column) may be stacked.

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
