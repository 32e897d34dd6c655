"""Devices, seeds, progress bars and provenance: the switches every stage shares.

The paper's profiles (quick, full, the smoke path) are not here: they are the experiments' business,
in :mod:`cdae_lite.paper.profiles`. The library's configs are plain dataclasses whose defaults are the
paper's values.
"""

from __future__ import annotations

import os
import platform
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

try:  # Unix only; on Windows peak_rss_mb asks psutil, or says it does not know
    import resource
except ImportError:  # tests/test_platform.py blocks the import to check this
    resource = None


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Return the torch device to compute on.

    Parameters
    ----------
    device : str or torch.device, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``... When omitted, ``CDAE_DEVICE`` is read, and when that
        is unset CUDA is used if available, else the CPU.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the name is not a device, or CUDA is requested on a machine without a CUDA GPU.
    """
    if device is None:
        device = os.environ.get("CDAE_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r}: use cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("a CUDA device was requested but torch sees no GPU here: use device='cpu'")
    return device


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch, and return a CPU ``torch.Generator`` seeded with ``seed``.

    The same seed gives the same numbers on the same machine and library versions. GPU kernels may
    still differ in the last bits between runs; the experiments record the device they ran on.

    Parameters
    ----------
    seed : int
        A non-negative integer.

    Returns
    -------
    torch.Generator
        A CPU generator seeded with ``seed``.

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative integer.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))
    return torch.Generator().manual_seed(int(seed))


#: Set by :func:`set_progress` (the command line's ``--quiet``); ``None``: the environment decides.
_progress_switch: bool | None = None


def set_progress(enabled: bool | None) -> bool | None:
    """Turn progress bars on or off in this process, over ``CDAE_PROGRESS``.

    The command line calls it for ``--quiet`` and puts the old value back when the command ends.

    Parameters
    ----------
    enabled : bool or None
        ``False`` hides every progress bar, ``True`` shows them; ``None`` gives the choice back to the
        environment variable ``CDAE_PROGRESS``.

    Returns
    -------
    bool or None
        The previous setting, to restore it with.
    """
    global _progress_switch
    previous, _progress_switch = _progress_switch, enabled
    return previous


def progress_enabled() -> bool:
    """Whether long loops show progress bars.

    Returns
    -------
    bool
        The setting of :func:`set_progress` when one was made, else ``False`` when the environment
        variable ``CDAE_PROGRESS`` is ``0``, ``false``, ``no`` or ``off``, and ``True`` otherwise.
    """
    if _progress_switch is not None:
        return _progress_switch
    return os.environ.get("CDAE_PROGRESS", "1").strip() not in ("0", "false", "no", "off")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux reports KiB, macOS bytes).

    Where the ``resource`` module does not exist (Windows), psutil's peak working set when psutil is
    installed, else NaN (unknown).

    Returns
    -------
    float
        Megabytes (2**20 bytes).
    """
    if resource is None:
        try:
            import psutil
        except ImportError:
            return float("nan")
        info = psutil.Process().memory_info()
        return getattr(info, "peak_wset", info.rss) / 1024 / 1024
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 / 1024 if sys.platform == "darwin" else r / 1024


def git_commit(root: Path | None = None) -> str:
    """The git commit of this checkout (with "-dirty" when tracked files differ), or "unknown".

    Changes under ``results/`` do not count: a recorded run rewrites its own result file there after
    every seed, which says nothing about the code that ran. A copy of the tree without ``.git`` (a
    GPU machine that was sent the working tree) reports ``CDAE_COMMIT`` from the environment with
    " (stated)" appended, since nothing there can check it, or "unknown".

    Parameters
    ----------
    root : Path, optional
        A folder of the checkout (default: the one holding this package).

    Returns
    -------
    str
        The 40-digit commit, with ``-dirty`` when tracked files outside ``results/`` differ.
    """
    root = root or Path(__file__).resolve().parents[1]  # the checkout holding cdae_lite/
    stated = os.environ.get("CDAE_COMMIT", "").strip()
    unknown = f"{stated} (stated)" if stated else "unknown"
    try:
        c = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        d = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"],
                           cwd=root, capture_output=True, text=True, timeout=10)
        return c.stdout.strip() + ("-dirty" if d.stdout.strip() else "") if c.returncode == 0 else unknown
    except (OSError, subprocess.SubprocessError):
        return unknown


def command_line() -> str:
    """The command line that is running, as a user would type it (for provenance records).

    A module run with ``python -m`` is named by its import name (``python -m cdae_lite.paper cdae
    --profile cpu``), a console script by its name (``cdae-lite denoise ...``), a script by its path
    (``python benchmarks/stream.py ...``).

    Returns
    -------
    str
        The program and its arguments, separated by spaces.
    """
    argv = list(sys.argv)
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:  # python -m package (its __main__) or python -m package.module
        program = ["python", "-m", spec.name.removesuffix(".__main__")]
    elif argv and argv[0] and not argv[0].endswith(".py") and Path(argv[0]).name != "-c":
        program = [Path(argv[0]).name]  # a console script: cdae-lite
    else:
        program = ["python", *argv[:1]]
    return " ".join(program + argv[1:])


def device_name(device: str | torch.device | None = None) -> str:
    """The device's name as records state it: the GPU's model, or the CPU's architecture and threads.

    Parameters
    ----------
    device : str or torch.device, optional
        As for :func:`get_device`.

    Returns
    -------
    str
        E.g. ``"NVIDIA H100 80GB HBM3"`` or ``"CPU (x86_64, 2 threads)"``.
    """
    dev = get_device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"


def progress(total: int, desc: str, unit: str = "img", enabled: bool = True):
    """A tqdm progress bar on stderr, silent when :func:`progress_enabled` or ``enabled`` is false.

    Parameters
    ----------
    total : int
        Number of steps the bar counts to (images, epochs...).
    desc : str
        Label printed before the bar.
    unit : str, optional
        Name of one step, shown in the rate (``"img"``: images per second).
    enabled : bool, optional
        ``False`` hides the bar whatever :func:`progress_enabled` says (e.g. on a rank other than 0).

    Returns
    -------
    tqdm.tqdm
        The bar: call ``update(n)`` after ``n`` steps and ``close()`` at the end (or use it in a
        ``with`` block). A disabled bar accepts the same calls and draws nothing.
    """
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not (enabled and progress_enabled()), file=sys.stderr)
