"""The encoder contract shared by every encoder, for images and for series.

Methods (MSN, PMSN, SimCLR, MAE, data2vec, ...) only talk to an encoder through these protocols,
so a new encoder that satisfies them works with every method and is tested by the registry tests.

* :class:`Encoder` — every encoder: ``x`` is (B, C, H, W) for images or (B, C, T) for series
  (aeon layout, NaN = missing or padding); ``forward`` returns the pooled representation
  (B, embed_dim). ``mask_ratio`` hides that share of the input (MSN's random patch dropping of the
  anchor view): transformers drop patch tokens, conv nets blank input patches / time segments.
* :class:`TokenEncoder` — transformers, which also expose their patch tokens, so that MAE and
  data2vec can mask, drop and reconstruct tokens themselves.
* :class:`PatchStem` — the modality-specific front of a transformer (image or series patches).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor


@runtime_checkable
class Encoder(Protocol):
    """Maps a batch of inputs to pooled representations (B, embed_dim)."""

    embed_dim: int
    supports_token_masking: bool

    def forward(self, x: Tensor, *, mask_ratio: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
        """``x`` (B, C, H, W) or (B, C, T) -> (B, embed_dim); ``mask_ratio`` in [0, 1) hides that
        share of the input (random per sample, drawn from ``generator``); 0 draws nothing."""
        ...

    def __call__(self, x: Tensor, *, mask_ratio: float = 0.0, generator: torch.Generator | None = None) -> Tensor: ...


@runtime_checkable
class TokenEncoder(Encoder, Protocol):
    """A transformer encoder: patch tokens in, CLS-first token sequence out."""

    patch_dim: int

    def tokens(self, x: Tensor, *, replace: Tensor | None = None, mask_token: Tensor | None = None) -> Tensor:
        """Patch embeddings plus positions (B, T, D); where ``replace`` (B, T) is True the patch
        embedding is first replaced by ``mask_token`` (D,), so masked tokens keep their position."""
        ...

    def encode(self, tokens: Tensor, *, keep: Tensor | None = None, return_layers: bool = False) -> Tensor | tuple[Tensor, list[Tensor]]:
        """``tokens`` (B, T, D), ``keep`` (B, T_keep) indices -> final-normed (B, 1 + T_keep, D),
        CLS first; with ``return_layers`` also each block's output (B, 1 + T_keep, D), un-normed."""
        ...

    def patchify(self, x: Tensor) -> Tensor:
        """Raw input values per patch (B, T, patch_dim), in token order (MAE targets)."""
        ...

    def num_patches(self, x_shape: tuple[int, ...]) -> int:
        """Number of patch tokens T for an input of shape (B, C, ...) or (C, ...)."""
        ...

    def positions(self, x: Tensor) -> Tensor:
        """Positional embeddings (T, D) of the patch grid of ``x``."""
        ...


@runtime_checkable
class PatchStem(Protocol):
    """Turns an input into patch tokens; the only modality-specific part of a transformer."""

    embed_dim: int
    patch_dim: int

    def forward(self, x: Tensor) -> Tensor:
        """Patch embeddings without positions (B, T, embed_dim)."""
        ...

    def __call__(self, x: Tensor) -> Tensor: ...

    def positions(self, x: Tensor) -> Tensor:
        """Positional embeddings (T, embed_dim) for the actual patch grid of ``x``."""
        ...

    def patchify(self, x: Tensor) -> Tensor:
        """Raw values per patch (B, T, patch_dim), same token order as ``forward``."""
        ...

    def num_patches(self, x_shape: tuple[int, ...]) -> int:
        """Number of patches T for an input of shape (B, C, ...) or (C, ...)."""
        ...

    def grid(self, x_shape: tuple[int, ...]) -> tuple[int, int]:
        """(rows, cols) of the patch grid, row-major (series: (1, T))."""
        ...
