"""Exponential moving average ("EMA") teachers, shared by MSN, PMSN, data2vec and JEPA."""

from __future__ import annotations

import copy
from typing import Any, TypeVar

import torch
from torch import nn

from priormatch.errors import PriormatchError
from priormatch.methods.base import SSLMethod

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def frozen_copy(module: ModuleT) -> ModuleT:
    """A deep copy of ``module`` with every parameter frozen (``requires_grad=False``)."""
    teacher = copy.deepcopy(module)
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    return teacher


@torch.no_grad()
def ema_update_(teacher: nn.Module, student: nn.Module, momentum: float, *, normalisation_statistics: str = "own") -> None:
    """teacher <- momentum * teacher + (1 - momentum) * student, parameter by parameter.

    Buffers other than normalisation statistics (e.g. fixed position tables) are copied from the
    student. BatchNorm running statistics are the teacher's own by default (``"own"``): a teacher
    that runs forward in training mode on its own inputs (MSN's target views, data2vec's whole
    images) keeps the statistics of *those* inputs, where copying the student's would give it the
    statistics of masked and focal views (running variance 0.44 against 0.06 measured on the CNN
    teacher). ``"copy"`` copies them too, for an averaged model that never runs forward itself.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"EMA momentum={momentum} must lie in [0, 1]")
    if normalisation_statistics not in ("own", "copy"):
        raise ValueError(f"normalisation_statistics={normalisation_statistics!r} must be 'own' or 'copy'")
    for t, s in zip(teacher.parameters(), student.parameters(), strict=True):
        t.lerp_(s.detach(), 1.0 - momentum)
    own = normalisation_buffers(teacher) if normalisation_statistics == "own" else set()
    for (name, teacher_buffer), student_buffer in zip(teacher.named_buffers(), student.buffers(), strict=True):
        if name not in own:
            teacher_buffer.copy_(student_buffer)


def normalisation_buffers(module: nn.Module) -> set[str]:
    """Names of the BatchNorm running statistics (mean, variance, batch count) in ``module``."""
    return {
        f"{prefix}.{buffer}" if prefix else buffer
        for prefix, child in module.named_modules()
        if isinstance(child, nn.modules.batchnorm._BatchNorm)
        for buffer, _ in child.named_buffers(recurse=False)
    }


class EMATeacherMethod(SSLMethod):
    """A method whose teachers are EMA copies of its student modules (:meth:`ema_pairs`); its config
    has ``ema_momentum`` (the start) and ``ema_momentum_end``, which the loop ramps over the run."""

    config: Any

    def ema_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(teacher, student) pairs, in update order."""
        raise NotImplementedError

    def teacher_modules(self) -> list[nn.Module]:
        return [teacher for teacher, _ in self.ema_pairs()]

    def teacher_momentum_range(self) -> tuple[float, float]:
        return self.config.ema_momentum, self.config.ema_momentum_end

    @torch.no_grad()
    def update_teacher(self, momentum: float | None) -> None:
        if momentum is None:
            raise PriormatchError("an EMA teacher was updated without a momentum; pass the loop's scheduled ema_momentum")
        for teacher, student in self.ema_pairs():
            ema_update_(teacher, student, momentum)
