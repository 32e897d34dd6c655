"""Tests of ``cdae_lite.denoise.relion`` and of what it writes (``cdae_lite.io.relion_out``).

RELION projects: STAR files in and out of ``denoise`` and ``cluster``, RELION's path rule, optics groups,
bad STAR files, and the RELION External job.

The project is built in a temporary folder as RELION lays it out: stacks under ``Extract/job007/Movies/``,
a particles STAR at the project root naming them with project-relative paths, two optics groups; the
commands run from the project root, as RELION runs its jobs. Real STAR files written by RELION are read in
tests/test_io_relion.py.
"""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import starfile
import torch

from cdae_lite.cli import main
from cdae_lite.denoise.checkpoint import load_model, save_model
from cdae_lite.denoise.inference import predict
from cdae_lite.denoise.models import AEConfig, autoencoder
from cdae_lite.io.mrc import read_stack, write_stack

S = 32


def _images(rng, n, kind):
    """``n`` noisy images of a disc (kind 0) or a bar (kind 1), so that two classes are easy to find."""
    yy, xx = np.indices((S, S)) - S // 2
    clean = (np.hypot(xx, yy) < 7) if kind == 0 else ((abs(xx) < 12) & (abs(yy) < 3))
    return (clean[None] * 3.0 + rng.normal(size=(n, S, S))).astype(np.float32)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A RELION project: two stacks, a STAR naming them from the project root, two optics groups, a duplicated row."""
    rng = np.random.default_rng(0)
    movies = tmp_path / "Extract" / "job007" / "Movies"
    movies.mkdir(parents=True)
    kinds = {"mic1": np.array([0, 1, 0, 1, 0, 1]), "mic2": np.array([1, 1, 0, 0, 1])}
    for name, k in kinds.items():
        write_stack(movies / f"{name}.mrcs", np.concatenate([_images(rng, 1, int(c)) for c in k]), 1.5)
    optics = pd.DataFrame({"rlnOpticsGroupName": ["opticsGroup1", "opticsGroup2"], "rlnOpticsGroup": [1, 2],
                           "rlnVoltage": [300.0, 200.0], "rlnSphericalAberration": [2.7, 2.0],
                           "rlnAmplitudeContrast": [0.1, 0.07], "rlnImagePixelSize": [1.5, 1.5],
                           "rlnImageSize": [S, S], "rlnImageDimensionality": [2, 2]})
    rows = [(i, "mic1", 1) for i in range(1, 7)] + [(i, "mic2", 2) for i in (5, 1, 2, 4)] + [(2, "mic1", 1)]
    particles = pd.DataFrame({"rlnImageName": [f"{i:06d}@Extract/job007/Movies/{m}.mrcs" for i, m, _ in rows],
                              "rlnOpticsGroup": [g for *_, g in rows],
                              "rlnDefocusU": np.linspace(10000, 20000, len(rows)), "rlnAnglePsi": 0.0})
    starfile.write({"optics": optics, "particles": particles}, tmp_path / "particles.star")
    torch.manual_seed(0)
    save_model(tmp_path / "m.pt", autoencoder(AEConfig(channels=4)), "autoencoder", {"channels": 4})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CDAE_PROGRESS", "0")
    truth = np.array([kinds[m][i - 1] for i, m, _ in rows])
    return tmp_path, truth


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _image(name, base):
    index, path = name.split("@", 1)
    return read_stack(base / path)[0][int(index) - 1]


def _denoise(star, out, *extra):
    return main(["denoise", str(star), "-o", str(out), "--model", "m.pt", "--device", "cpu", "--no-invert", *extra])


def test_a_relion_project_goes_through_denoise_and_cluster(project, capsys):
    root, truth = project
    (root / "Denoise" / "job010").mkdir(parents=True)
    inputs = _tree(root)
    assert _denoise("particles.star", "Denoise/job010/denoised.star") == 0
    summary = capsys.readouterr().out
    assert "2 stacks found from the current directory" in summary and "10 images (11 STAR rows)" in summary
    new = {k: v for k, v in _tree(root).items() if k not in inputs}
    assert sorted(new) == ["Denoise/job010/denoised.star", "Denoise/job010/denoised/Extract/job007/Movies/mic1.mrcs",
                           "Denoise/job010/denoised/Extract/job007/Movies/mic2.mrcs"]
    assert all(_tree(root)[k] == v for k, v in inputs.items())  # nothing overwritten
    before, after = starfile.read(root / "particles.star"), starfile.read(root / "Denoise/job010/denoised.star")
    pd.testing.assert_frame_equal(after["optics"], before["optics"])  # every optics group kept
    pd.testing.assert_frame_equal(after["particles"].drop(columns="rlnImageName"),
                                  before["particles"].drop(columns="rlnImageName"))
    model = load_model(root / "m.pt")[0]
    for old, den in zip(before["particles"]["rlnImageName"], after["particles"]["rlnImageName"]):
        assert den.startswith("0000") and den.split("@")[1].startswith("Denoise/job010/denoised/Extract/")
        expected = predict(model, _image(old, root)[None], device="cpu")[0]
        np.testing.assert_allclose(_image(den, root), expected, atol=1e-4)  # each row names its own denoised image
    assert read_stack(root / "Denoise/job010/denoised/Extract/job007/Movies/mic2.mrcs")[1] == pytest.approx(1.5)

    (root / "Class").mkdir()
    for star, out in (("particles.star", "Class/raw.star"), ("Denoise/job010/denoised.star", "Class/den.star")):
        assert main(["cluster", star, "-k", "2", "-o", out, "--no-refine", "--seed", "0"]) == 0
        table = starfile.read(root / out)
        pd.testing.assert_frame_equal(table["optics"], before["optics"])
        classes = table["particles"]["rlnClassNumber"].to_numpy()
        assert len(classes) == 11 and classes[-1] == classes[1]  # one row per input row, duplicates alike
        assert len(set(zip(classes, truth))) == 2, (classes, truth)  # the two shapes, found exactly
        assert read_stack(root / out.replace(".star", "_averages.mrcs"))[0].shape == (2, S, S)
    assert not [p for p in root.rglob("*") if p.name.startswith(".")]  # no temporary left


def test_names_are_found_from_the_star_folder_or_the_stated_project(project, capsys, monkeypatch, tmp_path_factory):
    root, _ = project
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    shutil.copy(root / "m.pt", elsewhere / "m.pt")
    monkeypatch.chdir(elsewhere)  # not the project root: RELION's rule fails, the STAR's folder finds them
    assert _denoise(root / "particles.star", "a.star") == 0
    assert "2 stacks found from the STAR file's folder" in capsys.readouterr().out
    names = starfile.read(elsewhere / "a.star")["particles"]["rlnImageName"]
    assert names[0] == "000001@a/Extract/job007/Movies/mic1.mrcs" and (elsewhere / "a/Extract/job007/Movies").is_dir()
    assert _denoise(root / "particles.star", "b.star", "--relion-project", str(root)) == 0
    assert "found from the RELION project folder" in capsys.readouterr().out
    assert _image(starfile.read(elsewhere / "b.star")["particles"]["rlnImageName"][3], elsewhere).shape == (S, S)
    assert main(["cluster", str(root / "particles.star"), "-k", "2", "-o", "c.star", "--no-refine"]) == 0
    assert "2 stacks found from the STAR file's folder" in capsys.readouterr().out


def _edit(root, change):
    blocks = starfile.read(root / "particles.star", always_dict=True)
    change(blocks)
    starfile.write(blocks, root / "particles.star", overwrite=True)


def _set(block, column, row, value):
    def change(b):
        b[block].loc[row, column] = value
    return change


BAD = {
    "missing stack": (_set("particles", "rlnImageName", 3, "000001@Extract/job007/Movies/gone.mrcs"), "gone.mrcs"),
    "index beyond": (_set("particles", "rlnImageName", 2, "000007@Extract/job007/Movies/mic1.mrcs"), "holds 6 images"),
    "index zero": (_set("particles", "rlnImageName", 2, "000000@Extract/job007/Movies/mic1.mrcs"), "index from 1"),
    "optics group without a row": (_set("particles", "rlnOpticsGroup", 4, 3), "optics group 3"),
    "no rlnImageName": (lambda b: b["particles"].pop("rlnImageName"), "rlnImageName"),
    "box size unlike its group's": (_set("optics", "rlnImageSize", 1, 64), "mixes box sizes"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["denoise", "cluster"])
def test_a_bad_star_file_is_one_line_exit_2_and_writes_nothing(project, capsys, case, command):
    root, _ = project
    _edit(root, BAD[case][0])
    before = _tree(root)
    args = (["denoise", "particles.star", "-o", "out.star", "--model", "m.pt", "--device", "cpu"]
            if command == "denoise" else ["cluster", "particles.star", "-k", "2", "-o", "out.star", "--no-refine"])
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cdae-lite {command}: error:") and BAD[case][1] in err, err
    assert _tree(root) == before and sorted(p.name for p in root.iterdir()) == sorted(
        {Path(k).parts[0] for k in before})  # not even an empty folder


def test_a_star_input_needs_a_star_output_and_denoise_only_options(project, capsys):
    root, _ = project
    before = _tree(root)
    assert _denoise("particles.star", "out.mrcs") == 2
    assert "name it *.star" in capsys.readouterr().err
    assert _denoise("particles.star", "out.star", "--fine-tune") == 2
    assert "--fine-tune takes a stack" in capsys.readouterr().err
    assert main(["cluster", "particles.star", "-k", "2", "-o", "c.star", "--star", "particles.star"]) == 2
    assert "--star pairs rows with a stack input" in capsys.readouterr().err
    assert _tree(root) == before


def test_mixed_box_sizes_are_denoised_per_group_and_refused_by_cluster(project, capsys):
    root, _ = project
    write_stack(root / "Extract/job007/Movies/big.mrcs", np.random.default_rng(1).normal(size=(3, 48, 48)), 1.0)
    _edit(root, lambda b: (b["optics"].__setitem__("rlnImageSize", [S, 48]),
                           b["optics"].__setitem__("rlnImagePixelSize", [1.5, 1.0]),
                           b.__setitem__("particles", pd.concat([b["particles"][b["particles"].rlnOpticsGroup == 1],
                                                                 pd.DataFrame({"rlnImageName": [
                                                                     f"00000{i}@Extract/job007/Movies/big.mrcs"
                                                                     for i in (1, 2, 3)], "rlnOpticsGroup": 2})]))))
    before = _tree(root)
    assert main(["cluster", "particles.star", "-k", "2", "-o", "c.star"]) == 2
    assert "32 and 48 px" in capsys.readouterr().err and _tree(root) == before
    assert _denoise("particles.star", "d.star", "--resample", "16") == 0
    out = starfile.read(root / "d.star")
    assert out["optics"]["rlnImageSize"].tolist() == [16, 16]
    assert out["optics"]["rlnImagePixelSize"].tolist() == pytest.approx([3.0, 3.0])
    big = read_stack(root / "d/Extract/job007/Movies/big.mrcs")
    assert big[0].shape == (3, 16, 16) and big[1] == pytest.approx(3.0)
    assert main(["cluster", "d.star", "-k", "2", "-o", "c.star", "--no-refine"]) == 0  # one size now


@pytest.mark.parametrize("reader", ["cryodrgn", "aspire"])
def test_other_clients_read_our_star(project, capsys, reader):
    pytest.importorskip(reader, reason=f"{reader} is not installed (an optional client; the test reads our STAR "
                                       "with it when it is)")
    root, _ = project
    assert _denoise("particles.star", "d.star") == 0
    if reader == "cryodrgn":
        from cryodrgn.starfile import Starfile

        assert len(Starfile.load(str(root / "d.star")).df) == 11
    else:
        from aspire.source import RelionSource

        assert RelionSource(str(root / "d.star"), data_folder=str(root)).n == 11


def test_the_relion_external_job(project, capsys):
    root, _ = project
    (root / "External" / "job011").mkdir(parents=True)
    args = ["relion-external", "--o", "External/job011/", "--in_parts", "particles.star", "--j", "1",
            "--model", "m.pt", "--device", "cpu", "--pipeline_control", "External/job011/", "--unknown_param", "3"]
    assert main(args) == 0
    job = root / "External" / "job011"
    assert (job / "RELION_JOB_EXIT_SUCCESS").exists() and not (job / "RELION_JOB_EXIT_FAILURE").exists()
    nodes = starfile.read(job / "RELION_OUTPUT_NODES.star")
    assert nodes["rlnPipeLineNodeName"].tolist() == ["External/job011/particles.star"]
    names = starfile.read(job / "particles.star")["particles"]["rlnImageName"]
    assert names[0].startswith("000001@External/job011/particles/Extract/job007/Movies/") and (
        _image(names[0], root).shape == (S, S))
    (root / "External" / "job012").mkdir()
    bad = ["relion-external", "--o", "External/job012/", "--in_parts", "nothere.star", "--model", "m.pt"]
    assert main(bad) == 2
    assert (root / "External/job012/RELION_JOB_EXIT_FAILURE").exists()
    assert "nothere.star" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["second group", "publication"])
def test_a_failure_midway_leaves_nothing_behind(project, capsys, monkeypatch, where):
    import cdae_lite.denoise.relion as relion
    import cdae_lite.io.relion_out as out

    root, _ = project
    (root / "Denoise").mkdir()
    before = _tree(root)
    calls = []

    def failing(real):
        def wrapped(*a, **k):
            calls.append(1)
            if len(calls) == 2:  # the first group denoised (or the first stack published), then a full disk
                raise OSError(28, "No space left on device")
            return real(*a, **k)
        return wrapped

    if where == "second group":
        monkeypatch.setattr(relion, "denoise_file", failing(relion.denoise_file))
    else:
        monkeypatch.setattr(out, "commit", failing(out.commit))
    assert _denoise("particles.star", "Denoise/denoised.star") == 2
    assert "No space left on device" in capsys.readouterr().err and len(calls) == 2
    assert _tree(root) == before and list((root / "Denoise").iterdir()) == []  # published stack, new folders: gone
