"""Atomic checkpoint files: written to a temporary file in the same directory, flushed to disk,
then renamed over the destination, so a crash never leaves a half-written checkpoint.

Checkpoints hold only tensors and plain containers (dicts, lists, tuples, str, int, float, bool,
None), so they load with ``torch.load(weights_only=True)``: a crafted ``checkpoint.pt`` or
``encoder.pt`` cannot run code when it is loaded.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import warnings
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
    """Load a checkpoint written by :func:`save_atomic` with ``weights_only=True`` (no code runs);
    a missing, corrupt or unsafe file is a one-line error."""
    if not path.is_file():
        raise PriormatchError(f"checkpoint {path} does not exist; train the run first or give the right run directory")
    try:
        with warnings.catch_warnings():  # e.g. torch's note on a foreign pickle protocol: the error says enough
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if "global" not in str(error).lower():
            raise PriormatchError(
                f"checkpoint {path} is corrupt or not a weights-only checkpoint; delete it and re-train, or resume from an intact copy"
            ) from None
        raise PriormatchError(
            f"checkpoint {path} holds Python objects other than tensors and plain containers, refused because "
            "loading them could run code; delete it and re-train, or resume from a checkpoint priormatch wrote"
        ) from None
    except Exception as error:  # torch raises many types for corrupt archives
        raise PriormatchError(
            f"checkpoint {path} is corrupt or unreadable ({type(error).__name__}); delete it and re-train, or resume from an intact copy"
        ) from None
    if not isinstance(state, dict):
        raise PriormatchError(f"checkpoint {path} does not hold a priormatch checkpoint; re-train the run")
    return state


def checkpoint_entry(state: dict[str, Any], key: str, path: Path) -> Any:
    """``state[key]`` of the checkpoint loaded from ``path``; a one-line error when it is absent."""
    if key not in state:
        raise PriormatchError(f"checkpoint {path} has no {key!r} entry, so it was not written by priormatch train; re-train the run")
    return state[key]


def load_weights(target: Any, state_dict: Any, *, path: Path, fix: str) -> None:
    """``target.load_state_dict(state_dict)`` (a module or an optimizer); a checkpoint of another
    architecture is a one-line error naming ``path``, the first mismatch and ``fix``."""
    try:
        target.load_state_dict(state_dict)
    except (RuntimeError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise PriormatchError(f"checkpoint {path} does not fit this model ({first_mismatch(error)}); {fix}") from None


def first_mismatch(error: BaseException, limit: int = 200) -> str:
    """The first detail of a ``load_state_dict`` error (torch lists every mismatch on its own line)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = (
        lines[1]
        if len(lines) > 1 and lines[0].startswith("Error(s) in loading state_dict")
        else (lines[0] if lines else type(error).__name__)
    )
    detail = detail.rstrip(". ")
    return detail if len(detail) <= limit else detail[: limit - 3] + "..."
