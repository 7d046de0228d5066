"""``train.precision``: fp32, bf16 autocast, or ``auto`` (the default).

``auto`` picks bf16 autocast where it was measured to pay and fp32 elsewhere: bf16 for the
convolutional image encoder (``encoder.name=cnn``) on a CPU with native bf16 instructions
(``avx512_bf16`` / AMX: the encoder's matrix products run at about twice the fp32 rate, a full
step takes 0.51-0.61 of the fp32 step, docs/benchmarks.md section 3), fp32 for the transformers (on
the same CPU bf16 made the tiny ViT's step 1.07-1.39x slower), the series encoders (not measured)
and on GPUs (not measured here). The objectives always compute in float32
(:mod:`priormatch.objectives.float32`), so bf16 only touches the encoder's and heads' products.
"""

from __future__ import annotations

import contextlib
import functools

import torch

from priormatch.errors import PriormatchError
from priormatch.training.config import PRECISIONS

BF16_ENCODERS = ("cnn",)  # encoders whose CPU step bf16 autocast was measured to speed up


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (avx512_bf16, AMX); emulated bf16 is slower than fp32."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolved_precision(precision: str, encoder_name: str, device: torch.device) -> str:
    """'fp32' or 'bf16': ``precision`` itself unless it is 'auto' (see the module docstring)."""
    if precision not in PRECISIONS:
        raise PriormatchError(f"train.precision={precision!r} must be one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    fast = device.type == "cpu" and encoder_name in BF16_ENCODERS and cpu_has_native_bf16()
    return "bf16" if fast else "fp32"


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The forward pass's context for a resolved precision ('fp32' or 'bf16')."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
