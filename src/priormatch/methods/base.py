"""The method contract: a method wraps an encoder and turns a batch of views into a loss.

The training loop never knows which method it runs. It asks the method which views it needs
(:class:`ViewSpec`), hands them over, back-propagates ``MethodOutput.loss``, logs
``MethodOutput.metrics`` and calls :meth:`SSLMethod.update_teacher` after each optimizer step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class ViewSpec:
    """How many augmented views of each sample a method needs per step."""

    num_global: int  # full-size views, e.g. MSN: target + anchor
    num_focal: int = 0  # small crops (MSN's "focal" anchor views)
    augmented: bool = True  # False: each global view is the unaugmented batch (TS2Vec crops it itself)


@dataclass(frozen=True)
class DataInfo:
    """What a method may know about its pretraining data when it is built."""

    kind: str  # "image" or "series"
    input_shape: tuple[int, ...]  # one sample: (C, H, W) or (C, T)
    class_counts: tuple[int, ...] = ()  # per class in the pretraining subset (for matched priors)


@dataclass
class MethodOutput:
    """A scalar loss to minimise and named floats to log."""

    loss: Tensor
    metrics: dict[str, float] = field(default_factory=dict)


class SSLMethod(nn.Module):
    """Base class. Subclasses set ``view_spec`` and ``encoder`` and implement :meth:`forward`.

    Modules listed in ``teacher_modules`` are EMA copies: frozen (``requires_grad=False``) and
    updated only by :meth:`update_teacher`.
    """

    view_spec: ViewSpec
    encoder: nn.Module

    def forward(self, global_views: list[Tensor], focal_views: list[Tensor], *, generator: torch.Generator) -> MethodOutput:
        raise NotImplementedError

    def teacher_modules(self) -> list[nn.Module]:
        """EMA teacher modules (no gradient); empty for methods without a teacher."""
        return []

    def teacher_momentum_range(self) -> tuple[float, float] | None:
        """(start, end) momentum of an EMA teacher, which the loop ramps linearly over the run
        (``training/schedules.py``); None for methods without one (a teacher that is not an EMA,
        like TS2Vec's weight average, is updated with ``momentum=None``)."""
        return None

    @torch.no_grad()
    def update_teacher(self, momentum: float | None) -> None:
        """Move teacher weights towards the online ones after an optimizer step (no-op by default);
        ``momentum`` follows :meth:`teacher_momentum_range` (None without an EMA teacher)."""

    def evaluation_encoder(self) -> nn.Module:
        """The encoder whose frozen features are evaluated (the target encoder for EMA methods)."""
        return self.encoder

    @property
    def uses_teacher(self) -> bool:
        return bool(self.teacher_modules())
