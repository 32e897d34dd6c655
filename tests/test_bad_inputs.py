"""A table of bad inputs across every command: each is refused with one line and exit 2, nothing written.

Every case runs a ``cdae-lite`` command in this process on a folder that holds a good stack, a good
STAR file and a good checkpoint, plus whatever the case breaks. It passes when the command exits with
status 2 (from the command or from argument parsing), its last stderr line is its own one-line
message, no traceback is printed, and the folder is byte for byte as before: no output, no temporary
file, no input changed. ``tests/test_robustness.py`` holds the cases that need more than that
(signals, races, correct results on unusual but valid inputs).
"""

import mrcfile
import numpy as np
import pandas as pd
import pytest
import torch

from cdae_lite.cli import main
from cdae_lite.denoise.checkpoint import save_model
from cdae_lite.denoise.models import AEConfig, autoencoder
from cdae_lite.io.mrc import write_stack
from cdae_lite.io.star import image_names, write_star

N, S = 12, 16


def _good(tmp):
    write_stack(tmp / "in.mrcs", np.random.default_rng(0).normal(size=(N, S, S)).astype(np.float32), 2.0)
    write_star(tmp / "in.star", pd.DataFrame({"rlnImageName": image_names(N, "in.mrcs"), "cdaeView": np.arange(N) % 2}))
    torch.manual_seed(0)
    save_model(tmp / "m.pt", autoencoder(AEConfig(channels=4)), "autoencoder", {"channels": 4})


def _mrc(tmp, name, edit=None, data=None, raw=None):
    """A stack file named ``name``: the good one with its header edited, other data, or raw bytes."""
    path = tmp / name
    if raw is not None:
        path.write_bytes(raw)
        return
    if data is not None:
        with mrcfile.new(path) as m:
            m.set_data(data)
            m.set_image_stack()
    else:
        path.write_bytes((tmp / "in.mrcs").read_bytes())
    if edit:
        with mrcfile.open(path, "r+", permissive=True) as m:
            edit(m.header)


def _set(**fields):
    def edit(h):
        for k, v in fields.items():
            h[k] = v
    return edit


def _nan_at(i, value=np.nan):
    x = np.random.default_rng(1).normal(size=(N, S, S)).astype(np.float32)
    x[i, 2, 2] = value
    return x


# broken stacks: (file name, how it is made); each is given to denoise, cluster, train and evaluate
BROKEN = {
    "empty": dict(raw=b""),
    "short": dict(raw=b"\0" * 100),
    "header only, 1023 bytes": dict(raw=b"\0" * 1023),
    "text": dict(raw=b"not an MRC file\n" * 100),
    "random bytes": dict(raw=np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes()),
    **{f"mode {m}": dict(edit=_set(mode=m)) for m in (3, 4, 5, 7, 9, 101, -1)},
    **{f"nx {v}": dict(edit=_set(nx=v)) for v in (0, -16, 10**6)},
    **{f"ny {v}": dict(edit=_set(ny=v)) for v in (8, -1)},
    **{f"nz {v}": dict(edit=_set(nz=v)) for v in (0, -3, 10**6)},
    "non-square": dict(data=np.zeros((N, S, S + 8), np.float32)),
    "a 2D image stack of one row": dict(data=np.zeros((N, 1, S), np.float32)),
    **{f"{v} in image {i}": dict(data=_nan_at(i, v)) for v in (np.nan, np.inf, -np.inf) for i in (0, N // 2, N - 1)},
}


def _stack_cases():
    for name, how in BROKEN.items():
        for cmd in ("denoise", "cluster", "train", "evaluate"):
            yield pytest.param(cmd, how, id=f"{cmd}: {name}")


def _command(cmd, stack):
    return {"denoise": ["denoise", stack, "-o", "out.mrcs", "--model", "m.pt"],
            "cluster": ["cluster", stack, "-k", "2", "-o", "out.star"],
            "train": ["train", stack, "--target", "in.mrcs", "-o", "out.pt", "--epochs", "1"],
            "evaluate": ["evaluate", "--estimate", stack, "--clean", "in.mrcs"]}[cmd]


# bad flags and paths: argument lists relative to the folder
FLAGS = {
    **{f"denoise --batch-size {v}": ["denoise", "in.mrcs", "-o", "o.mrcs", "--batch-size", v] for v in ("0", "-1", "x", "1.5")},
    **{f"denoise --resample {v}": ["denoise", "in.mrcs", "-o", "o.mrcs", "--model", "m.pt", "--resample", v]
       for v in ("0", "4", "-8", "x")},
    **{f"denoise --device {v}": ["denoise", "in.mrcs", "-o", "o.mrcs", "--model", "m.pt", "--device", v]
       for v in ("gpu", "tpu", "cuda:x", "cuda")},
    **{f"denoise --neighbours {v}": ["denoise", "in.mrcs", "-o", "o.mrcs", "--stack-aware", "--neighbours", v]
       for v in ("0", "-3", "x", "12", "50")},
    **{f"denoise --model {v}": ["denoise", "in.mrcs", "-o", "o.mrcs", "--model", v]
       for v in ("missing.pt", ".", "in.mrcs", "in.star")},
    **{f"denoise --epochs {v}": ["denoise", "in.mrcs", "-o", "o.mrcs", "--fine-tune", "--epochs", v] for v in ("0", "x")},
    "denoise --stack-aware --calibrate": ["denoise", "in.mrcs", "-o", "o.mrcs", "--stack-aware", "--calibrate"],
    **{f"cluster -k {v}": ["cluster", "in.mrcs", "-k", v, "-o", "o.star"] for v in ("0", "-1", "13", "x", "2.5")},
    **{f"cluster --pca {v}": ["cluster", "in.mrcs", "-k", "2", "--pca", v, "-o", "o.star"] for v in ("-1", "x")},
    **{f"cluster --method {v}": ["cluster", "in.mrcs", "-k", "2", "--method", v, "-o", "o.star"] for v in ("foo", "")},
    "cluster --seed x": ["cluster", "in.mrcs", "-k", "2", "--seed", "x", "-o", "o.star"],
    "cluster --denoise missing": ["cluster", "in.mrcs", "-k", "2", "--denoise", "missing.pt", "-o", "o.star"],
    "cluster --averages = -o": ["cluster", "in.mrcs", "-k", "2", "-o", "o.star", "--averages", "o.star"],
    "cluster -k 13 --method align": ["cluster", "in.mrcs", "-k", "13", "--method", "align", "-o", "o.star"],
    "cluster -k 13 --method hierarchical": ["cluster", "in.mrcs", "-k", "13", "--method", "hierarchical", "-o", "o.star"],
    **{f"train --epochs {v}": ["train", "in.mrcs", "--target", "in.mrcs", "-o", "o.pt", "--epochs", v] for v in ("0", "x")},
    **{f"train --batch-size {v}": ["train", "in.mrcs", "--target", "in.mrcs", "-o", "o.pt", "--batch-size", v]
       for v in ("0", "-2")},
    "train without targets": ["train", "in.mrcs", "-o", "o.pt"],
    "train --target missing": ["train", "in.mrcs", "--target", "missing.mrcs", "-o", "o.pt"],
    "train --start-from a stack": ["train", "in.mrcs", "--start-from", "in.mrcs", "-o", "o.pt"],
    "train --k 0": ["train", "in.mrcs", "--start-from", "m.pt", "-o", "o.pt", "--k", "0"],
    "train --k 12": ["train", "in.mrcs", "--start-from", "m.pt", "-o", "o.pt", "--k", "12"],
    **{f"simulate --snr {v}": ["simulate", "--protein", "adk", "--snr", v, "-o", "sim"] for v in ("0", "-1", "nan", "inf", "x")},
    **{f"simulate --{f} {v}": ["simulate", "--protein", "adk", f"--{f}", v, "-o", "sim"]
       for f in ("size", "per-view") for v in ("0", "-4", "x")},
    "simulate --protein unknown": ["simulate", "--protein", "no-such-protein", "-o", "sim"],
    "simulate -o a file": ["simulate", "--protein", "adk", "--size", "16", "--per-view", "1", "-o", "in.mrcs"],
    "evaluate without inputs": ["evaluate"],
    "evaluate --clean missing": ["evaluate", "--estimate", "in.mrcs", "--clean", "missing.mrcs"],
    "evaluate --labels without --truth": ["evaluate", "--labels", "in.star"],
    "evaluate --truth-column missing": ["evaluate", "--labels", "in.star", "--truth", "in.star", "--truth-column", "nope"],
    "unknown command": ["reconstruct", "in.mrcs"],
}
for cmd in ("denoise", "cluster", "train"):
    out = {"denoise": "o.mrcs", "cluster": "o.star", "train": "o.pt"}[cmd]
    base = {"denoise": ["denoise", "in.mrcs"], "cluster": ["cluster", "in.mrcs", "-k", "2"],
            "train": ["train", "in.mrcs", "--target", "in.mrcs", "--epochs", "1"]}[cmd]
    FLAGS.update({
        f"{cmd} input missing": [*base[:1], "missing.mrcs", *base[2:], "-o", out],
        f"{cmd} input is a folder": [*base[:1], ".", *base[2:], "-o", out],
        f"{cmd} output = input": [*base, "-o", "in.mrcs"],
        f"{cmd} output is a folder": [*base, "-o", "sub/"],
        f"{cmd} output in a missing folder": [*base, "-o", f"nowhere/{out}"],
        f"{cmd} output .gz": [*base, "-o", f"{out}.gz"],
        f"{cmd} output exists": [*base, "-o", "in.star"],
        f"{cmd} no output": base,
    })

# STAR files given to cluster --star (and evaluate --labels/--truth)
STARS = {
    "empty": "",
    "garbage": "this is not a STAR file\n\x00\x01",
    "only optics": "\ndata_optics\n\nloop_\n_rlnOpticsGroup #1\n1\n",
    "no rlnImageName": "\ndata_particles\n\nloop_\n_rlnDefocusU #1\n" + "1.0\n" * N,
    "names another stack": image_names(N, "other.mrcs"),
    "index 0": ["000000@in.mrcs"] + image_names(N, "in.mrcs")[1:],
    "index past the end": image_names(N + 1, "in.mrcs")[1:],
    "no @": ["in.mrcs"] * N,
    "letters for the index": ["abc@in.mrcs"] * N,
    "negative index": ["-1@in.mrcs"] * N,
}


def _star_cases():
    for name, content in STARS.items():
        yield pytest.param(name, content, "cluster", id=f"cluster --star: {name}")
        yield pytest.param(name, content, "evaluate", id=f"evaluate --labels: {name}")


# checkpoints given to denoise --model, cluster --denoise and train --start-from
CHECKPOINTS = {
    "empty file": b"",
    "text": b"weights\n",
    "random bytes": np.random.default_rng(4).integers(0, 256, 2048, dtype=np.uint8).tobytes(),
    "a plain tensor": "tensor",
    "a dict without the marker": {"state_dict": {}},
    "config a list": ("config", [4]),
    "config a string": ("config", "channels=4"),
    "string numbers": ("config", {"channels": "4"}),
    "unknown architecture": ("architecture", "vit"),
    "no weights": ("state_dict", {}),
    "weights not tensors": ("state_dict", {"w": [1, 2, 3]}),
    "huge n_blocks": ("n_blocks", 10**9),
}


def _checkpoint(tmp, how):
    path = tmp / "bad.pt"
    if isinstance(how, bytes):
        path.write_bytes(how)
    elif how == "tensor":
        torch.save(torch.zeros(3), path)
    elif isinstance(how, dict):
        torch.save(how, path)
    else:
        payload = torch.load(tmp / "m.pt", weights_only=True)
        key, value = how
        payload[key] = value
        if key == "n_blocks":
            payload["architecture"] = "cdae"
        torch.save(payload, path)
    return path


def _checkpoint_cases():
    for name, how in CHECKPOINTS.items():
        for cmd in ("denoise", "cluster", "train"):
            yield pytest.param(name, how, cmd, id=f"{cmd}: checkpoint {name}")


def _refused(tmp, capsys, args):
    """Run the command in ``tmp``; it must exit 2 with one own line, no traceback, nothing changed."""
    before = {p.relative_to(tmp): p.read_bytes() for p in tmp.rglob("*") if p.is_file()}
    try:
        rc = main(args)
    except SystemExit as stop:  # argparse refuses bad flags itself, with the same status
        rc = stop.code
    err = capsys.readouterr().err
    assert rc == 2, f"exit {rc}: {err[-800:]}"
    assert "Traceback" not in err, err
    lines = err.rstrip("\n").split("\n")
    assert lines[-1].startswith("cdae-lite") and "error" in lines[-1], err
    after = {p.relative_to(tmp): p.read_bytes() for p in tmp.rglob("*") if p.is_file()}
    assert after == before, sorted(set(after) ^ set(before))
    assert not [p for p in tmp.rglob("*") if p.is_dir() and p.name not in ("sub",)]  # no folder left either


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CDAE_PROGRESS", "0")
    _good(tmp_path)
    return tmp_path


@pytest.mark.parametrize("cmd, how", list(_stack_cases()))
def test_a_broken_stack_is_refused(folder, capsys, cmd, how):
    _mrc(folder, "bad.mrcs", **how)
    _refused(folder, capsys, _command(cmd, "bad.mrcs"))


@pytest.mark.parametrize("args", [pytest.param(v, id=k) for k, v in FLAGS.items()])
def test_a_bad_flag_or_path_is_refused(folder, capsys, args):
    (folder / "sub").mkdir()
    _refused(folder, capsys, args)


@pytest.mark.parametrize("name, content, cmd", list(_star_cases()))
def test_a_bad_star_file_is_refused(folder, capsys, name, content, cmd):
    path = folder / "bad.star"
    if isinstance(content, list):
        write_star(path, pd.DataFrame({"rlnImageName": content}))
    else:
        path.write_text(content)
    if cmd == "cluster":
        args = ["cluster", "in.mrcs", "-k", "2", "--star", "bad.star", "-o", "o.star"]
    else:
        args = ["evaluate", "--labels", "bad.star", "--truth", "in.star"]
    _refused(folder, capsys, args)


@pytest.mark.parametrize("name, how, cmd", list(_checkpoint_cases()))
def test_a_bad_checkpoint_is_refused(folder, capsys, name, how, cmd):
    path = _checkpoint(folder, how).name
    args = {"denoise": ["denoise", "in.mrcs", "-o", "o.mrcs", "--model", path],
            "cluster": ["cluster", "in.mrcs", "-k", "2", "--denoise", path, "-o", "o.star"],
            "train": ["train", "in.mrcs", "--start-from", path, "-o", "o.pt", "--k", "3"]}[cmd]
    _refused(folder, capsys, args)


def test_the_table_holds_at_least_200_cases():
    n = len(list(_stack_cases())) + len(FLAGS) + len(list(_star_cases())) + len(list(_checkpoint_cases()))
    assert n >= 200, n
