"""Streaming denoising of large .mrcs stacks: images/s and peak memory, 10^3 to 10^5 images.

Usage: ``python benchmarks/stream.py [--counts 1000 10000 100000] [--size 64] [--device cpu] [--json out]``

For each count, ``cdae-lite simulate`` writes a stack (block by block) into a temporary folder, then
``cdae-lite denoise`` runs in a fresh process (so its peak resident memory is its own) and reports
images/s and peak RSS. Memory must stay flat as the stack grows: the stack is read memory-mapped and
written in batches. Uses an untrained model when the shipped one is missing (speed does not depend on
the weights).
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import print_table

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--json")
    a = ap.parse_args()
    py = sys.executable
    rows = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        model = ROOT / "data" / "weights" / "cdae_general.pt"
        if not model.exists():
            model = d / "untrained.pt"
            subprocess.run([py, "-c", "from cdae_lite.checkpoint import save_model; from cdae_lite.models import cdae; "
                            f"save_model(r'{model}', cdae(), 'cdae', {{}})"], check=True, cwd=ROOT)
        for n in a.counts:
            per_view = max(1, n // 4)
            sim = d / f"sim{n}"
            subprocess.run([py, "-m", "cdae_lite.cli", "simulate", "--protein", "proteasome", "--size", str(a.size),
                            "--per-view", str(per_view), "--snr", "0.1", "-o", str(sim)], check=True, cwd=ROOT,
                           env={"CDAE_PROGRESS": "0", "PATH": "/usr/bin:/bin"})
            stack = sim / "proteasome_snr0.1.mrcs"
            out = subprocess.run([py, "-m", "cdae_lite.cli", "denoise", str(stack), "-o", str(d / f"den{n}.mrcs"),
                                  "--model", str(model), "--device", a.device, "--batch-size", str(a.batch_size)],
                                 check=True, cwd=ROOT, capture_output=True, text=True,
                                 env={"CDAE_PROGRESS": "0", "PATH": "/usr/bin:/bin"}).stdout
            m = re.search(r"denoised (\d+) images .* in ([\d.]+) s \((\d+) images/s, peak memory (\d+) MB\)", out)
            rows.append({"images": int(m.group(1)), "size_px": a.size, "stack_MB": round(stack.stat().st_size / 2**20),
                         "device": a.device, "seconds": float(m.group(2)), "images_per_s": int(m.group(3)),
                         "peak_rss_MB": int(m.group(4))})
            stack.unlink()
            (d / f"den{n}.mrcs").unlink()
    print_table("streamed denoising (cdae-lite denoise, one process per stack)", rows, a.json)


if __name__ == "__main__":
    main()
