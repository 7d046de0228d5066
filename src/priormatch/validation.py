"""Argument checks that raise one-line :class:`PriormatchError` messages naming the argument.

Every check rejects booleans where numbers are expected and NaN / Inf where finite numbers are,
so a config value such as ``train.lr=nan`` fails here, before any run directory exists.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
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
MAX_VIEW_SIZE = 4096  # pixels of a view side / time steps of a resampled series
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


def _hint(hint: str) -> str:
    """``"; hint"`` to end a message with, or nothing."""
    return f"; {hint}" if hint else ""


def check_int_at_least(name: str, value: int, minimum: int, *, hint: str = "") -> None:
    """An integer >= ``minimum``; ``hint`` (optional) ends the message, e.g. why or what to do."""
    if not _is_int(value) or value < minimum:
        raise PriormatchError(f"{name}={value!r} must be an integer >= {minimum}{_hint(hint)}")


def check_int_between(name: str, value: int, minimum: int, maximum: int, *, hint: str = "") -> None:
    """An integer in ``minimum..maximum`` (both included); ``hint`` (optional) ends the message."""
    if not _is_int(value) or not minimum <= value <= maximum:
        raise PriormatchError(f"{name}={value!r} must be an integer in {minimum}..{maximum}{_hint(hint)}")


def check_multiple_of(name: str, value: int, factor: int, factor_name: str = "", *, hint: str = "") -> None:
    """An integer ``value`` divisible by the integer ``factor`` >= 1 (0 is a multiple of every factor).

    ``factor_name`` names the factor when it is another argument (``heads``), so the message reads
    ``dim=10 must be a multiple of heads=3``; ``hint`` (optional) ends the message.
    """
    factor_text = f"{factor_name}={factor!r}" if factor_name else repr(factor)
    if not _is_int(factor) or factor < 1:
        raise PriormatchError(f"{factor_name or name + ' factor'}={factor!r} must be an integer >= 1{_hint(hint)}")
    if not _is_int(value) or value % factor:
        raise PriormatchError(f"{name}={value!r} must be a multiple of {factor_text}{_hint(hint)}")


def check_odd(name: str, value: int, *, hint: str = "") -> None:
    """An odd integer >= 1 (e.g. a convolution kernel with 'same' padding)."""
    if not _is_int(value) or value < 1 or value % 2 == 0:
        raise PriormatchError(f"{name}={value!r} must be an odd integer >= 1{_hint(hint)}")


def check_min_size(name: str, size: int, minimum: int, unit: str, *, hint: str = "") -> None:
    """``size`` (a count of ``unit``, e.g. the samples of a batch) is at least ``minimum``.

    The message reads ``z1 and z2 must hold at least 1 sample, got 0``; give ``unit`` in the
    number ``minimum`` needs (``sample`` / ``samples``).
    """
    if size < minimum:
        raise PriormatchError(f"{name} must hold at least {minimum} {unit}, got {size}{_hint(hint)}")


def check_same_size(what: str, sizes: Mapping[str, int], *, hint: str = "") -> None:
    """All ``sizes`` (name -> size, e.g. the feature sizes of several tensors) are equal."""
    if len(set(sizes.values())) > 1:
        listing = ", ".join(f"{name}={size!r}" for name, size in sizes.items())
        raise PriormatchError(f"{what} differ: {listing}; they must be equal{_hint(hint)}")


def check_length(name: str, values: Sequence[Any], length: int, *, hint: str = "") -> None:
    """A sequence of exactly ``length`` entries."""
    if len(values) != length:
        raise PriormatchError(f"{name}={list(values)!r} has {len(values)} entries; it must hold {length}{_hint(hint)}")


def check_shape(name: str, tensor: Any, expected: Sequence[int | None], layout: str, *, dtype: Any = None) -> None:
    """A tensor (anything with ``.shape``) of ``len(expected)`` dimensions whose sizes equal
    ``expected`` where it gives an int (``None``: any size), and of ``dtype`` when given.

    ``layout`` describes the expected shape in the message, e.g. ``"(B, T) = (4, 9)"``:
    ``masked must be a torch.bool tensor of shape (B, T) = (4, 9), got torch.float32 (4, 8)``.
    """
    shape = tuple(tensor.shape)
    fits = len(shape) == len(expected) and all(want is None or want == got for want, got in zip(expected, shape))
    if dtype is not None and tensor.dtype != dtype:
        raise PriormatchError(f"{name} must be a {dtype} tensor of shape {layout}, got {tensor.dtype} {shape}")
    if not fits:
        raise PriormatchError(f"{name} must be {layout}, got shape {shape}")


def check_same_shape(first_name: str, first: Any, second_name: str, second: Any, layout: str) -> None:
    """Two tensors of one shape with ``layout.count(',') + 1`` dimensions, e.g. ``layout="(N, D)"``."""
    dims = layout.count(",") + 1
    if first.ndim != dims or tuple(first.shape) != tuple(second.shape):
        raise PriormatchError(
            f"{first_name} and {second_name} must both be {layout} with the same shape; got {tuple(first.shape)} and {tuple(second.shape)}"
        )


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


def check_positive_pair(name: str, value: Any, *, upper: float = math.inf, example: str = "[0.75, 1.33]") -> None:
    """A ``[low, high]`` pair of numbers with ``0 < low <= high <= upper`` (e.g. an aspect-ratio range)."""
    pair = list(value) if isinstance(value, (list, tuple)) else None
    valid = pair is not None and len(pair) == 2 and all(_is_number(v) for v in pair) and 0 < pair[0] <= pair[1] <= upper
    if not valid:
        raise PriormatchError(f"{name}={value!r} must be [low, high] with 0 < low <= high <= {upper}, e.g. {example}")


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
