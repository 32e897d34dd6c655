"""Streaming work on large .mrcs stacks: seconds, images/s and peak memory, 10^3 to 10^5+ images.

Usage: ``python benchmarks/stream.py [--counts 1000 10000 100000] [--size 64] [--device cpu]
[--steps simulate denoise cluster] [--ranks 1 2] [--model general] [--workdir DIR] [--json out]``

For each count, ``cdae-lite simulate`` writes a noisy stack (block by block), then ``cdae-lite
denoise`` denoises it into a new stack and ``cdae-lite cluster`` clusters it (incremental PCA, then
k-means on the scores, then class averages). Every command runs in a fresh process, and its peak
resident memory (``ru_maxrss`` of that process alone) is reported beside its time, so a row shows
whether memory grows with the stack: it must stay flat. Uses an untrained model when the shipped
one is missing (speed does not depend on the weights).

``--ranks 1 2`` adds a denoise row per process count: ranks above 1 run the same command under
``torchrun --standalone --nproc-per-node N`` (gloo on a CPU, NCCL on GPUs), each rank denoising a
contiguous share into the one output; the row's peak memory is that of the largest single process
(one rank), and its seconds include every rank's start-up.

Stacks are written to a temporary folder and deleted, or kept in ``--workdir`` (where a stack that
is already there is reused instead of simulated again).
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import print_table

ROOT = Path(__file__).resolve().parents[1]

#: Runs a command and prints its peak RSS (KiB on Linux, bytes on macOS) as the last line of stderr.
_MEASURE = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
            "print('peak_rss', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
            "sys.exit(r.returncode)")


def measured(args: list[str]) -> tuple[str, float, float]:
    """Run ``args`` in its own process; return (stdout, seconds, peak RSS in MB of that process)."""
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _MEASURE, *args], cwd=ROOT, capture_output=True, text=True,
                       env={"CDAE_PROGRESS": "0", "PATH": "/usr/bin:/bin"})
    dt = time.perf_counter() - t
    if r.returncode:
        sys.exit(f"{' '.join(args[:4])} ... failed:\n{r.stderr}")
    rss = int(re.findall(r"peak_rss (\d+)", r.stderr)[-1])
    return r.stdout, dt, rss / 2**20 if sys.platform == "darwin" else rss / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--steps", nargs="+", choices=["simulate", "denoise", "cluster"],
                    default=["simulate", "denoise", "cluster"])
    ap.add_argument("--k", type=int, default=4, help="classes for the clustering step")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1], help="processes for the denoise step (torchrun)")
    ap.add_argument("--model", default="general", help="the model to denoise with ('general', 'cdae' or a path)")
    ap.add_argument("--workdir", help="keep the simulated stacks here (default: a temporary folder)")
    ap.add_argument("--json")
    a = ap.parse_args()
    py = sys.executable
    cli = [py, "-m", "cdae_lite.cli"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        work = Path(a.workdir) if a.workdir else tmp
        work.mkdir(parents=True, exist_ok=True)
        from cdae_lite.denoise.checkpoint import SHIPPED_MODELS

        model = ROOT / "data" / SHIPPED_MODELS[a.model] if a.model in SHIPPED_MODELS else Path(a.model)
        if not model.exists():
            model = tmp / "untrained.pt"
            subprocess.run([py, "-c", "from cdae_lite.denoise import save_model, cdae; "
                            f"save_model(r'{model}', cdae(), 'cdae', {{}})"], check=True, cwd=ROOT)
        for n in a.counts:
            sim = work / f"sim{n}_{a.size}px"
            stack = sim / "proteasome_snr0.1.mrcs"
            per_view = max(1, n // 4)
            if not stack.exists():
                if "simulate" not in a.steps:
                    sys.exit(f"{stack} does not exist: add the simulate step")
                _, dt, rss = measured(cli + ["simulate", "--protein", "proteasome", "--size", str(a.size),
                                             "--per-view", str(per_view), "--snr", "0.1", "-o", str(sim)])
                rows.append(_row("simulate", 4 * per_view, a.size, stack, "cpu", dt, rss))
            for ranks in a.ranks if "denoise" in a.steps else []:
                den = tmp / f"den{n}.mrcs"
                launch = cli if ranks == 1 else [py, "-m", "torch.distributed.run", "--standalone",
                                                 "--nproc-per-node", str(ranks), "-m", "cdae_lite.cli"]
                out, dt, rss = measured(launch + ["denoise", str(stack), "-o", str(den), "--model", str(model),
                                                  "--device", a.device, "--batch-size", str(a.batch_size)])
                m = re.search(r"denoised (\d+) images .* in ([\d.]+) s", out)
                rows.append(_row("denoise", int(m.group(1)), a.size, stack, a.device, dt, rss, ranks))
                den.unlink()
            if "cluster" in a.steps:
                star = tmp / f"classes{n}.star"
                out, dt, rss = measured(cli + ["cluster", str(stack), "-k", str(a.k), "-o", str(star),
                                               "--device", a.device])
                m = re.search(r"clustered (\d+) images", out)
                rows.append(_row("cluster", int(m.group(1)), a.size, stack, a.device, dt, rss))
            if not a.workdir:
                stack.unlink()
    print_table("streamed work on stacks (cdae-lite commands, one process each; seconds include start-up)",
                rows, a.json)


def _row(step, n, size, stack, device, seconds, rss, ranks=1):
    return {"step": step, "images": n, "size_px": size, "stack_MB": round(stack.stat().st_size / 2**20),
            "device": device, "ranks": ranks, "seconds": round(seconds, 1), "images_per_s": round(n / seconds),
            "peak_rss_MB_per_process": round(rss)}


if __name__ == "__main__":
    main()
