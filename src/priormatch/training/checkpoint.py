"""Atomic checkpoint files: written to a temporary file in the same directory, flushed to disk,
then renamed over the destination, so a crash never leaves a half-written checkpoint."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from priormatch.errors import PriormatchError


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_atomic(obj: Any, path: Path) -> None:
    """``torch.save(obj)`` to ``path`` atomically."""
    _atomic_write(path, lambda handle: torch.save(obj, handle))


def write_text_atomic(text: str, path: Path) -> None:
    _atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def save_npy_atomic(array: np.ndarray, path: Path) -> None:
    """``numpy.save(array)`` to ``path`` atomically."""
    _atomic_write(path, lambda handle: np.save(handle, array))


def write_json_atomic(obj: Any, path: Path) -> None:
    write_text_atomic(json.dumps(obj, indent=2, sort_keys=True) + "\n", path)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_atomic`; a missing or corrupt file is a one-line error."""
    if not path.is_file():
        raise PriormatchError(f"checkpoint {path} does not exist; train the run first or give the right run directory")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:  # torch raises many types for corrupt archives
        raise PriormatchError(
            f"checkpoint {path} is corrupt or unreadable ({type(error).__name__}); delete it and re-train, "
            "or resume from an intact copy"
        ) from None
    if not isinstance(state, dict):
        raise PriormatchError(f"checkpoint {path} does not hold a priormatch checkpoint; re-train the run")
    return state
