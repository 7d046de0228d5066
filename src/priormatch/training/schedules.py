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


SHORT_RUN_HORIZON = 10.0  # short-run EMA momentum: the teacher keeps about exp(-10 / 2) < 1% of its initial weights


def short_run_momentum(steps: int) -> float:
    """EMA teacher momentum at the start of a run of ``steps`` steps: 1 - 10 / steps (floored at 0).

    The loop ramps the momentum linearly from it to ``ema_momentum_end`` (1), so over the run the
    teacher keeps about exp(-sum(1 - m)) = exp(-10 / 2) of its random initialisation. The MSN recipe's
    0.996 is meant for ~10^5 steps: over 200 steps the teacher, which is the encoder MSN evaluates,
    would keep exp(-200 * 0.004 / 2) = 67% of its initialisation.
    """
    return max(0.0, 1.0 - SHORT_RUN_HORIZON / steps)


def ema_initial_weight(steps: int, *, start: float, end: float) -> float:
    """Weight of its initialisation in an EMA teacher after ``steps`` updates with the ``linear``
    momentum schedule ``start -> end``: the product of the momenta (teacher_T = prod(m_t) teacher_0 + ...)."""
    return math.prod(linear(step, steps, start=start, end=end) for step in range(steps))
