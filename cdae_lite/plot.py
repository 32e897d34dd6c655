"""Figures for the book: image galleries, curves and tables. Nothing here computes results.

Importing this module sets matplotlib's figure resolution to ``DPI`` (the book's figures are
shrunk to the column's width, and at matplotlib's default 100 dpi their labels blur).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

DPI = 150  # dots per inch of every figure shown in a notebook or saved
plt.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI})


def gallery(images, titles: Sequence[str] | None = None, ncols: int | None = None,
            row_labels: Sequence[str] | None = None, size: float = 1.6, scale: str = "image",
            cmap: str = "gray", suptitle: str | None = None):
    """Show images in a grid.

    Parameters
    ----------
    images : array (n, h, w) or (rows, cols, h, w)
        A 4D array is laid out as rows x cols.
    titles : list of str, optional -- one per image (column titles for a 4D array).
    row_labels : list of str, optional -- one per row.
    scale : {"image", "row", "all"} -- grey levels stretched per image, per row or over all images.

    Returns
    -------
    matplotlib.figure.Figure
    """
    a = np.asarray(images, np.float32)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:
        ncols = ncols or min(len(a), 8)
        nrows = int(np.ceil(len(a) / ncols))
        grid = [[a[r * ncols + c] if r * ncols + c < len(a) else None for c in range(ncols)]
                for r in range(nrows)]
    elif a.ndim == 4:
        nrows, ncols = a.shape[:2]
        grid = [[a[r, c] for c in range(ncols)] for r in range(nrows)]
    else:
        raise ValueError(f"images must be (n, h, w) or (rows, cols, h, w), got {a.shape}")
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)),
                             squeeze=False)
    lim_all = (np.percentile(a, 0.5), np.percentile(a, 99.5))
    for r in range(nrows):
        row = [g for g in grid[r] if g is not None]
        lim_row = (np.percentile(row, 0.5), np.percentile(row, 99.5)) if row else None
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for sp in ax.spines.values():
                sp.set_visible(False)
            img = grid[r][c]
            if img is None:
                continue
            lim = {"image": (img.min(), img.max()), "row": lim_row, "all": lim_all}[scale]
            ax.imshow(img, cmap=cmap, vmin=lim[0], vmax=lim[1], interpolation="nearest")
            i = r * ncols + c
            if titles is not None:
                t = titles[c] if a.ndim == 4 else (titles[i] if i < len(titles) else "")
                if a.ndim == 3 or r == 0:
                    ax.set_title(t, fontsize=8)
            if row_labels is not None and c == 0:
                ax.set_ylabel(row_labels[r], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def curves(x, ys: dict, xlabel: str, ylabel: str, title: str | None = None, logx: bool = False,
           logy: bool = False, ax=None, markers: bool = True, hline: float | None = None):
    """Line plot of several named curves sharing ``x`` (or each a pair ``(x, y)``)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
    else:
        fig = ax.figure
    for name, y in ys.items():
        xx, yy = (y if isinstance(y, tuple) else (x, y))
        ax.plot(xx, yy, marker="o" if markers else None, ms=3, label=name)
    if hline is not None:
        ax.axhline(hline, color="k", lw=0.8, ls=":")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def loss_curves(histories: Sequence[dict], ax=None, labels: Sequence[str] | None = None, title: str = "",
                ylabel: str = "normalised MSE", validation: bool = True, logy: bool = False):
    """Training (solid) and validation (dashed, same colour) loss per epoch of one or more training runs.

    ``histories``: dicts with ``train_loss`` and optionally ``val_loss`` lists (``History.as_dict()``).
    ``labels``: one per history (e.g. ``"block 1"``), prefixed to the legend entries.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for i, h in enumerate(histories):
        prefix = f"{labels[i]}, " if labels else ""
        line, = ax.plot(range(1, len(h["train_loss"]) + 1), h["train_loss"], label=f"{prefix}training")
        if validation and h.get("val_loss"):
            ax.plot(range(1, len(h["val_loss"]) + 1), h["val_loss"], ls="--", color=line.get_color(),
                    label=f"{prefix}validation")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax.figure


def image_with_colorbar(image, title: str = "", cmap: str = "RdBu_r", symmetric: bool = True,
                        extent=None, xlabel: str | None = None, ylabel: str | None = None):
    """One image with a colour bar (for CTFs and power spectra)."""
    fig, ax = plt.subplots(figsize=(4, 3.4))
    a = np.asarray(image)
    lim = np.abs(a).max() if symmetric else None
    im = ax.imshow(a, cmap=cmap, vmin=-lim if symmetric else None, vmax=lim, extent=extent,
                   origin="lower" if extent is not None else "upper")
    fig.colorbar(im, ax=ax, shrink=0.85)
    ax.set_title(title, fontsize=10)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def confusion(matrix, row_names: Sequence[str], col_names: Sequence[str], title: str = "", ax=None):
    """A confusion matrix with counts written in the cells."""
    m = np.asarray(matrix)
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.6 * m.shape[1] + 1.5, 0.6 * m.shape[0] + 1))
    else:
        fig = ax.figure
    ax.imshow(m, cmap="Blues")
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=8,
                color="white" if v > m.max() / 2 else "black")
    ax.set_xticks(range(m.shape[1]), col_names, fontsize=8)
    ax.set_yticks(range(m.shape[0]), row_names, fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def keep(fig, key: str) -> None:
    """Keep a figure for the book's figure bank (``book/figure_bank.md``) under ``key``.

    Uses myst-nb's ``glue`` (the figure is stored with the cell's outputs, not shown twice) when the
    book's tools are installed; elsewhere (a plain notebook, Colab) it does nothing.
    """
    try:
        from myst_nb import glue
    except ImportError:
        return
    glue(key, fig, display=False)
