import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cdae_lite import plot  # noqa: E402

BOOK = Path(__file__).resolve().parents[1] / "book"


def test_book_figures_are_drawn_at_150_dpi_or_more(tmp_path):
    fig = plot.gallery(np.random.default_rng(0).normal(size=(4, 8, 8)), titles=list("abcd"), ncols=4)
    assert fig.dpi >= 150
    fig.savefig(tmp_path / "g.png")
    import matplotlib.image as mpimg
    height, width = mpimg.imread(tmp_path / "g.png").shape[:2]
    w_in, h_in = fig.get_size_inches()
    assert abs(width - w_in * plot.DPI) <= 2 and abs(height - h_in * plot.DPI) <= 2


def panel_grid(fig):
    """(rows, cols) of a gallery's axes grid, and the axes that show an image."""
    axes = fig.get_axes()
    spec = axes[0].get_subplotspec().get_gridspec()
    return (spec.nrows, spec.ncols), [ax for ax in axes if ax.get_images()]


def test_a_gallery_never_puts_more_than_six_panels_in_a_row():
    rng = np.random.default_rng(0)
    (rows, cols), shown = panel_grid(plot.gallery(rng.normal(size=(8, 8, 8))))
    assert (rows, cols) == (2, 6) and len(shown) == 8
    # 1.7's layout: 2 rows x 8 columns becomes two blocks of 4 columns, every column still titled once
    fig = plot.gallery(rng.normal(size=(2, 8, 8, 8)), titles=[f"view {i}" for i in range(8)],
                       row_labels=["clean", "noisy"])
    (rows, cols), shown = panel_grid(fig)
    assert cols <= plot.MAX_COLUMNS and rows * cols >= 16 and len(shown) == 16
    assert sorted(ax.get_title() for ax in shown if ax.get_title()) == sorted(f"view {i}" for i in range(8))
    assert [ax.get_ylabel() for ax in fig.get_axes() if ax.get_ylabel()] == ["clean", "noisy"] * 2
    with pytest.raises(ValueError, match="at most 6"):
        plot.gallery(rng.normal(size=(8, 8, 8)), ncols=8)


def test_row_labels_of_adjacent_rows_do_not_overlap():
    # chapter 5.3's class-average gallery: long labels on short rows ran into their neighbours
    labels = [f"{n}: {r}" for n in ("proteasome", "cxcr4", "adk") for r in ("class average", "clean view")]
    fig = plot.gallery(np.random.default_rng(0).normal(size=(6, 4, 8, 8)), titles=[f"view {v}" for v in range(4)],
                       row_labels=labels, size=1.4)
    fig.canvas.draw()
    boxes = [ax.yaxis.label.get_window_extent() for ax in fig.get_axes() if ax.get_ylabel()]
    assert len(boxes) == 6
    for upper, lower in zip(boxes, boxes[1:]):
        assert lower.y1 <= upper.y0, "a row label reaches into the next row's"


def test_keep_stores_the_caption_its_cell_built(monkeypatch):
    myst_nb = pytest.importorskip("myst_nb")
    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display=True: glued.update({key: value}))
    fig = plot.gallery(np.zeros((2, 8, 8)))
    plot.keep(fig, "fig-x", caption="two panels")
    assert glued == {"fig-x": fig, "fig-x-caption": "two panels"}


def test_the_figure_bank_pastes_every_computed_caption_its_chapter_keeps():
    # a caption written into book/figure_bank.md by hand can describe another figure (1.4's "three defoci"
    # under a plot of two); a computed one is pasted from the chapter that drew the figure
    bank = (BOOK / "figure_bank.md").read_text()
    pasted = re.findall(r"\{glue:text\}`([\w.]+)::([\w-]+)-caption:s`", bank)
    assert len(pasted) >= 4
    for notebook, key in pasted:
        code = "".join("".join(c["source"]) for c in json.loads((BOOK / notebook).read_text())["cells"]
                       if c["cell_type"] == "code")
        kept = re.search(rf'plot\.keep\(fig, "{key}",(\s*#[^\n]*)?\s*caption=', code)
        assert kept, f"{notebook} keeps no caption for {key}"


def test_no_chapter_lays_out_more_panels_per_row_than_a_gallery_allows():
    """A chapter's own ``plt.subplots(rows, cols)`` keeps to plot.MAX_COLUMNS columns, as plot.gallery does
    (issue 33: 8 or 10 panels per row made the titles unreadable)."""
    wide = []
    for path in sorted(BOOK.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            src = "".join(cell["source"]) if cell["cell_type"] == "code" else ""
            for m in re.finditer(r"subplots\(\s*[^,()]+,\s*(\d+)\s*[,)]", src):
                if int(m.group(1)) > plot.MAX_COLUMNS:
                    wide.append(f"{path.name}: {m.group(0)}")
    assert not wide, wide
