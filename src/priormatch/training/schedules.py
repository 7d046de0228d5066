"""Schedules as pure functions of the global step, so a resumed run continues exactly."""

from __future__ import annotations

import math


def cosine_with_warmup(step: int, total_steps: int, *, peak: float, final: float, warmup_steps: int, start: float = 0.0) -> float:
    """Linear warm-up from ``start`` to ``peak`` over ``warmup_steps``, then cosine decay to ``final``."""
    if step < warmup_steps:
        return start + (peak - start) * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return final + 0.5 * (peak - final) * (1.0 + math.cos(math.pi * progress))


def cosine_increase(step: int, total_steps: int, *, start: float, end: float) -> float:
    """Half-cosine from ``start`` at step 0 to ``end`` at the last step (weight decay: 0.04 -> 0.4)."""
    progress = min(1.0, step / max(1, total_steps - 1))
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * progress))


def linear(step: int, total_steps: int, *, start: float, end: float) -> float:
    """Linear from ``start`` at step 0 to ``end`` at the last step (EMA momentum: 0.996 -> 1)."""
    progress = min(1.0, step / max(1, total_steps - 1))
    return start + (end - start) * progress
