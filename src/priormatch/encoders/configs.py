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
    """TS2Vec-style dilated residual conv net; depth 10, kernel 3: receptive field 4093 steps."""

    name: str = "conv1d"
    hidden: int = 64
    depth: int = 10
    embed_dim: int = 320
    kernel: int = 3  # odd
    mask_segment: int = 8  # length of the time segments hidden by mask_ratio
