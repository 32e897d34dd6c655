"""Helpers shared by the benchmark scripts: devices to test, timing, table printing."""

from __future__ import annotations

import datetime
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def devices(requested: list[str] | None = None) -> list[torch.device]:
    names = requested or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    return [torch.device(d) for d in names]


def device_label(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"CPU {platform.machine()} ({torch.get_num_threads()} threads)"


def _cpu_name() -> str:
    try:
        names = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
        return f"{names[0]} x {len(names)}"
    except (OSError, IndexError):
        return platform.processor() or platform.machine()


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(fn, dev: torch.device, repeats: int = 3) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after one warm-up, seconds."""
    fn()
    times = []
    for _ in range(repeats):
        sync(dev)
        t = time.perf_counter()
        fn()
        sync(dev)
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def print_table(title: str, rows: list[dict], json_path: str | None = None) -> None:
    print(title)
    if not rows:
        print("(no rows)")
        return
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in cols))
    print(f"torch {torch.__version__}")
    if json_path:
        write_json(title, rows, json_path)


def write_json(title: str, rows: list[dict], json_path: str, partial: str = "") -> None:
    """The rows with where they came from; ``partial`` says what had not finished when it was written
    (a run cut short keeps its finished rows). Written atomically: a reader never sees half a file."""
    from cdae_lite.io.files import atomic_write
    from cdae_lite.runtime import git_commit

    record = {"benchmark": title, "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{_cpu_name()}, {torch.get_num_threads()} torch threads"
                         + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""),
              "torch": torch.__version__, "commit": git_commit(), "command": " ".join(["python"] + sys.argv),
              "rows": rows}
    if partial:
        record["partial"] = partial
    with atomic_write(json_path, overwrite=True) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=1))
