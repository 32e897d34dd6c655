"""Profiles, devices, seeds, progress bars and provenance: the switches every stage shares.

A *profile* chooses the scale of an experiment. ``full`` is the paper's scale (64 px images, 1000
images per view); ``quick`` runs the same code path on smaller images and fewer images so that a
chapter executes on two CPU cores in a minute or two. The profile is read from the environment
variable ``CDAE_PROFILE`` (``quick`` or ``full``); when it is unset, ``full`` is used on a machine with
a CUDA GPU and ``quick`` elsewhere. Every experiment config derives from :class:`ProfiledConfig`.
"""

from __future__ import annotations

import os
import platform
import random
import subprocess
import sys
from pathlib import Path
from typing import Literal

import numpy as np
import torch

try:  # Unix only; on Windows peak_rss_mb asks psutil, or says it does not know
    import resource
except ImportError:  # tests/test_platform.py blocks the import to check this
    resource = None

Profile = Literal["quick", "full"]


PROFILES: tuple[str, ...] = ("quick", "full")


def get_profile(profile: str | None = None) -> Profile:
    """Return the profile to run in.

    Parameters
    ----------
    profile : str, optional
        ``"quick"`` or ``"full"``. When omitted, the environment variable ``CDAE_PROFILE`` is read;
        when that is unset too, ``"full"`` on a CUDA machine and ``"quick"`` otherwise.

    Returns
    -------
    str
        ``"quick"`` or ``"full"``.

    Raises
    ------
    ValueError
        If the requested profile is not one of the two names.
    """
    if profile is None:
        profile = os.environ.get("CDAE_PROFILE", "").strip().lower() or None
    if profile is None:
        return "full" if torch.cuda.is_available() else "quick"
    profile = profile.strip().lower()
    if profile not in PROFILES:
        raise ValueError(
            f"unknown profile {profile!r}: use 'quick' (small, CPU-friendly) or 'full' (paper scale), "
            "e.g. CDAE_PROFILE=quick"
        )
    return profile  # type: ignore[return-value]


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Return the torch device to compute on.

    Parameters
    ----------
    device : str or torch.device, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``... When omitted, ``CDAE_DEVICE`` is read, and when that
        is unset CUDA is used if available, else the CPU.

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
    """The command line that is running, as a user would type it (for provenance records)."""
    argv = list(sys.argv)
    if argv and argv[0].replace("\\", "/").endswith(("cdae_lite/paper/__main__.py", "cdae_lite/paper/command.py")):
        argv = ["python", "-m", "cdae_lite.paper"] + argv[1:]
    elif argv and argv[0].endswith("cdae-lite"):
        argv = ["cdae-lite"] + argv[1:]
    else:
        argv = ["python"] + argv
    return " ".join(argv)


def device_name(device=None) -> str:
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


def smoke() -> bool:
    """Whether ``CDAE_SMOKE`` asks for the smoke path: the full profile's shapes and code paths (64 px,
    the paper's networks and configs) with a handful of images and one epoch, so that branches taken
    only at full scale are exercised in minutes on a CPU. Any value but empty or ``0`` turns it on."""
    return os.environ.get("CDAE_SMOKE", "").strip() not in ("", "0")


def by_profile(quick, full, smoke_value=None, profile: str | None = None):
    """A chapter's size for the current profile: ``quick``, ``full``, or on the smoke path
    (:func:`smoke` with the full profile) ``smoke_value`` (default: ``quick``).

    >>> by_profile(12, 48, profile="quick"), by_profile(12, 48, profile="full")
    (12, 48)
    """
    if get_profile(profile) == "quick":
        return quick
    return (quick if smoke_value is None else smoke_value) if smoke() else full


class ProfiledConfig:
    """What every experiment config shares: :meth:`full`, :meth:`quick`, :meth:`for_profile`, :meth:`as_dict`.

    A frozen dataclass that derives from it has the paper's values as its defaults (:meth:`full`) and
    names the changes of its CPU-sized variant in :meth:`quick_overrides`.
    """

    @classmethod
    def quick_overrides(cls) -> dict:
        """Field values of the quick variant (none by default)."""
        return {}

    @classmethod
    def quick(cls, **overrides):
        """The quick profile: :meth:`quick_overrides`, then ``overrides``."""
        return cls(**{**cls.quick_overrides(), **overrides})

    @classmethod
    def full(cls, **overrides):
        """The full profile: the defaults (the paper's), then ``overrides``."""
        return cls(**overrides)

    @classmethod
    def smoke_overrides(cls) -> dict:
        """Field values of the smoke path (:func:`~cdae_lite.runtime.smoke`): sizes and epochs only, never shapes."""
        return {}

    @classmethod
    def for_profile(cls, profile: str | None = None, **overrides):
        """:meth:`quick` or :meth:`full` according to :func:`get_profile`; the full profile with
        :meth:`smoke_overrides` when :func:`~cdae_lite.runtime.smoke` is on."""
        if get_profile(profile) == "quick":
            return cls.quick(**overrides)
        return cls.full(**{**(cls.smoke_overrides() if smoke() else {}), **overrides})

    def as_dict(self) -> dict:
        """The config as plain nested dicts (for records and cache keys)."""
        from dataclasses import asdict

        return asdict(self)
