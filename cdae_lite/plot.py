"""Figures for the book: image galleries, curves and tables. Nothing here computes results.

Importing this module sets matplotlib's figure resolution to ``DPI`` (the book's figures are
shrunk to the column's width, and at matplotlib's default 100 dpi their labels blur).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

DPI = 150  # dots per inch of every figure shown in a notebook or saved
plt.rcParams.update({"figure.dpi": DPI, "savefig.dpi": DPI})


#: The most panels a gallery puts in one row: wider rows shrink each panel and its title below legibility.
MAX_COLUMNS = 6


def _panels(a: np.ndarray, titles, ncols, row_labels):
    """Lay out a gallery: rows of ``(image or None, title or None)``, a label and a scaling group per row.

    A 4D array wider than :data:`MAX_COLUMNS` is cut into blocks of columns placed one under the other
    (every row of the first block, then every row of the next), each block with its own column titles.
    """
    def title(i):
        return titles[i] if titles is not None and i < len(titles) else None

    def label(i):
        return row_labels[i] if row_labels is not None and i < len(row_labels) else None

    if a.ndim == 3:
        ncols = ncols or min(len(a), MAX_COLUMNS)
        if ncols > MAX_COLUMNS:
            raise ValueError(f"at most {MAX_COLUMNS} panels per row (got ncols={ncols}): their titles would be "
                             "unreadable; pass a (rows, cols, h, w) array to wrap columns, or fewer columns")
        nrows = int(np.ceil(len(a) / ncols))
        rows = [[(a[i], title(i)) if i < len(a) else (None, None) for i in range(r * ncols, (r + 1) * ncols)]
                for r in range(nrows)]
        return rows, [label(r) for r in range(nrows)], list(range(nrows))
    if a.ndim != 4:
        raise ValueError(f"images must be (n, h, w) or (rows, cols, h, w), got {a.shape}")
    n_rows, n_cols = a.shape[:2]
    width = int(np.ceil(n_cols / np.ceil(n_cols / MAX_COLUMNS)))  # balanced blocks: 9 columns -> 5 + 4
    rows, labels, groups = [], [], []
    for start in range(0, n_cols, width):
        for r in range(n_rows):
            rows.append([(a[r, c], title(c) if r == 0 else None) if c < n_cols else (None, None)
                         for c in range(start, start + width)])
            labels.append(label(r))
            groups.append(r)
    return rows, labels, groups


def wrap_label(text: str, height_in: float, fontsize: float = 8.0) -> str:
    """Break a row label into lines no longer than the row is tall.

    So that labels of adjacent rows never overlap (a vertical label longer than its row runs into its
    neighbours').

    Parameters
    ----------
    text : str
        The label.
    height_in : float
        Height of the row, inches.
    fontsize : float, optional
        Font size of the label, points.

    Returns
    -------
    str
        The label with line breaks.

    Examples
    --------
    >>> wrap_label("proteasome: class average", 1.4).splitlines()
    ['proteasome: class', 'average']
    """
    width = max(6, int(height_in * 72 / (0.62 * fontsize)))  # characters per line: ~0.62 em per character
    return textwrap.fill(text, width, break_long_words=True)


def gallery(images, titles: Sequence[str] | None = None, ncols: int | None = None,
            row_labels: Sequence[str] | None = None, size: float = 1.6, scale: str = "image",
            cmap: str = "gray", suptitle: str | None = None):
    """Show images in a grid of at most :data:`MAX_COLUMNS` panels per row.

    Parameters
    ----------
    images : array_like
        ``(n, h, w)``, ``(rows, cols, h, w)`` or one ``(h, w)`` image. A 4D array is laid out as rows x
        cols; with more than :data:`MAX_COLUMNS` columns its columns are wrapped into blocks, one under
        the other, each with its column titles and row labels.
    titles : list of str, optional
        One per image (column titles for a 4D array).
    ncols : int, optional
        Panels per row of a 3D array (at most :data:`MAX_COLUMNS`).
    row_labels : list of str, optional
        One per row; wrapped to the row's height.
    size : float, optional
        Width and height of each panel, inches.
    scale : {"image", "row", "all"}, optional
        Grey levels stretched per image (min to max), per row or over all images (0.5 to 99.5 percentiles).
    cmap : str, optional
        Matplotlib colour map.
    suptitle : str, optional
        Title over the whole figure.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``ncols`` exceeds :data:`MAX_COLUMNS`, the array is neither 3D nor 4D, or ``scale`` is unknown.
    """
    if scale not in ("image", "row", "all"):
        raise ValueError(f"scale must be 'image', 'row' or 'all', got {scale!r}")
    a = np.asarray(images, np.float32)
    a = a[None] if a.ndim == 2 else a
    rows, labels, groups = _panels(a, titles, ncols, row_labels)
    nrows, ncols = len(rows), len(rows[0])
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)),
                             squeeze=False)
    lim_all = (np.percentile(a, 0.5), np.percentile(a, 99.5))
    lim_group = {}  # grey levels per row of the input (a wrapped row's blocks share them)
    for g in set(groups) if scale == "row" else ():
        imgs = [img for row, gr in zip(rows, groups) if gr == g for img, _ in row if img is not None]
        lim_group[g] = (np.percentile(imgs, 0.5), np.percentile(imgs, 99.5))
    for r, row in enumerate(rows):
        for c, (img, t) in enumerate(row):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for sp in ax.spines.values():
                sp.set_visible(False)
            if img is None:
                continue
            lim = {"image": (img.min(), img.max()), "all": lim_all}.get(scale) or lim_group[groups[r]]
            ax.imshow(img, cmap=cmap, vmin=lim[0], vmax=lim[1], interpolation="nearest")
            if t is not None:
                ax.set_title(t, fontsize=8)
            if c == 0 and labels[r] is not None:
                ax.set_ylabel(wrap_label(labels[r], size), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def curves(x, ys: dict, xlabel: str, ylabel: str, title: str | None = None, logx: bool = False,
           logy: bool = False, ax=None, markers: bool = True, hline: float | None = None):
    """Line plot of several named curves sharing ``x`` (or each with its own).

    Parameters
    ----------
    x : array_like
        ``(m,)`` abscissae shared by the curves given as plain arrays.
    ys : dict
        ``{name: y}`` with ``y`` of shape ``(m,)``, or ``{name: (x, y)}`` for a curve with its own abscissae;
        the names go into the legend.
    xlabel, ylabel : str
        Axis labels (with units).
    title : str, optional
        Title of the axes.
    logx, logy : bool, optional
        Logarithmic axes.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into (default: a new 5.5 x 3.5 inch figure).
    markers : bool, optional
        A dot at every point.
    hline : float, optional
        A dotted horizontal line at this height (a target, a baseline).

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the axes.
    """
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

    Parameters
    ----------
    histories : sequence of dict
        Each with a ``train_loss`` list and optionally ``val_loss`` (``History.as_dict()``), one value per epoch.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into (default: a new 5.5 x 3.5 inch figure).
    labels : sequence of str, optional
        One per history (e.g. ``"block 1"``), prefixed to the legend entries.
    title : str, optional
        Title of the axes.
    ylabel : str, optional
        Label of the loss axis.
    validation : bool, optional
        Draw the validation curves too.
    logy : bool, optional
        Logarithmic loss axis.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the axes.
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
    """One image with a colour bar (for CTFs and power spectra).

    Parameters
    ----------
    image : array_like
        ``(h, w)`` values to show.
    title : str, optional
        Title of the axes.
    cmap : str, optional
        Matplotlib colour map.
    symmetric : bool, optional
        Colour limits symmetric about 0 (``-max|image|`` to ``max|image|``); else the image's range.
    extent : tuple of float, optional
        ``(left, right, bottom, top)`` in data units (e.g. spatial frequency, 1/Angstrom); the origin is
        then at the bottom left.
    xlabel, ylabel : str, optional
        Axis labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
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
    """A confusion matrix with counts written in the cells.

    Parameters
    ----------
    matrix : array_like
        ``(n_rows, n_cols)`` counts (or fractions): rows the true classes, columns the found ones.
    row_names : sequence of str
        ``n_rows`` names, on the vertical axis.
    col_names : sequence of str
        ``n_cols`` names, on the horizontal axis.
    title : str, optional
        Title of the axes.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into (default: a new figure sized to the matrix).

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the axes.
    """
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


def keep(fig, key: str, caption: str | None = None) -> None:
    """Keep a figure for the book's figure bank (``book/figure_bank.md``) under ``key``.

    Uses myst-nb's ``glue`` (the figure is stored with the cell's outputs, not shown twice) when the
    book's tools are installed; elsewhere (a plain notebook, Colab) it does nothing.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    key : str
        The figure's name in the figure bank.
    caption : str, optional
        Its caption, built by the calling cell from the data it plots (so that the caption cannot
        describe another figure); kept as text under ``key + "-caption"``, which the figure bank pastes
        with the ``glue:text`` role (``NN_chapter.ipynb::key-caption:s``).
    """
    try:
        from myst_nb import glue
    except ImportError:
        return
    glue(key, fig, display=False)
    if caption is not None:
        glue(f"{key}-caption", caption, display=False)
