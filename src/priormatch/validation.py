"""Argument checks that raise one-line :class:`PriormatchError` messages naming the argument."""

from __future__ import annotations

import math
from typing import Iterable

from priormatch.errors import PriormatchError


def check_positive(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise PriormatchError(f"{name}={value!r} must be a finite number > 0")


def check_non_negative(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise PriormatchError(f"{name}={value!r} must be a finite number >= 0")


def check_range(name: str, value: float, low: float, high: float, *, high_inclusive: bool = False) -> None:
    """low <= value < high (or <= high)."""
    inside = low <= value <= high if high_inclusive else low <= value < high
    if not inside:
        bracket = "]" if high_inclusive else ")"
        raise PriormatchError(f"{name}={value!r} must lie in [{low}, {high}{bracket}")


def check_int_at_least(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PriormatchError(f"{name}={value!r} must be an integer >= {minimum}")


def check_choice(name: str, value: str, choices: Iterable[str]) -> None:
    options = tuple(choices)
    if value not in options:
        raise PriormatchError(f"{name}={value!r} is not one of: {', '.join(options)}")
