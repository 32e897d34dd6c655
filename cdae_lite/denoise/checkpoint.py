"""Save and load models safely.

A checkpoint is a ``torch.save`` of a plain dictionary: the architecture's name and config, the
weights (``state_dict``), the cdae-lite version and a free-form ``record`` (how the model was made).
Loading uses ``torch.load(weights_only=True)``, which refuses to unpickle arbitrary objects, so a
malicious or foreign file cannot execute code; a file of another architecture or shape is refused
with a message that says what it holds.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from cdae_lite import __version__
from cdae_lite.denoise.models import ARCHITECTURES, build
from cdae_lite.io.files import atomic_write

FORMAT = "cdae-lite-checkpoint-1"

#: Architecture names that checkpoints written before issue 29 store -> today's names (the shipped
#: ``weights/denoiser_general.pt`` stores ``"denoiser"``); :func:`load_model` reads both.
OLD_ARCHITECTURES = {"denoiser": "general_unet", "unet": "noise2void_unet"}


def _n_blocks(model: nn.Module) -> int:
    if hasattr(model, "blocks"):
        return len(model.blocks)
    net = getattr(model, "net", None)
    return len(net) if isinstance(net, nn.Sequential) else 1


def json_default(o):
    """``json.dumps(default=...)`` for NumPy values (scalars and arrays); anything else is refused.

    Parameters
    ----------
    o : object
        A value the ``json`` module cannot write itself.

    Returns
    -------
    int, float or list
        A NumPy scalar as the Python number, an array as nested lists.

    Raises
    ------
    TypeError
        Any other value.
    """
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot store {type(o).__name__} values as plain JSON data")


def _plain(value: dict) -> dict:
    """``value`` as plain JSON types (str subclasses such as torch's version become str)."""
    return json.loads(json.dumps(value, default=json_default))


def save_model(path: str | os.PathLike, model: nn.Module, architecture: str, config: dict,
               record: dict | None = None, overwrite: bool = True, protect: tuple = ()) -> Path:
    """Write ``model``'s weights with what is needed to rebuild it (atomically).

    ``config`` and ``record`` are stored as plain JSON values (str, numbers, lists, dicts), so that
    the checkpoint loads with ``torch.load(weights_only=True)``; a value JSON cannot hold (e.g. an
    arbitrary object) raises ``TypeError`` here rather than making an unloadable file.

    Parameters
    ----------
    path : str or PathLike
        The checkpoint file (its folders are created); it appears only once fully written.
    model : torch.nn.Module
        The model; its weights are stored on the CPU.
    architecture : str
        A key of :data:`~cdae_lite.denoise.models.ARCHITECTURES`, which rebuilds the model from ``config``.
    config : dict
        The architecture's settings (e.g. a config dataclass as a dict).
    record : dict, optional
        How the model was made (free form; read back as ``metadata["record"]``).
    overwrite : bool
        Replace an existing file.
    protect : tuple of paths
        Files the checkpoint must not replace (e.g. the inputs).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        An unknown architecture, or ``path`` is one of ``protect``.
    TypeError
        A value of ``config`` or ``record`` that JSON cannot hold.
    FileExistsError, FileNotFoundError, PermissionError
        An existing file without ``overwrite``, or a folder that cannot be written.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}")
    payload = {"format": FORMAT, "architecture": architecture, "config": _plain(dict(config)),
               "n_blocks": _n_blocks(model), "cdae_lite_version": __version__, "record": _plain(dict(record or {})),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    with atomic_write(path, overwrite, protect=protect, make_parents=True) as tmp:
        torch.save(payload, tmp)
    return Path(path)


#: Most blocks a cascade or chain checkpoint may declare (the paper's CDAE has 3).
MAX_BLOCKS = 32


def _rebuild(path: Path, arch: str, payload: dict) -> nn.Module:
    """The model a checkpoint describes, its fields checked and its shapes compared with the weights
    on PyTorch's ``meta`` device (no memory) before anything is allocated."""
    config, state = payload.get("config"), payload.get("state_dict")
    if not isinstance(config, dict):
        raise ValueError(f"{path}: its config is a {type(config).__name__}, not a dictionary of settings")
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} holds no weights (its state_dict is missing, empty or not tensors)")
    kwargs = {}
    if arch in ("cdae", "chain"):
        n = payload.get("n_blocks")
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_BLOCKS:
            raise ValueError(f"{path}: n_blocks must be a whole number from 1 to {MAX_BLOCKS}, got {n!r}")
        kwargs["n_blocks"] = n
    try:
        with torch.device("meta"):
            skeleton = build(arch, config, **kwargs)
    except (TypeError, ValueError, KeyError, AttributeError, RuntimeError, OverflowError) as exc:
        raise ValueError(f"{path}: its config {config} does not describe a '{arch}' model ({exc})") from exc
    want = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if want != got:
        missing, extra = len(set(want) - set(got)), len(set(got) - set(want))
        shape = sum(1 for k in set(want) & set(got) if want[k] != got[k])
        raise ValueError(f"{path}: the weights do not fit a '{arch}' model with config {config} "
                         f"({missing} tensors missing, {extra} unexpected, {shape} of another shape); the "
                         "file is damaged or was made by another program")
    model = build(arch, config, **kwargs)
    model.load_state_dict(state)
    return model


def load_model(path: str | os.PathLike, expect: str | None = None) -> tuple[nn.Module, dict]:
    """Rebuild a model from a checkpoint; returns ``(model in eval mode, metadata)``.

    A file that stores an architecture's name from before issue 29 (:data:`OLD_ARCHITECTURES`) loads as
    the architecture's name today, and ``metadata["architecture"]`` says today's name.

    Parameters
    ----------
    path : str or PathLike
        The checkpoint file.
    expect : str, optional
        The architecture the caller needs (a key of :data:`~cdae_lite.denoise.models.ARCHITECTURES`);
        another one is refused.

    Returns
    -------
    model : torch.nn.Module
        The model in eval mode on the CPU.
    metadata : dict
        The file's dictionary without its weights (``architecture``, ``config``, ``n_blocks``,
        ``record``, ...).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is not a cdae-lite checkpoint (or not loadable without executing code), or holds
        another architecture, or its weights do not fit.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4" for foreign files
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 -- weights_only never runs code; any failure means "not ours"
        reason = ("it holds objects that only code could rebuild, and cdae-lite never runs code from a file"
                  if "weights only load failed" in str(exc).lower()
                  else (str(exc).splitlines() or [type(exc).__name__])[0][:200])
        raise ValueError(f"{path} is not a cdae-lite checkpoint: it cannot be loaded as plain weights ({reason})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a cdae-lite checkpoint (no '{FORMAT}' marker)")
    arch = payload.get("architecture")
    arch = OLD_ARCHITECTURES.get(arch, arch) if isinstance(arch, str) else arch
    if arch not in ARCHITECTURES:
        raise ValueError(f"{path} holds a model of unknown architecture {arch!r}; this version of cdae-lite "
                         f"knows {sorted(ARCHITECTURES)}")
    if expect is not None and arch != expect:
        raise ValueError(f"{path} holds a '{arch}' model, but a '{expect}' model is needed")
    model = _rebuild(path, arch, payload)
    model.eval()
    meta = {k: v for k, v in payload.items() if k != "state_dict"} | {"architecture": arch}
    return model, meta


#: The models shipped in ``data/`` by name (``data/weights/README.md`` says how each was made):
#: ``general``, the default of ``cdae-lite denoise`` (a U-Net trained on many structures with fresh
#: noise), and ``cdae``, the paper's cascade trained on many structures. ``shipped`` is ``general``.
SHIPPED_MODELS = {"general": "weights/denoiser_general.pt", "cdae": "weights/cdae_general.pt"}
SHIPPED_MODEL = SHIPPED_MODELS["general"]


def load_denoiser(spec: str) -> tuple[nn.Module, dict, Path]:
    """A model by name (``"general"``, ``"cdae"``, ``"shipped"`` = general) or a checkpoint path.

    Parameters
    ----------
    spec : str
        A name of :data:`SHIPPED_MODELS`, ``"shipped"``, or the path of a checkpoint.

    Returns
    -------
    model : torch.nn.Module
        The model in eval mode on the CPU, as :func:`load_model` gives it.
    metadata : dict
        The checkpoint's dictionary without its weights.
    path : Path
        The file it came from.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load_model`.
    """
    from cdae_lite.io.paths import data_path

    name = "general" if spec == "shipped" else spec
    path = data_path(SHIPPED_MODELS[name]) if name in SHIPPED_MODELS else Path(spec)
    model, meta = load_model(path)
    return model, meta, path


def recorded_gain(meta: dict) -> float | None:
    """The contrast gain a checkpoint's record states (measured on the training protein), or None.

    Parameters
    ----------
    meta : dict
        A checkpoint's metadata (:func:`load_model`).

    Returns
    -------
    float or None
        ``meta["record"]["gain"]`` (the least-squares slope of output on truth, :func:`~cdae_lite.metrics.gain`),
        or None when the record has no number there.
    """
    g = (meta.get("record") or {}).get("gain")
    return float(g) if isinstance(g, (int, float)) else None
