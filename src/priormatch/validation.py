"""Argument checks that raise one-line :class:`PriormatchError` messages naming the argument.

Every check rejects booleans where numbers are expected and NaN / Inf where finite numbers are,
so a config value such as ``train.lr=nan`` fails here, before any run directory exists.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from priormatch.errors import PriormatchError

# Sanity bounds on sizes: far above anything this library trains, far below what would exhaust
# memory before a single step (an ``encoder.embed_dim=10**9`` must fail here, not in the allocator).
MAX_WIDTH = 8192  # channels / embedding / hidden widths (ViT-22B is 6144 wide)
MAX_DEPTH = 256  # layers / blocks
MAX_COUNT = 2**20  # other counts, e.g. classes per batch
MAX_PROTOTYPES = 2**16  # prototypes / clusters K
MAX_VIEWS = 64  # extra (focal) views per sample
MAX_ITERATIONS = 1000  # Sinkhorn iterations
MAX_RATIO = 64.0  # MLP expansion ratios
MAX_SEED = 2**32 - 1  # NumPy's and torch's portable seed range


def _is_number(value: Any) -> bool:
    """A real number (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    """An integer (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive(name: str, value: float) -> None:
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise PriormatchError(f"{name}={value!r} must be a finite number > 0")


def check_non_negative(name: str, value: float) -> None:
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise PriormatchError(f"{name}={value!r} must be a finite number >= 0")


def check_range(name: str, value: float, low: float, high: float, *, high_inclusive: bool = False) -> None:
    """low <= value < high (or <= high); NaN and non-numbers are outside every range."""
    inside = _is_number(value) and (low <= value <= high if high_inclusive else low <= value < high)
    if not inside:
        bracket = "]" if high_inclusive else ")"
        raise PriormatchError(f"{name}={value!r} must lie in [{low}, {high}{bracket}")


def check_int_at_least(name: str, value: int, minimum: int) -> None:
    if not _is_int(value) or value < minimum:
        raise PriormatchError(f"{name}={value!r} must be an integer >= {minimum}")


def check_int_between(name: str, value: int, minimum: int, maximum: int) -> None:
    """An integer in ``minimum..maximum`` (both included)."""
    if not _is_int(value) or not minimum <= value <= maximum:
        raise PriormatchError(f"{name}={value!r} must be an integer in {minimum}..{maximum}")


def check_optional_int_at_least(name: str, value: int | None, minimum: int) -> None:
    """``None`` (meaning "the default") or an integer >= ``minimum``."""
    if value is not None:
        check_int_at_least(name, value, minimum)


def check_optional_int_between(name: str, value: int | None, minimum: int, maximum: int) -> None:
    """``None`` (meaning "the default") or an integer in ``minimum..maximum``."""
    if value is not None:
        check_int_between(name, value, minimum, maximum)


def check_width(name: str, value: int, minimum: int = 1) -> None:
    """A layer width / channel count in ``minimum..MAX_WIDTH``."""
    check_int_between(name, value, minimum, MAX_WIDTH)


def check_depth(name: str, value: int, minimum: int = 1) -> None:
    """A number of layers / blocks in ``minimum..MAX_DEPTH``."""
    check_int_between(name, value, minimum, MAX_DEPTH)


def check_seed(name: str, value: int) -> None:
    """A random seed in ``0..2**32 - 1``, the range every NumPy and torch seeding call accepts."""
    check_int_between(name, value, 0, MAX_SEED)


def check_not_above(name: str, value: float, other_name: str, other: float) -> None:
    """``value <= other``, e.g. the final learning rate does not exceed the peak one."""
    if value > other:
        raise PriormatchError(f"{name}={value!r} must not exceed {other_name}={other!r}; lower {name} or raise {other_name}")


def check_fraction_pair(name: str, value: Any) -> None:
    """A ``[low, high]`` pair with ``0 < low <= high <= 1`` (e.g. a crop-area range)."""
    pair = list(value) if isinstance(value, (list, tuple)) else None
    valid = pair is not None and len(pair) == 2 and all(_is_number(v) and math.isfinite(v) for v in pair) and 0 < pair[0] <= pair[1] <= 1
    if not valid:
        raise PriormatchError(f"{name}={value!r} must be [low, high] with 0 < low <= high <= 1, e.g. [0.3, 1.0]")


def check_choice(name: str, value: str, choices: Iterable[str]) -> None:
    options = tuple(choices)
    if value not in options:
        raise PriormatchError(f"{name}={value!r} is not one of: {', '.join(options)}")


def check_creatable_directory(option: str, path: Path) -> None:
    """``path`` is a directory already, or can be made: its nearest existing ancestor is a
    writable directory (not a regular file). Checked before any work, so nothing is half-written."""
    if path.exists():
        if not path.is_dir():
            raise PriormatchError(f"{option} {path} is a file, not a directory; choose another {option}")
        return
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise PriormatchError(f"{option} {path} cannot be created: {parent} is a file, not a directory; choose another {option}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PriormatchError(f"{option} {path} cannot be created: {parent} is not writable; choose another {option}")
