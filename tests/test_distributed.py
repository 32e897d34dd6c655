"""Sharded denoising under torchrun (gloo, 2-3 CPU processes) equals the single-process run."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from cdae_lite.cli import main
from cdae_lite.denoise.checkpoint import save_model
from cdae_lite.denoise.models import AEConfig, autoencoder
from cdae_lite.distributed import share
from cdae_lite.io.mrc import read_stack, write_stack


def torchrun(n: int, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "CDAE_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(n),
                           "-m", "cdae_lite.cli", *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    return save_model(tmp_path_factory.mktemp("m") / "m.pt", autoencoder(AEConfig(channels=4)), "autoencoder",
                      {"channels": 4})


def test_shares_cover_every_item_once():
    for n in (0, 1, 2, 13, 100):
        for size in (1, 2, 3, 7):
            parts = [share(n, r, size) for r in range(size)]
            assert [i for a, b in parts for i in range(a, b)] == list(range(n))
            assert max(b - a for a, b in parts) - min(b - a for a, b in parts) <= 1


@pytest.mark.parametrize("n_images, ranks", [(13, 2), (1, 3)])  # uneven shares; more ranks than images
def test_torchrun_output_equals_the_single_process_output(tmp_path, model, n_images, ranks, capsys):
    x = np.random.default_rng(n_images).normal(size=(n_images, 16, 16)).astype(np.float32)
    src = write_stack(tmp_path / "in.mrcs", x, 1.5)
    common = ["--model", str(model), "--device", "cpu", "--no-invert", "--batch-size", "4"]
    assert main(["denoise", str(src), "-o", str(tmp_path / "one.mrcs"), *common]) == 0
    capsys.readouterr()
    run = torchrun(ranks, ["denoise", str(src), "-o", str(tmp_path / "many.mrcs"), *common])
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("denoised ") == 1 and f"{ranks} processes (torchrun)" in run.stdout  # one summary
    one, px1 = read_stack(tmp_path / "one.mrcs")
    many, px2 = read_stack(tmp_path / "many.mrcs")
    np.testing.assert_allclose(many, one, atol=1e-5)
    assert px1 == px2 == pytest.approx(1.5)
    import mrcfile

    with mrcfile.open(tmp_path / "one.mrcs") as a, mrcfile.open(tmp_path / "many.mrcs") as b:
        for key in ("dmin", "dmax", "dmean", "rms"):
            assert float(b.header[key]) == pytest.approx(float(a.header[key]), rel=1e-4, abs=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mrcs", "many.mrcs", "one.mrcs"]


def test_a_bad_stack_stops_every_rank_with_one_message_and_writes_nothing(tmp_path, model):
    x = np.random.default_rng(0).normal(size=(13, 16, 16)).astype(np.float32)
    x[10, 3, 3] = np.nan  # in rank 1's share (images 7-12)
    src = tmp_path / "in.mrcs"
    import mrcfile

    with mrcfile.new(src) as m:  # write_stack refuses NaN, as it should; a broken file from elsewhere
        m.set_data(x)
        m.set_image_stack()
    run = torchrun(2, ["denoise", str(src), "-o", str(tmp_path / "out.mrcs"), "--model", str(model),
                       "--device", "cpu", "--no-invert", "--batch-size", "4"])
    assert run.returncode != 0
    assert run.stderr.count("cdae-lite denoise: error:") == 1, run.stderr[-3000:]  # said once, by rank 0
    assert "[10]" in run.stderr  # the image is named
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mrcs"]  # no output, no temporary


def _rank(rank: int, port: int, out: str, fail_rank: int, results):
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import torch.distributed as dist

    from cdae_lite.distributed import write_in_shares
    from cdae_lite.io.mrc import StackWriter

    dist.init_process_group("gloo")

    def fill(w, lo, hi):
        if rank == fail_rank:
            raise ValueError(f"image {lo} is broken")
        w.write(lo, np.full((hi - lo, 8, 8), float(rank), np.float32))

    try:
        write_in_shares(lambda shared: StackWriter(out, 5, 8, 1.0, shared=shared), fill, 5)
        results.put((rank, "ok"))
    except ValueError as exc:
        results.put((rank, str(exc)))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("fail_rank", [1])  # success is the torchrun test above
def test_ranks_write_their_shares_or_all_stop(tmp_path, fail_rank):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_rank, args=(r, port, str(tmp_path / "out.mrcs"), fail_rank, results))
             for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    got = dict(results.get(timeout=5) for _ in procs)
    if fail_rank is None:
        assert got == {0: "ok", 1: "ok"}
        assert read_stack(tmp_path / "out.mrcs")[0][:, 0, 0].tolist() == [0, 0, 0, 1, 1]  # shares 0-2 and 3-4
    else:
        assert got == {0: "rank 1 failed: image 3 is broken; nothing was written", 1: "image 3 is broken"}
        assert list(tmp_path.iterdir()) == []  # no output, no temporary


def test_data_parallel_training_equals_single_process_training(tmp_path):
    rng = np.random.default_rng(7)
    clean = rng.normal(size=(22, 16, 16)).astype(np.float32)
    write_stack(tmp_path / "x.mrcs", clean + rng.normal(size=clean.shape).astype(np.float32), 1.0)
    write_stack(tmp_path / "y.mrcs", clean, 1.0)
    common = ["train", str(tmp_path / "x.mrcs"), "--target", str(tmp_path / "y.mrcs"), "--epochs", "2",
              "--batch-size", "8", "--dropout", "0", "--device", "cpu"]  # 22 = 8 + 8 + 6: uneven shares
    assert main([*common, "-o", str(tmp_path / "one.pt")]) == 0
    run = torchrun(2, [*common, "-o", str(tmp_path / "two.pt")])
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("saved a") == 1  # rank 0 saves and says so
    one = torch.load(tmp_path / "one.pt", weights_only=True)
    two = torch.load(tmp_path / "two.pt", weights_only=True)
    for k, v in one["state_dict"].items():
        torch.testing.assert_close(two["state_dict"][k], v, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(two["record"]["history"]["train_loss"], one["record"]["history"]["train_loss"],
                               rtol=1e-4)


def _fresh_noise_rank(rank: int, size: int, port: int, out: str):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(size), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import torch.distributed as dist

    from cdae_lite.denoise.models import GeneralUNetConfig, general_unet
    from cdae_lite.denoise.synthetic import FreshNoiseConfig, fit_fresh_noise

    torch.set_num_threads(1)
    if size > 1:
        dist.init_process_group("gloo")
    torch.manual_seed(0)
    model = general_unet(GeneralUNetConfig(channels=(8, 8, 8, 8)))
    clean = np.random.default_rng(0).normal(size=(40, 16, 16)).astype(np.float32)
    hist = fit_fresh_noise(model, clean, FreshNoiseConfig(batch_size=10, minutes=60, max_images=40, seed=3))
    if rank == 0:
        torch.save({"state": model.state_dict(), "seen": hist.images_seen}, out)
    if size > 1:
        dist.destroy_process_group()


def test_fresh_noise_training_is_the_same_on_two_processes(tmp_path):
    import socket

    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    for size in (1, 2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        procs = [ctx.Process(target=_fresh_noise_rank, args=(r, size, port, str(tmp_path / f"{size}.pt")))
                 for r in range(size)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
    one, two = torch.load(tmp_path / "1.pt"), torch.load(tmp_path / "2.pt")
    assert one["seen"] == two["seen"] == 40
    for k, v in one["state"].items():
        torch.testing.assert_close(two["state"][k], v, rtol=1e-4, atol=1e-5)
