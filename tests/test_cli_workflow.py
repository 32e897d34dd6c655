"""The command line end to end: simulate, train, denoise, cluster, evaluate."""

import numpy as np
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
                 "-o", str(tmp_path / "classes.star"), "--by-position"]) == 0
    classes, _ = read_star(tmp_path / "classes.star")
    truth, _ = read_star(sim / "cxcr4_snr0.1.star")
    assert len(classes) == 80 and set(classes["rlnClassNumber"]) <= {1, 2, 3, 4}
    assert list(classes["rlnImageName"]) == list(truth["rlnImageName"])  # the input rows are kept
    # without --by-position, a STAR naming another stack is refused
    assert main(["cluster", str(tmp_path / "den.mrcs"), "-k", "4", "--star", str(sim / "cxcr4_snr0.1.star"),
                 "-o", str(tmp_path / "other.star")]) == 2
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


def test_denoise_handles_dark_particles_by_inverting_and_back(sim, tmp_path, capsys):
    from cdae_lite.io.mrc import write_stack

    bright, px = read_stack(sim / "cxcr4_snr0.1.mrcs")
    write_stack(tmp_path / "dark.mrcs", -bright, px)
    assert main(["denoise", str(sim / "cxcr4_snr0.1.mrcs"), "-o", str(tmp_path / "b.mrcs"), "--device", "cpu"]) == 0
    assert "particles bright" in capsys.readouterr().out  # the default model, no inversion
    assert main(["denoise", str(tmp_path / "dark.mrcs"), "-o", str(tmp_path / "d.mrcs"), "--device", "cpu"]) == 0
    assert "particles dark, inverted for the model and back" in capsys.readouterr().out
    b, _ = read_stack(tmp_path / "b.mrcs")
    d, _ = read_stack(tmp_path / "d.mrcs")
    assert abs(d + b).max() < 1e-4 * abs(b).max()  # the dark stack's output is the bright one's, negated
    assert main(["denoise", str(tmp_path / "dark.mrcs"), "-o", str(tmp_path / "n.mrcs"), "--no-invert",
                 "--device", "cpu"]) == 0
    assert "particles dark) ->" in capsys.readouterr().out  # detected, and left as asked
    n, _ = read_stack(tmp_path / "n.mrcs")
    assert abs(n + b).max() > 1e-3 * abs(b).max()  # without inversion the model sees another image


def test_cluster_negates_dark_particles_for_the_denoisers(sim, tmp_path, capsys):
    # denoised-space clustering of a dark stack must equal that of the bright stack it was made from
    from cdae_lite.io.mrc import write_stack

    bright, px = read_stack(sim / "cxcr4_snr0.1.mrcs")
    write_stack(tmp_path / "dark.mrcs", -bright, px)
    args = ["-k", "4", "--denoise", "shipped", "--no-refine", "--device", "cpu"]
    assert main(["cluster", str(sim / "cxcr4_snr0.1.mrcs"), *args, "-o", str(tmp_path / "b.star")]) == 0
    assert "particles dark" not in capsys.readouterr().out
    assert main(["cluster", str(tmp_path / "dark.mrcs"), *args, "-o", str(tmp_path / "d.star")]) == 0
    assert "particles dark: negated for the denoiser and back" in capsys.readouterr().out
    b = read_star(tmp_path / "b.star")[0]["rlnClassNumber"].to_numpy()
    d = read_star(tmp_path / "d.star")[0]["rlnClassNumber"].to_numpy()
    assert (b == d).all()  # the same denoised images, so the same classes
    assert main(["cluster", str(tmp_path / "dark.mrcs"), *args, "--no-invert", "-o", str(tmp_path / "n.star")]) == 0
    assert "particles dark" not in capsys.readouterr().out


def test_denoise_calibrates_the_shipped_cdae_by_default(sim, tmp_path, capsys):
    assert main(["denoise", str(sim / "cxcr4_snr0.1.mrcs"), "-o", str(tmp_path / "c.mrcs"), "--model", "cdae",
                 "--device", "cpu"]) == 0
    assert "contrast calibrated x" in capsys.readouterr().out  # its recorded gain, 0.29, is far from 1
    assert main(["denoise", str(sim / "cxcr4_snr0.1.mrcs"), "-o", str(tmp_path / "u.mrcs"), "--model", "cdae",
                 "--no-calibrate", "--device", "cpu"]) == 0
    assert "calibrated" not in capsys.readouterr().out
    c, _ = read_stack(tmp_path / "c.mrcs")
    u, _ = read_stack(tmp_path / "u.mrcs")
    assert c.std(axis=(1, 2)).mean() > 1.5 * u.std(axis=(1, 2)).mean()  # contrast the cascade shrank, restored


def test_denoise_stack_aware_averages_look_alikes(sim, tmp_path, capsys):
    src = sim / "cxcr4_snr0.1.mrcs"
    assert main(["denoise", str(src), "-o", str(tmp_path / "one.mrcs"), "--device", "cpu"]) == 0
    assert main(["denoise", str(src), "-o", str(tmp_path / "sa.mrcs"), "--stack-aware", "--neighbours", "10",
                 "--no-align", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "stack-aware (10 look-alikes), symmetrised over 8 flips and transposes" in out
    one, sa = read_stack(tmp_path / "one.mrcs")[0], read_stack(tmp_path / "sa.mrcs")[0]
    clean = read_stack(sim / "cxcr4_clean.mrcs")[0][:len(one)]
    assert sa.shape == one.shape
    assert ((sa - clean) ** 2).mean() < ((one - clean) ** 2).mean()  # exact views: averaging helps
    # an existing output is refused before the minutes of work the stack-aware mode takes
    assert main(["denoise", str(src), "-o", str(tmp_path / "sa.mrcs"), "--stack-aware"]) == 2


def test_denoise_symmetrize_averages_the_model_over_flips_on_request_only(sim, tmp_path, capsys):
    src = sim / "cxcr4_snr0.1.mrcs"
    assert main(["denoise", str(src), "-o", str(tmp_path / "one.mrcs"), "--device", "cpu"]) == 0
    assert "symmetrised" not in capsys.readouterr().out  # single images: off by default (8x the time)
    assert main(["denoise", str(src), "-o", str(tmp_path / "sym.mrcs"), "--symmetrize", "8", "--device", "cpu"]) == 0
    assert "symmetrised over 8 flips and transposes" in capsys.readouterr().out
    one, sym = read_stack(tmp_path / "one.mrcs")[0], read_stack(tmp_path / "sym.mrcs")[0]
    assert main(["denoise", str(src), "-o", str(tmp_path / "one.mrcs"), "--symmetrize", "8", "--overwrite",
                 "--device", "cpu"]) == 0
    np.testing.assert_allclose(read_stack(tmp_path / "one.mrcs")[0], sym, atol=1e-5)  # seeded: the same again
    assert np.abs(one - sym).max() > 1e-3
    with pytest.raises(SystemExit):
        main(["denoise", str(src), "-o", str(tmp_path / "x.mrcs"), "--symmetrize", "3"])


def test_cluster_refines_labels_by_default_and_not_with_no_refine(sim, tmp_path, capsys):
    src = str(sim / "cxcr4_snr0.1.mrcs")
    assert main(["cluster", src, "-k", "4", "-o", str(tmp_path / "a.star")]) == 0
    out = capsys.readouterr().out
    assert "refined against denoised class averages" in out and "converged" in out
    assert main(["cluster", src, "-k", "4", "--no-refine", "-o", str(tmp_path / "b.star")]) == 0
    assert "refined" not in capsys.readouterr().out
    truth = read_star(sim / "cxcr4_snr0.1.star")[0]["rlnClassNumber"]
    from cdae_lite.metrics import clustering_scores

    f1 = {n: clustering_scores(truth, read_star(tmp_path / f"{n}.star")[0]["rlnClassNumber"])["f1"] for n in "ab"}
    assert f1["a"] >= f1["b"] - 0.05  # the loop does not undo a good clustering


def test_denoise_ctf_aware_takes_each_particles_ctf_from_the_star_file(tmp_path, capsys):
    assert main(["simulate", "--protein", "adk", "--size", "16", "--per-view", "12", "--snr", "0.1", "--preset",
                 "realistic", "-o", str(tmp_path)]) == 0
    star = tmp_path / "adk_snr0.1.star"
    parts, _ = read_star(star)
    assert parts["rlnDefocusU"].nunique() > 1  # each particle under its own CTF
    capsys.readouterr()
    assert main(["denoise", str(star), "-o", str(tmp_path / "den.star"), "--stack-aware", "--ctf-aware",
                 "--neighbours", "5", "--device", "cpu"]) == 0
    assert "CTF-aware" in capsys.readouterr().out
    out, _ = read_star(tmp_path / "den.star")
    assert len(out) == len(parts)
    # a bare stack has no CTFs, and --ctf-aware is a way of --stack-aware: one line each, nothing written
    assert main(["denoise", str(tmp_path / "adk_snr0.1.mrcs"), "-o", str(tmp_path / "x.mrcs"), "--stack-aware",
                 "--ctf-aware"]) == 2
    assert main(["denoise", str(star), "-o", str(tmp_path / "y.star"), "--ctf-aware"]) == 2
    assert "add --stack-aware" in capsys.readouterr().err
    assert not (tmp_path / "x.mrcs").exists() and not (tmp_path / "y.star").exists()
