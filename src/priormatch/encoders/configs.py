"""Typed encoder configs; ``name`` selects the entry of ``priormatch.encoders.ENCODERS``.

Defaults are sized for small data on CPU: 28x28 images and UCR/UEA-length series. The input
channels (and sizes) come from the data set at build time, never from the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class ViTConfig:
    """Vision transformer. Patch 7 turns 28x28 images into a 4x4 grid of 16 tokens; views must be
    multiples of patch_size (e.g. 14x14 focal crops, 4 tokens). embed_dim must be divisible by 4."""

    name: str = "vit"
    patch_size: Optional[int] = None  # None: a quarter of the image side (28 -> 7, 8 -> 2): 16 tokens
    embed_dim: int = 128  # CPU-sized: ViT-Tiny is 192 wide and 12 deep
    depth: int = 4
    heads: int = 4  # 32 dims per head
    mlp_ratio: float = 4.0


@dataclass(frozen=True)
class CNNConfig:
    """Small CNN: one 3x3 conv-BN-ReLU layer per entry of ``(*widths, embed_dim)``, downsampled by
    ``strides``; the representation is the global average of the last layer (embed_dim)."""

    name: str = "cnn"
    widths: tuple[int, ...] = (32, 64, 128, 128)
    strides: tuple[int, ...] = (1, 2, 1, 2, 2)  # 28x28 -> 4x4
    embed_dim: int = 256
    mask_patch: int = 4  # side of the input cells zeroed by mask_ratio (28x28 -> 7x7 cells)


@dataclass(frozen=True)
class SeriesTransformerConfig:
    """Transformer over non-overlapping time patches (PatchTST-like, channels mixed per patch)."""

    name: str = "series_transformer"
    patch_length: int = 8  # series must have at least this many time steps
    embed_dim: int = 128
    depth: int = 4
    heads: int = 4  # 32 dims per head
    mlp_ratio: float = 4.0


@dataclass(frozen=True)
class Conv1dConfig:
    """TS2Vec-style dilated residual conv net, CPU-sized: depth 6, kernel 3: receptive field 253 steps.

    TS2Vec's own sizes are hidden=64, depth=10, embed_dim=320 (receptive field 4093). Block i pads
    by 2^i on each side, so blocks whose dilation exceeds the series length mostly convolve zero
    padding: on 2 CPU threads the TS2Vec sizes cost ~3x more per step at length 128 and ~12x more at
    length 512 than these (docs/time_series.md), while max-pooling over time still sees the whole
    series. Set encoder.hidden=64 encoder.depth=10 encoder.embed_dim=320 for the TS2Vec network.
    """

    name: str = "conv1d"
    hidden: int = 32  # TS2Vec: 64
    depth: int = 6  # TS2Vec: 10
    embed_dim: int = 128  # TS2Vec: 320
    kernel: int = 3  # odd
    mask_segment: int = 8  # length of the time segments hidden by mask_ratio
