import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from cdae_lite import plot  # noqa: E402


def test_book_figures_are_drawn_at_150_dpi_or_more(tmp_path):
    fig = plot.gallery(np.random.default_rng(0).normal(size=(4, 8, 8)), titles=list("abcd"), ncols=4)
    assert fig.dpi >= 150
    fig.savefig(tmp_path / "g.png")
    import matplotlib.image as mpimg
    height, width = mpimg.imread(tmp_path / "g.png").shape[:2]
    w_in, h_in = fig.get_size_inches()
    assert abs(width - w_in * plot.DPI) <= 2 and abs(height - h_in * plot.DPI) <= 2
