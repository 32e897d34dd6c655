"""The command line end to end: simulate, train, denoise, cluster, evaluate."""

import pytest

from cdae_lite.cli import main
from cdae_lite.io.mrc import read_stack
from cdae_lite.io.star import read_star


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    assert main(["simulate", "--protein", "cxcr4", "--size", "16", "--per-view", "20", "--snr", "0.1", "0.4", "0.6",
                 "--clean", "-o", str(d)]) == 0
    return d


def test_train_single_from_pairs_and_cdae_from_a_ladder(sim, tmp_path, capsys):
    assert main(["train", str(sim / "cxcr4_snr0.1.mrcs"), "--target", str(sim / "cxcr4_clean.mrcs"),
                 "-o", str(tmp_path / "single.pt"), "--epochs", "2", "--device", "cpu"]) == 0
    assert main(["train", str(sim / "cxcr4_snr0.1.mrcs"), "--ladder", str(sim / "cxcr4_snr0.4.mrcs"),
                 str(sim / "cxcr4_snr0.6.mrcs"), str(sim / "cxcr4_clean.mrcs"), "-o", str(tmp_path / "cdae.pt"),
                 "--epochs", "2", "--device", "cpu"]) == 0
    assert "saved a 'cdae' model" in capsys.readouterr().out
    assert main(["train", str(sim / "cxcr4_snr0.1.mrcs"), "--start-from", str(tmp_path / "cdae.pt"),
                 "-o", str(tmp_path / "ft.pt"), "--epochs", "1", "--k", "5", "--device", "cpu"]) == 0
    # pairs of different lengths are refused
    assert main(["train", str(sim / "cxcr4_snr0.1.mrcs"), "--target", str(tmp_path / "nope.mrcs"),
                 "-o", str(tmp_path / "x.pt")]) == 2


def test_denoise_cluster_evaluate(sim, tmp_path, capsys):
    assert main(["train", str(sim / "cxcr4_snr0.1.mrcs"), "--target", str(sim / "cxcr4_clean.mrcs"),
                 "-o", str(tmp_path / "m.pt"), "--epochs", "3", "--device", "cpu"]) == 0
    assert main(["denoise", str(sim / "cxcr4_snr0.1.mrcs"), "-o", str(tmp_path / "den.mrcs"), "--model",
                 str(tmp_path / "m.pt"), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "denoised 80 images of 16 px" in out and "images/s" in out and "peak memory" in out
    den, px = read_stack(tmp_path / "den.mrcs")
    _, px_in = read_stack(sim / "cxcr4_snr0.1.mrcs")
    assert den.shape == (80, 16, 16) and px == pytest.approx(px_in)
    assert main(["evaluate", "--estimate", str(tmp_path / "den.mrcs"), "--clean", str(sim / "cxcr4_clean.mrcs")]) == 0
    assert "PSNR" in capsys.readouterr().out
    assert main(["cluster", str(tmp_path / "den.mrcs"), "-k", "4", "--star", str(sim / "cxcr4_snr0.1.star"),
                 "-o", str(tmp_path / "classes.star")]) == 0
    classes, _ = read_star(tmp_path / "classes.star")
    truth, _ = read_star(sim / "cxcr4_snr0.1.star")
    assert len(classes) == 80 and set(classes["rlnClassNumber"]) <= {1, 2, 3, 4}
    assert list(classes["rlnImageName"]) == list(truth["rlnImageName"])  # the input rows are kept
    avgs, _ = read_stack(tmp_path / "classes_averages.mrcs")
    assert avgs.shape == (4, 16, 16)
    assert main(["evaluate", "--labels", str(tmp_path / "classes.star"), "--truth", str(sim / "cxcr4_snr0.1.star")]) == 0
    assert "ari" in capsys.readouterr().out
    assert main(["cluster", str(sim / "cxcr4_snr0.1.mrcs"), "-k", "500", "-o", str(tmp_path / "c2.star")]) == 2
    assert main(["evaluate"]) == 2


def test_denoise_resample_equalize_and_gz(sim, tmp_path, capsys):
    import gzip
    import shutil

    assert main(["train", str(sim / "cxcr4_snr0.1.mrcs"), "--target", str(sim / "cxcr4_clean.mrcs"),
                 "-o", str(tmp_path / "m.pt"), "--epochs", "1", "--device", "cpu"]) == 0
    with open(sim / "cxcr4_snr0.1.mrcs", "rb") as f, gzip.open(tmp_path / "in.mrcs.gz", "wb") as g:
        shutil.copyfileobj(f, g)
    assert main(["denoise", str(tmp_path / "in.mrcs.gz"), "-o", str(tmp_path / "r.mrcs"), "--model",
                 str(tmp_path / "m.pt"), "--resample", "24", "--equalize", "--device", "cpu"]) == 0
    out, px = read_stack(tmp_path / "r.mrcs")
    _, px_in = read_stack(sim / "cxcr4_snr0.1.mrcs")
    assert out.shape == (80, 24, 24) and px == pytest.approx(px_in * 16 / 24)
    assert out.min() >= 0 and out.max() <= 1
