"""Seconds each chapter takes to execute, top to bottom, in a chosen profile.

Usage: ``python benchmarks/chapters.py [--profile quick|full] [--smoke] [--chapters 01 02 ...]
[--cache DIR] [--cells N] [--json out]``

Every chapter runs in a fresh kernel (nbclient), in book order, with ``CDAE_PROFILE`` set and, with
``--smoke``, ``CDAE_SMOKE=1``: the full profile's shapes and code paths (64 px, the paper's networks
and configs) with a handful of images and one epoch (``cdae_lite.paper.profiles.smoke``). Chapters 3 to 5
load the models chapter 2 trained, so their times depend on the cache: ``--cache DIR`` (default: a
new temporary folder, a cold cache) is passed as ``CDAE_CACHE``. A chapter that fails is reported
with its error and the others still run. The executed notebooks are not kept.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import print_table

ROOT = Path(__file__).resolve().parents[1]


def cell_seconds(nb) -> list[tuple[float, int, str]]:
    """``(seconds, cell index, first line)`` of every executed code cell, from nbclient's timing metadata."""
    from datetime import datetime

    out = []
    for i, cell in enumerate(nb.cells):
        t = cell.get("metadata", {}).get("execution", {})
        a, b = t.get("iopub.execute_input"), t.get("shell.execute_reply")
        if cell.cell_type == "code" and a and b:
            secs = (datetime.fromisoformat(b.replace("Z", "+00:00")) - datetime.fromisoformat(a.replace("Z", "+00:00")))
            out.append((secs.total_seconds(), i, (cell.source.strip().splitlines() or [""])[0][:70]))
    return out


def run_chapter(path: Path, env: dict, timeout: int, cells: int = 0) -> tuple[float, str]:
    """Execute one notebook in a fresh kernel; (seconds, 'ok' or the error's last line). With ``cells``,
    print that many of its slowest code cells to stderr."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        start = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
        return time.perf_counter() - start, "ok"
    except Exception as e:  # noqa: BLE001 -- report and go on with the next chapter
        return time.perf_counter() - start, (str(e).strip().splitlines() or [type(e).__name__])[-1][:120]
    finally:
        for secs, i, first in sorted(cell_seconds(nb), reverse=True)[:cells]:
            print(f"  {path.stem} cell {i}: {secs:.1f} s  {first}", file=sys.stderr)
        os.environ.clear()
        os.environ.update(old)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=["quick", "full"], default="quick")
    ap.add_argument("--smoke", action="store_true", help="CDAE_SMOKE=1 (with --profile full)")
    ap.add_argument("--chapters", nargs="*", help="chapter number prefixes or names, e.g. 01 02 scorecard "
                                                  "(default: all, the scorecard last)")
    ap.add_argument("--cache", help="CDAE_CACHE for the runs (default: a new temporary folder)")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    ap.add_argument("--cells", type=int, default=0, help="print each chapter's N slowest code cells")
    ap.add_argument("--json")
    a = ap.parse_args()
    chapters = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")) + [ROOT / "book" / "scorecard.ipynb"]
    if a.chapters:
        chapters = [c for c in chapters if c.name[:2] in a.chapters or c.stem in a.chapters]
    cache = a.cache or tempfile.mkdtemp(prefix="cdae-cache-")
    env = {"CDAE_PROFILE": a.profile, "CDAE_SMOKE": "1" if a.smoke else "0", "CDAE_CACHE": cache,
           "CDAE_PROGRESS": "0"}
    rows = []
    for nb in chapters:
        seconds, status = run_chapter(nb, env, a.timeout, a.cells)
        rows.append({"chapter": nb.stem, "profile": a.profile + (" (smoke)" if a.smoke else ""),
                     "seconds": round(seconds, 1), "status": status})
        print(f"{nb.stem}: {seconds:.1f} s, {status}", file=sys.stderr)
    rows.append({"chapter": "total", "profile": rows[0]["profile"] if rows else a.profile,
                 "seconds": round(sum(r["seconds"] for r in rows), 1),
                 "status": f"{sum(r['status'] == 'ok' for r in rows)} of {len(rows)} ok"})
    print_table(f"chapters executed top to bottom, profile {a.profile}{' with CDAE_SMOKE=1' if a.smoke else ''}, "
                f"cache {'given' if a.cache else 'cold'}", rows, a.json)


if __name__ == "__main__":
    main()
