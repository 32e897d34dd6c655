"""Bad inputs to the command line: each gives a clear one-line error (exit status 2), writes nothing,
and leaves the input as it was."""

import os
import pickle

import mrcfile
import numpy as np
import pandas as pd
import pytest
import torch

from cdae_lite.cli import main
from cdae_lite.denoise.checkpoint import save_model
from cdae_lite.denoise.models import AEConfig, DnCNNConfig, autoencoder, dncnn
from cdae_lite.io.mrc import write_stack
from cdae_lite.io.star import image_names, read_star, write_star


@pytest.fixture
def env(tmp_path, monkeypatch):
    # progress bars on, as for a user at a terminal: the error must still be one clean last line
    monkeypatch.setenv("CDAE_PROGRESS", "1")
    rng = np.random.default_rng(0)
    stack = write_stack(tmp_path / "in.mrcs", rng.normal(size=(12, 16, 16)).astype(np.float32), 2.0)
    torch.manual_seed(0)
    model = save_model(tmp_path / "model.pt", autoencoder(AEConfig(channels=4)), "autoencoder", {"channels": 4})
    return tmp_path, stack, model


def _run(capsys, args):
    rc = main(args)
    err = capsys.readouterr().err
    return rc, err


def _check_failed(rc, err, fragment, tmp_path, before, out="out.mrcs"):
    assert rc == 2, err
    err = err.replace(str(tmp_path), "<tmp>")  # the fragment must come from the message, not the test's path
    assert "Traceback" not in err
    lines = err.rstrip("\n").split("\n")
    assert lines[-1].startswith("cdae-lite ") and fragment.lower() in lines[-1].lower(), err  # own, last line
    assert sum("error" in line for line in lines) == 1, err  # said once
    assert not (tmp_path / out).exists()
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before


def _snapshot(tmp_path):
    return {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}


def _denoise(env, inp, out="out.mrcs", extra=()):
    tmp_path, _, model = env
    return ["denoise", str(inp), "-o", str(tmp_path / out), "--model", str(model), "--device", "cpu", *extra]


def test_a_good_stack_denoises(env, capsys):
    tmp_path, stack, model = env
    rc, err = _run(capsys, _denoise(env, stack))
    assert rc == 0, err
    with mrcfile.open(tmp_path / "out.mrcs") as m:
        assert m.data.shape == (12, 16, 16) and float(m.voxel_size.x) == pytest.approx(2.0)


def test_one_image_is_fine(env, capsys):
    tmp_path, _, _ = env
    one = write_stack(tmp_path / "one.mrcs", np.random.default_rng(1).normal(size=(1, 16, 16)).astype(np.float32), 1.0)
    rc, err = _run(capsys, _denoise(env, one))
    assert rc == 0, err


def _write_bytes(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, fragment", [
    (lambda d: d / "missing.mrcs", "no such stack file"),
    (lambda d: _write_bytes(d / "empty.mrcs", b""), "empty.mrcs is empty (0 bytes)"),
    (lambda d: _write_bytes(d / "junk.mrcs", b"GIF89a" + b"\0" * 2000), "not a valid MRC"),
    (lambda d: _write_bytes(d / "short.mrcs", b"\0" * 100), "too short"),
])
def test_unreadable_inputs(env, capsys, make, fragment):
    tmp_path, _, _ = env
    bad = make(tmp_path)
    before = _snapshot(tmp_path)
    _check_failed(*_run(capsys, _denoise(env, bad)), fragment, tmp_path, before)


def test_truncated_mrc(env, capsys):
    tmp_path, stack, _ = env
    data = stack.read_bytes()
    bad = _write_bytes(tmp_path / "trunc.mrcs", data[: len(data) - 500])
    before = _snapshot(tmp_path)
    _check_failed(*_run(capsys, _denoise(env, bad)), "trunc.mrcs is truncated", tmp_path, before)


def test_unsupported_mode(env, capsys):
    tmp_path, _, _ = env
    with mrcfile.new(tmp_path / "complex.mrcs") as m:
        m.set_data(np.zeros((2, 8, 8), np.complex64))
        m.set_image_stack()
    before = _snapshot(tmp_path)
    _check_failed(*_run(capsys, _denoise(env, tmp_path / "complex.mrcs")), "mode", tmp_path, before)


def test_a_3d_map_where_a_stack_is_expected(env, capsys):
    tmp_path, _, _ = env
    with mrcfile.new(tmp_path / "map.mrc") as m:
        m.set_data(np.zeros((16, 16, 16), np.float32))
        m.set_volume()
    before = _snapshot(tmp_path)
    _check_failed(*_run(capsys, _denoise(env, tmp_path / "map.mrc")), "3D map", tmp_path, before)


def test_zero_images(env, capsys):
    tmp_path, stack, _ = env
    with mrcfile.new(tmp_path / "zero.mrcs") as m:
        m.set_data(np.zeros((1, 16, 16), np.float32))
        m.set_image_stack()
        m.header.nz = 0
        m.header.mz = 0
    data = (tmp_path / "zero.mrcs").read_bytes()
    _write_bytes(tmp_path / "zero.mrcs", data[:1024])
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, _denoise(env, tmp_path / "zero.mrcs"))
    _check_failed(rc, err, "no images" if "no images" in err else "too short", tmp_path, before)


def test_non_square_images(env, capsys):
    tmp_path, _, _ = env
    with mrcfile.new(tmp_path / "rect.mrcs") as m:
        m.set_data(np.zeros((3, 16, 20), np.float32))
        m.set_image_stack()
    before = _snapshot(tmp_path)
    _check_failed(*_run(capsys, _denoise(env, tmp_path / "rect.mrcs")), "non-square", tmp_path, before)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_and_inf_pixels(env, capsys, value):
    tmp_path, _, _ = env
    x = np.random.default_rng(2).normal(size=(600, 16, 16)).astype(np.float32)
    x[555, 3, 3] = value  # deep into the stack: found while streaming, after other batches were written
    bad = tmp_path / "nan.mrcs"
    with mrcfile.new(bad) as m:  # write_stack itself refuses NaN, so write the bad file directly
        m.set_data(x)
        m.set_image_stack()
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, _denoise(env, bad, extra=["--batch-size", "100"]))
    _check_failed(rc, err, "image 555", tmp_path, before)


def test_output_equal_to_input(env, capsys):
    tmp_path, stack, model = env
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, ["denoise", str(stack), "-o", str(stack), "--model", str(model)])
    assert rc == 2 and "is the input" in err and _snapshot(tmp_path) == before


def test_existing_output_is_not_overwritten(env, capsys):
    tmp_path, stack, _ = env
    (tmp_path / "out.mrcs").write_bytes(b"precious")
    rc, err = _run(capsys, _denoise(env, stack))
    assert rc == 2 and "exists" in err and (tmp_path / "out.mrcs").read_bytes() == b"precious"


def test_output_directory_not_writable(env, capsys, tmp_path):
    _, stack, model = env
    rc, err = _run(capsys, ["denoise", str(stack), "-o", "/proc/cdae-out.mrcs", "--model", str(model)])
    assert rc == 2 and ("cannot create" in err or "not writable" in err)
    rc, err = _run(capsys, ["denoise", str(stack), "-o", str(tmp_path / "nodir" / "o.mrcs"), "--model", str(model)])
    assert rc == 2 and "does not exist" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory(env, capsys):
    tmp_path, stack, model = env
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    rc, err = _run(capsys, ["denoise", str(stack), "-o", str(ro / "o.mrcs"), "--model", str(model)])
    assert rc == 2 and "not writable" in err


def test_star_rows_are_paired_with_images_by_name_not_position(env, capsys):
    tmp_path, stack, _ = env
    names = image_names(12, "in.mrcs")
    write_star(tmp_path / "in.star", pd.DataFrame({"rlnImageName": names}))
    write_star(tmp_path / "rev.star", pd.DataFrame({"rlnImageName": names[::-1][:7]}))  # reordered subset
    for star in ("in", "rev"):
        rc, err = _run(capsys, ["cluster", str(stack), "-k", "3", "--star", str(tmp_path / f"{star}.star"),
                                "-o", str(tmp_path / f"{star}_classes.star"), "--no-refine"])
        assert rc == 0, err
    fwd, _ = read_star(tmp_path / "in_classes.star")
    rev, _ = read_star(tmp_path / "rev_classes.star")
    by_name = dict(zip(fwd["rlnImageName"], fwd["rlnClassNumber"]))
    assert len(rev) == 7 and all(by_name[n] == c for n, c in zip(rev["rlnImageName"], rev["rlnClassNumber"]))


@pytest.mark.parametrize("names, fragment", [
    (image_names(12, "other.mrcs"), "names images of other.mrcs, not of in.mrcs"),
    (image_names(13, "in.mrcs"), "names image 13 but in.mrcs holds images 1 to 12"),
    (["in.mrcs"] * 12, "must be index@file"),
])
def test_star_naming_other_images_is_refused_before_any_work(env, capsys, names, fragment):
    tmp_path, stack, _ = env
    write_star(tmp_path / "in.star", pd.DataFrame({"rlnImageName": names}))
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, ["cluster", str(stack), "-k", "2", "--star", str(tmp_path / "in.star"),
                            "-o", str(tmp_path / "classes.star")])
    _check_failed(rc, err, fragment, tmp_path, before, out="classes.star")


def test_checkpoint_of_an_unknown_architecture(env, capsys):
    tmp_path, stack, model = env
    payload = torch.load(model, weights_only=True)
    payload["architecture"] = "vision-transformer"
    torch.save(payload, tmp_path / "vit.pt")
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, ["denoise", str(stack), "-o", str(tmp_path / "out.mrcs"), "--model", str(tmp_path / "vit.pt")])
    _check_failed(rc, err, "unknown architecture", tmp_path, before)


def test_checkpoint_whose_weights_belong_to_another_architecture(env, capsys):
    tmp_path, stack, _ = env
    path = save_model(tmp_path / "dn.pt", dncnn(DnCNNConfig(depth=3, channels=4)), "dncnn", {"depth": 3, "channels": 4})
    payload = torch.load(path, weights_only=True)
    payload["architecture"], payload["config"] = "autoencoder", {"channels": 4}
    torch.save(payload, tmp_path / "mislabelled.pt")
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, ["denoise", str(stack), "-o", str(tmp_path / "out.mrcs"), "--model",
                            str(tmp_path / "mislabelled.pt")])
    _check_failed(rc, err, "do not fit", tmp_path, before)


@pytest.mark.parametrize("change, fragment", [
    (lambda p: p.update(config=[4]), "its config is a list"),
    (lambda p: p.update(config={"channels": "4"}), "does not describe a 'autoencoder' model"),
    (lambda p: p.update(config={"channels": 10**5}), "do not fit"),  # refused before allocating 10^10 weights
    (lambda p: p.update(state_dict={}), "holds no weights"),
    (lambda p: p.pop("state_dict"), "holds no weights"),
    (lambda p: p.update(architecture="cdae", n_blocks=10**9), "n_blocks must be a whole number"),
    (lambda p: p.update(architecture="cdae", n_blocks="3"), "n_blocks must be a whole number"),
    (lambda p: p.update(architecture="cdae") or p.pop("n_blocks"), "n_blocks must be a whole number"),
])
def test_crafted_checkpoint_fields_are_one_line(env, capsys, change, fragment):
    tmp_path, stack, model = env
    payload = torch.load(model, weights_only=True)
    change(payload)
    torch.save(payload, tmp_path / "crafted.pt")
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, ["denoise", str(stack), "-o", str(tmp_path / "out.mrcs"), "--model",
                            str(tmp_path / "crafted.pt")])
    _check_failed(rc, err, fragment, tmp_path, before)


def test_an_empty_checkpoint_file_and_a_bad_device_name(env, capsys):
    tmp_path, stack, model = env
    (tmp_path / "empty.pt").write_bytes(b"")
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, ["denoise", str(stack), "-o", str(tmp_path / "out.mrcs"), "--model", str(tmp_path / "empty.pt")])
    _check_failed(rc, err, "is not a cdae-lite checkpoint", tmp_path, before)
    rc, err = _run(capsys, ["denoise", str(stack), "-o", str(tmp_path / "out.mrcs"), "--model", str(model),
                            "--device", "gpu"])
    _check_failed(rc, err, "unknown device 'gpu'", tmp_path, before)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/cdae-lite-pwned",))


def test_a_file_that_is_not_a_checkpoint_never_runs_code(env, capsys):
    tmp_path, stack, _ = env
    if os.path.exists("/tmp/cdae-lite-pwned"):
        os.remove("/tmp/cdae-lite-pwned")
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"format": "cdae-lite-checkpoint-1", "x": _Evil()}))
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, ["denoise", str(stack), "-o", str(tmp_path / "out.mrcs"), "--model", str(evil)])
    _check_failed(rc, err, "not a cdae-lite checkpoint", tmp_path, before)
    assert not os.path.exists("/tmp/cdae-lite-pwned")


@pytest.mark.parametrize("snr", ["0", "nan"])
def test_simulate_with_a_bad_snr_creates_nothing(tmp_path, capsys, snr):
    rc, err = _run(capsys, ["simulate", "--protein", "adk", "--snr", snr, "-o", str(tmp_path / "sim")])
    assert rc == 2 and "SNR must be a positive number" in err, err
    assert not (tmp_path / "sim").exists()  # not even an empty folder


def test_simulate_refuses_names_it_would_write_twice_or_over_an_existing_star(tmp_path, capsys, monkeypatch):
    from cdae_lite.simulation import write

    args = ["simulate", "--protein", "adk", "--size", "16", "--per-view", "2", "-o", str(tmp_path / "sim")]
    rc, err = _run(capsys, [*args, "--snr", "0.1", "0.1000001"])  # both format as snr0.1
    assert rc == 2 and "same file name twice" in err and not (tmp_path / "sim").exists()
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "adk_snr0.1.star").write_text("someone's labels\n")
    monkeypatch.setattr(write, "simulate_blocks", lambda *a, **k: pytest.fail("simulated before checking outputs"))
    rc, err = _run(capsys, [*args, "--snr", "0.1"])
    assert rc == 2 and "adk_snr0.1.star exists" in err
    assert sorted(p.name for p in (tmp_path / "sim").iterdir()) == ["adk_snr0.1.star"]  # no orphan .mrcs


def test_simulate_that_fails_midway_leaves_no_folder(tmp_path, capsys, monkeypatch):
    from cdae_lite.simulation import write

    def broken(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(write, "simulate_blocks", broken)
    rc, err = _run(capsys, ["simulate", "--protein", "adk", "--size", "16", "--per-view", "2", "--snr", "0.1",
                            "-o", str(tmp_path / "new")])
    assert rc == 2 and "No space left on device" in err and not (tmp_path / "new").exists()


def test_cluster_refuses_averages_that_would_replace_the_labels(env, capsys):
    tmp_path, stack, _ = env
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, ["cluster", str(stack), "-k", "2", "-o", str(tmp_path / "c.star"),
                            "--averages", str(tmp_path / "c.star")])
    _check_failed(rc, err, "are the same file", tmp_path, before, out="c.star")


def test_cluster_refuses_an_existing_output_before_doing_the_work(env, capsys, monkeypatch):
    from cdae_lite.cluster import stacks

    tmp_path, stack, _ = env
    (tmp_path / "classes.star").write_text("old labels\n")
    before = _snapshot(tmp_path)
    monkeypatch.setattr(stacks, "cluster_file", lambda *a, **k: pytest.fail("clustered before checking the output"))
    rc, err = _run(capsys, ["cluster", str(stack), "-k", "2", "-o", str(tmp_path / "classes.star")])
    _check_failed(rc, err, "classes.star exists", tmp_path, before, out="classes_averages.mrcs")


def test_cluster_one_image_and_a_gzipped_stack(env, capsys):
    import gzip

    tmp_path, stack, _ = env
    one = write_stack(tmp_path / "one.mrcs", np.random.default_rng(1).normal(size=(1, 16, 16)).astype(np.float32), 1.0)
    rc, err = _run(capsys, ["cluster", str(one), "-k", "1", "-o", str(tmp_path / "one.star")])
    assert rc == 0, err
    with open(stack, "rb") as f, gzip.open(tmp_path / "in.mrcs.gz", "wb") as g:
        g.write(f.read())
    rc, err = _run(capsys, ["cluster", str(tmp_path / "in.mrcs.gz"), "-k", "3", "-o", str(tmp_path / "gz.star")])
    assert rc == 0, err
    with mrcfile.open(tmp_path / "gz_averages.mrcs") as m:
        assert m.data.shape == (3, 16, 16) and float(m.voxel_size.x) == pytest.approx(2.0)


def test_cluster_with_a_star_file_checks_the_stack_first(env, capsys):
    tmp_path, _, _ = env
    junk = _write_bytes(tmp_path / "junk.mrcs", b"not an mrc file at all " * 100)
    write_star(tmp_path / "in.star", pd.DataFrame({"rlnImageName": image_names(5, "junk.mrcs")}))
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, ["cluster", str(junk), "-k", "2", "--star", str(tmp_path / "in.star"),
                            "-o", str(tmp_path / "classes.star")])
    _check_failed(rc, err, "is not a valid MRC file", tmp_path, before, out="classes.star")


def test_train_refuses_an_input_as_its_output_before_any_training(env, capsys, monkeypatch):
    from cdae_lite.denoise import train

    tmp_path, stack, _ = env
    monkeypatch.setattr(train, "fit", lambda *a, **k: pytest.fail("trained before checking the output"))
    before = _snapshot(tmp_path)
    for extra in (["--target", str(stack)], ["--ladder", str(stack)]):
        rc, err = _run(capsys, ["train", str(stack), *extra, "-o", str(stack), "--overwrite"])
        assert rc == 2 and "is the input file" in err, err
    with pytest.raises(SystemExit) as exc:  # argparse: usage and one error line, status 2
        main(["train", str(stack), "--target", str(stack), "-o", str(tmp_path / "m.pt"), "--batch-size", "0"])
    assert exc.value.code == 2 and "--batch-size: must be at least 1, got 0" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before  # nothing written, the stack untouched


def test_a_broken_model_never_writes_non_finite_pixels(env, capsys, tmp_path):
    import torch

    from cdae_lite.denoise import autoencoder, save_model

    root, stack, _ = env
    m = autoencoder()
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(float("nan"))
    save_model(tmp_path / "nan.pt", m, "autoencoder", {})
    rc, err = _run(capsys, ["denoise", str(stack), "-o", str(tmp_path / "out.mrcs"), "--model", str(tmp_path / "nan.pt"),
                            "--no-invert"])
    assert rc == 2 and "NaN or infinite" in err and not (tmp_path / "out.mrcs").exists()
    rc, err = _run(capsys, ["denoise", str(stack), "-o", str(tmp_path / "o2.mrcs"), "--model", str(tmp_path / "nan.pt"),
                            "--device", "gpu"])
    assert rc == 2 and err.strip().splitlines() == ["cdae-lite denoise: error: unknown device 'gpu': use cpu, cuda "
                                                    "or cuda:N"]  # one line, before any progress bar


class _Signals(torch.nn.Module):
    """A stand-in denoiser that sends this process a signal (or raises an error) on its second batch."""

    def __init__(self, action):
        super().__init__()
        self.calls, self.action = 0, action

    def forward(self, x):
        self.calls += 1
        if self.calls == 2:
            self.action()
        return x


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_signal_during_denoise_leaves_nothing_behind(env, capsys, monkeypatch, name):
    import signal

    import cdae_lite.denoise as den

    tmp_path, stack, _ = env
    sig = getattr(signal, name)
    model = _Signals(lambda: os.kill(os.getpid(), sig))
    monkeypatch.setattr(den, "load_denoiser", lambda spec: (model, {"architecture": "test"}, stack))
    before, handler = _snapshot(tmp_path), signal.getsignal(sig)
    rc, err = _run(capsys, ["denoise", str(stack), "-o", str(tmp_path / "out.mrcs"), "--batch-size", "4",
                            "--no-invert", "--device", "cpu"])
    assert rc == 128 + sig and f"stopped by {name}" in err and "Traceback" not in err
    assert model.calls == 2 and not (tmp_path / "out.mrcs").exists()
    assert _snapshot(tmp_path) == before and not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    assert signal.getsignal(sig) == handler  # the previous handler is restored


@pytest.mark.parametrize("error, fragment", [
    (OSError(28, "No space left on device"), "no space left on device"),
    (MemoryError(), "out of memory"),
    (EOFError("Compressed file ended before the end-of-stream marker was reached"), "compressed file ended"),
])
def test_a_full_disk_or_memory_mid_run_is_one_line(env, capsys, monkeypatch, error, fragment):
    import cdae_lite.denoise as den

    tmp_path, stack, _ = env

    def fail():
        raise error

    monkeypatch.setattr(den, "load_denoiser", lambda spec: (_Signals(fail), {"architecture": "test"}, stack))
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, ["denoise", str(stack), "-o", str(tmp_path / "out.mrcs"), "--batch-size", "4",
                            "--no-invert", "--device", "cpu"])
    _check_failed(rc, err, fragment, tmp_path, before)


def test_a_negative_image_size_in_the_header_and_a_star_without_particles(env, capsys):
    tmp_path, stack, _ = env
    bad = tmp_path / "neg.mrcs"
    bad.write_bytes(stack.read_bytes())
    with mrcfile.open(bad, "r+", permissive=True) as m:
        m.header.nx = -16
    (tmp_path / "optics.star").write_text("\ndata_optics\n\nloop_\n_rlnOpticsGroup #1\n_rlnImagePixelSize #2\n1 2.0\n")
    before = _snapshot(tmp_path)
    rc, err = _run(capsys, ["cluster", str(bad), "-k", "2", "-o", str(tmp_path / "c.star")])
    _check_failed(rc, err, "could not be read as MRC", tmp_path, before, out="c.star")
    rc, err = _run(capsys, ["cluster", str(stack), "-k", "2", "--star", str(tmp_path / "optics.star"),
                            "-o", str(tmp_path / "c.star")])
    _check_failed(rc, err, "holds only an optics block", tmp_path, before, out="c.star")


def test_small_items_output_names_pixel_size_as_stack_and_bugs(env, capsys, monkeypatch):
    tmp_path, stack, model = env
    before = _snapshot(tmp_path)
    for out, fragment in ((str(tmp_path) + "/newdir/", "is a folder"), (str(tmp_path / "o.mrcs.gz"), "ends in .gz")):
        with pytest.raises(SystemExit) as stop:  # refused while the arguments are parsed
            main(["denoise", str(stack), "-o", out, "--model", str(model)])
        _check_failed(stop.value.code, capsys.readouterr().err, fragment, tmp_path, before)
        with pytest.raises(IsADirectoryError if out.endswith("/") else ValueError, match=fragment):
            from cdae_lite.denoise import denoise_file

            denoise_file(None, stack, out)  # the library refuses too
    assert not (tmp_path / "newdir").exists()
    # a negative pixel size in the input is not copied to the output
    neg = tmp_path / "negpx.mrcs"
    neg.write_bytes(stack.read_bytes())
    with mrcfile.open(neg, "r+", permissive=True) as m:
        m.voxel_size = (-2.0, -2.0, 1.0)
    assert _run(capsys, ["denoise", str(neg), "-o", str(tmp_path / "d.mrcs"), "--model", str(model)])[0] == 0
    with mrcfile.open(tmp_path / "d.mrcs") as m:
        assert float(m.voxel_size.x) == 0.0
    assert mrcfile.validate(str(tmp_path / "d.mrcs"), print_file=open(os.devnull, "w"))
    # cluster reads a cubic file flagged as a map with --as-stack, as denoise does
    cube = write_stack(tmp_path / "cube.mrc", np.random.default_rng(2).normal(size=(16, 16, 16)).astype(np.float32), 1.0)
    with mrcfile.open(cube, "r+") as m:
        m.set_volume()
    assert _run(capsys, ["cluster", str(cube), "-k", "2", "-o", str(tmp_path / "c.star")])[0] == 2
    rc, err = _run(capsys, ["cluster", str(cube), "-k", "2", "-o", str(tmp_path / "c.star"), "--as-stack"])
    assert rc == 0, err
    # an unexpected exception is a bug: traceback and a request to report it, exit 1
    import cdae_lite.denoise as den

    monkeypatch.setattr(den, "load_denoiser", lambda spec: 1 / 0)
    rc, err = _run(capsys, ["denoise", str(stack), "-o", str(tmp_path / "z.mrcs")])
    assert rc == 1 and "ZeroDivisionError" in err and "please report it" in err.splitlines()[-1]


def test_evaluate_pairs_labels_by_image_name_and_skips_constant_clean_images(env, capsys):
    tmp_path, stack, _ = env
    names = image_names(12, "in.mrcs")
    truth = pd.DataFrame({"rlnImageName": names, "cdaeView": np.arange(12) % 3})
    write_star(tmp_path / "truth.star", truth)
    write_star(tmp_path / "labels.star", pd.DataFrame({"rlnImageName": names[::-1],
                                                        "rlnClassNumber": (np.arange(12) % 3)[::-1] + 1}))
    # reversed rows, the same labels per image: a perfect score (by position it would not be)
    assert main(["evaluate", "--labels", str(tmp_path / "labels.star"), "--truth", str(tmp_path / "truth.star")]) == 0
    assert "ari 1.000" in capsys.readouterr().out
    x = np.random.default_rng(5).normal(size=(4, 16, 16)).astype(np.float32)
    c = x.copy()
    c[1] = 3.0
    write_stack(tmp_path / "e.mrcs", x + 0.1, 1.0)
    write_stack(tmp_path / "c.mrcs", c, 1.0)
    assert main(["evaluate", "--estimate", str(tmp_path / "e.mrcs"), "--clean", str(tmp_path / "c.mrcs")]) == 0
    out = capsys.readouterr().out
    assert "over 3 images (1 constant clean images left out" in out and "nan" not in out


def test_mrcfile_warnings_do_not_precede_the_error(env, capsys):
    tmp_path, stack, _ = env
    bad = tmp_path / "nz0.mrcs"
    bad.write_bytes(stack.read_bytes())
    with mrcfile.open(bad, "r+", permissive=True) as m:
        m.header.nz = 0
    rc, err = _run(capsys, ["denoise", str(bad), "-o", str(tmp_path / "o.mrcs")])
    assert rc == 2 and err.strip().count("\n") == 0 and "holds no images" in err, err
