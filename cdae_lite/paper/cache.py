"""Trained models cached on disk, keyed by config, data and source code.

Chapters that need the same model train it once (``cache_dir()/models``); any change of code, data or
config trains anew.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from cdae_lite.denoise.checkpoint import load_model, save_model
from cdae_lite.io.paths import cache_dir


def code_hash() -> str:
    """SHA-256 of the package's source files: a changed line invalidates cached models."""
    h = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for f in sorted(package.rglob("*.py")):
        h.update(f.relative_to(package).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _key(*parts) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob + code_hash().encode()).hexdigest()[:20]


def cached_model(name: str, key_parts, train_fn, architecture: str, config: dict):
    """Load model ``name`` from the cache, or train it with ``train_fn() -> (model, record)``.

    Returns ``(model, record)``; the record (histories etc.) is stored in the checkpoint.
    """
    path = cache_dir() / "models" / f"{name}-{_key(name, key_parts)}.pt"
    if path.exists():
        try:
            model, meta = load_model(path, expect=architecture)
            return model, meta["record"]
        except ValueError:
            path.unlink()  # a stale or broken cache entry: train again
    model, record = train_fn()
    save_model(path, model, architecture, config, record=record)
    return model.eval(), record


def data_hash(*arrays: np.ndarray) -> str:
    """Fingerprint of the data a model is trained on (part of every cache key)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _hist(h) -> dict:
    return h.as_dict()
