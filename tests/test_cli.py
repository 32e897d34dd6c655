import pytest

from cdae_lite.cli import main
from cdae_lite.simulation.stacks import load_particles


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "simulate" in capsys.readouterr().out


def test_simulate_writes_stacks_and_star(tmp_path, capsys):
    rc = main(["simulate", "--protein", "adk", "--profile", "quick", "--per-view", "10", "--snr", "0.1", "0.4",
               "--clean", "-o", str(tmp_path)])
    assert rc == 0
    assert "wrote 3 stack(s) of 40 images" in capsys.readouterr().out
    imgs, parts, optics, px = load_particles(tmp_path / "adk_snr0.4.star")
    clean, *_ = load_particles(tmp_path / "adk_clean.star")
    assert imgs.shape == (40, 32, 32) and px > 0 and parts["cdaeSNR"].iloc[0] == 0.4
    ratio = clean.reshape(40, -1).var(1) / (imgs - clean).reshape(40, -1).var(1)
    assert abs(ratio.mean() / 0.4 - 1) < 0.05
    # a second run refuses to overwrite, with exit status 2 and nothing changed
    before = (tmp_path / "adk_snr0.4.mrcs").read_bytes()
    assert main(["simulate", "--protein", "adk", "--profile", "quick", "--per-view", "10", "--seed", "5",
                 "--snr", "0.4", "-o", str(tmp_path)]) == 2
    assert "exists" in capsys.readouterr().err
    assert (tmp_path / "adk_snr0.4.mrcs").read_bytes() == before


def test_user_mistakes_exit_2_without_traceback(tmp_path, capsys):
    assert main(["simulate", "--protein", "nope", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown protein" in err and "Traceback" not in err
    assert main(["simulate", "--protein", "adk", "--snr", "-1", "-o", str(tmp_path)]) == 2
    assert main(["simulate", "--map", str(tmp_path / "missing.mrc"), "-o", str(tmp_path)]) == 2
    assert "no map file" in capsys.readouterr().err


def test_quiet_prints_nothing_on_stderr_and_verbose_adds_debug_lines(tmp_path, capsys, monkeypatch):
    import logging

    from cdae_lite.runtime import progress_enabled

    monkeypatch.setenv("CDAE_PROGRESS", "1")
    sim = ["simulate", "--protein", "adk", "--profile", "quick", "--per-view", "5", "--snr", "0.1", "-o"]
    assert main(["--quiet", *sim, str(tmp_path / "q")]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "wrote 1 stack(s) of 20 images" in out  # results stay on stdout
    assert main([*sim, str(tmp_path / "d")]) == 0  # the default: progress bars, no debug lines
    err = capsys.readouterr().err
    assert "simulating adk" in err and "simulating 20 images" not in err
    assert main([*sim, str(tmp_path / "v"), "--verbose"]) == 0  # after the command's name too
    err = capsys.readouterr().err
    assert "simulating 20 images of 32 px" in err and "adk_snr0.1.star" in err
    assert main(["-q", "simulate", "--protein", "nope", "-o", str(tmp_path / "e")]) == 2  # errors stay
    assert capsys.readouterr().err.startswith("cdae-lite simulate: error: unknown protein")
    logger = logging.getLogger("cdae_lite")  # what a command changed is put back
    assert [type(h) for h in logger.handlers] == [logging.NullHandler] and logger.propagate and progress_enabled()
    with pytest.raises(SystemExit):
        main(["--quiet", "--verbose", "simulate"])
    assert "not allowed with argument" in capsys.readouterr().err
