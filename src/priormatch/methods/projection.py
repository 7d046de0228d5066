"""MLP projection heads (MSN, SimCLR, VICReg's expander, SwAV)."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn


class ProjectionHead(nn.Module):
    """in_dim -> [Linear, BatchNorm, activation] x (layers - 1) -> Linear -> out_dim.

    MSN's head is 384 -> 2048 -> 2048 -> 256 (three linear layers, GELU); ``layers`` counts linear
    layers. SimCLR, VICReg and SwAV use ReLU (``activation=nn.ReLU``).
    """

    def __init__(
        self, in_dim: int, *, hidden_dim: int, out_dim: int, layers: int = 3, activation: Callable[[], nn.Module] = nn.GELU
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"projection layers={layers} must be >= 1")
        blocks: list[nn.Module] = []
        width = in_dim
        for _ in range(layers - 1):
            blocks += [nn.Linear(width, hidden_dim), nn.BatchNorm1d(hidden_dim), activation()]
            width = hidden_dim
        blocks.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:  # (B, in_dim) -> (B, out_dim)
        return self.net(x)
