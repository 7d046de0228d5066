"""Objectives run in float32, also inside a bf16 autocast region (``train.precision=bf16``).

Autocast runs the encoder's matrix products in bfloat16, whose 8-bit mantissa resolves about 2-3
significant digits. The objectives then take softmaxes over hundreds of prototypes, Sinkhorn
normalisations, logarithms of small probabilities and covariance sums, where that loses the
signal (a PMSN loss of 5.5 nats moves by ~0.02 per step; bf16 steps near 5.5 are 0.03). So each
objective entry point is decorated with :func:`in_float32`: its floating-point tensor arguments
are cast up and autocast is off inside, as mixed-precision practice keeps losses in fp32.
Outside autocast (fp32 training, the default) the decorator changes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import torch
from torch import Tensor

F = TypeVar("F", bound=Callable[..., Any])


def _up(value: Any) -> Any:
    """``value`` with its floating-point tensors (also inside a list or tuple) in float32."""
    if isinstance(value, Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, (list, tuple)):
        return type(value)(_up(item) for item in value)
    return value


def _device_type(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    for value in (*args, *kwargs.values()):
        if isinstance(value, Tensor):
            return value.device.type
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], Tensor):
            return value[0].device.type
    return "cpu"


def in_float32(function: F) -> F:
    """Decorate an objective so it computes in float32 whatever autocast region it is called in."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        device_type = _device_type(args, kwargs)
        if not torch.is_autocast_enabled(device_type):
            return function(*args, **kwargs)
        with torch.autocast(device_type=device_type, enabled=False):
            return function(*_up(args), **{key: _up(value) for key, value in kwargs.items()})

    return cast(F, wrapper)
