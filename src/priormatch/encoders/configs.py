"""Typed encoder configs; ``name`` selects the entry of ``priormatch.encoders.ENCODERS``.

Defaults are sized for small data on CPU: 28x28 images and UCR/UEA-length series. The input
channels (and sizes) come from the data set at build time, never from the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from priormatch.errors import PriormatchError
from priormatch.validation import (
    MAX_DEPTH,
    MAX_RATIO,
    check_depth,
    check_int_between,
    check_length,
    check_multiple_of,
    check_odd,
    check_optional_int_between,
    check_positive,
    check_range,
    check_width,
)

MAX_PATCH = 4096  # pixels / time steps of one patch or masked cell
# ~4 GiB of fp32 weights per copy; an EMA teacher and AdamW's two moments quadruple it.
MAX_ENCODER_PARAMETERS = 2**30
MAX_CONV1D_DEPTH = 24  # block i pads by 2^i on each side: 2^23 time steps of padding already


@dataclass(frozen=True)
class ViTConfig:
    """Vision transformer. Patch 7 turns 28x28 images into a 4x4 grid of 16 tokens; views must be
    multiples of patch_size (e.g. 14x14 focal crops, 4 tokens). embed_dim must be divisible by 4."""

    name: str = "vit"
    patch_size: int | None = None  # None: a quarter of the image side (28 -> 7, 8 -> 2): 16 tokens
    embed_dim: int = 128  # CPU-sized: ViT-Tiny is 192 wide and 12 deep
    depth: int = 4
    heads: int = 4  # 32 dims per head
    mlp_ratio: float = 4.0


@dataclass(frozen=True)
class CNNConfig:
    """Small CNN: one 3x3 conv-BN-ReLU layer per entry of ``(*widths, embed_dim)``, downsampled by
    ``strides``; the representation is the global average of the last layer (embed_dim).

    The default is the image recipe's encoder (docs/results.md, "The image recipe"): 28x28 -> 28 ->
    14 -> 7 -> 4, 0.39 M parameters, about 12 M multiply-adds per image. The earlier default
    (widths 32, 64, 128, 128, strides 1, 2, 1, 2, 2: a 128-wide layer at 14x14) costs 2.5x more per
    step and learned no better per second of training."""

    name: str = "cnn"
    widths: tuple[int, ...] = (32, 64, 128)
    strides: tuple[int, ...] = (1, 2, 2, 2)  # 28x28 -> 28 -> 14 -> 7 -> 4
    embed_dim: int = 256
    mask_patch: int = 4  # side of the input cells zeroed by mask_ratio (28x28 -> 7x7 cells)
    channels_last: bool = True  # weights and activations in channels_last memory (faster on CPU)


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
    """TS2Vec-style dilated residual conv net. The dataclass default is CPU-sized (depth 6, kernel 3:
    receptive field 253 steps) for code that builds it directly; runs on series data get TS2Vec's
    sizes, hidden=64, depth=10, embed_dim=320 (receptive field 4093), from the series recipe
    (``training.config.KIND_ENCODER_DEFAULTS``, :data:`priormatch.recipes.RECIPES`). Block i pads
    by 2^i on each side, so blocks whose dilation exceeds the series length mostly convolve zero
    padding (docs/time_series.md), while max-pooling over time still sees the whole series.
    """

    name: str = "conv1d"
    hidden: int = 32  # TS2Vec: 64
    depth: int = 6  # TS2Vec: 10
    embed_dim: int = 128  # TS2Vec: 320
    kernel: int = 3  # odd
    mask_segment: int = 8  # length of the time segments hidden by mask_ratio


def validate_encoder_config(config: Any) -> None:
    """Range checks of an encoder config (one-line errors naming ``encoder.<key>``), before any
    weight is allocated: sizes are positive and bounded, and the encoder's parameter count stays
    below :data:`MAX_ENCODER_PARAMETERS`."""
    if isinstance(config, ViTConfig):
        check_optional_int_between("encoder.patch_size", config.patch_size, 1, MAX_PATCH)
        _check_transformer(config, position_unit=4)
    elif isinstance(config, SeriesTransformerConfig):
        check_int_between("encoder.patch_length", config.patch_length, 1, MAX_PATCH)
        _check_transformer(config, position_unit=2)
    elif isinstance(config, CNNConfig):
        _check_cnn(config)
    elif isinstance(config, Conv1dConfig):
        _check_conv1d(config)


def _check_transformer(config: ViTConfig | SeriesTransformerConfig, *, position_unit: int) -> None:
    """Widths, heads and depth; ``position_unit``: what embed_dim must be a multiple of (sin-cos positions)."""
    check_width("encoder.embed_dim", config.embed_dim, minimum=position_unit)
    check_multiple_of("encoder.embed_dim", config.embed_dim, position_unit, hint="sin-cos positions split it evenly")
    check_depth("encoder.depth", config.depth)
    check_int_between("encoder.heads", config.heads, 1, config.embed_dim)
    check_multiple_of("encoder.embed_dim", config.embed_dim, config.heads, "encoder.heads", hint="choose encoder.heads that divide it")
    check_positive("encoder.mlp_ratio", config.mlp_ratio)
    check_range("encoder.mlp_ratio", config.mlp_ratio, 0.0, MAX_RATIO, high_inclusive=True)
    per_block = (4 + 2 * config.mlp_ratio) * config.embed_dim**2  # attention (q, k, v, out) + MLP
    _check_parameter_count(config.depth * per_block, "encoder.embed_dim or encoder.depth")


def _check_cnn(config: CNNConfig) -> None:
    widths = list(config.widths)
    if not widths:
        raise PriormatchError("encoder.widths is empty; give at least one width, e.g. [32, 64]")
    if len(widths) > MAX_DEPTH:
        raise PriormatchError(f"encoder.widths has {len(widths)} layers; use at most {MAX_DEPTH}")
    for index, width in enumerate(widths):
        check_width(f"encoder.widths[{index}]", width)
    check_width("encoder.embed_dim", config.embed_dim)
    strides = list(config.strides)
    check_length("encoder.strides", strides, len(widths) + 1, hint="one stride (1 or 2) per layer: len(encoder.widths) + 1")
    for index, stride in enumerate(strides):
        check_int_between(f"encoder.strides[{index}]", stride, 1, 2)
    check_int_between("encoder.mask_patch", config.mask_patch, 1, MAX_PATCH)
    channels = [*widths, config.embed_dim]
    _check_parameter_count(sum(9 * a * b for a, b in zip(channels[:-1], channels[1:])), "encoder.widths or encoder.embed_dim")


def _check_conv1d(config: Conv1dConfig) -> None:
    check_width("encoder.hidden", config.hidden)
    check_depth("encoder.depth", config.depth)
    if config.depth > MAX_CONV1D_DEPTH:
        raise PriormatchError(
            f"encoder.depth={config.depth} is too deep for a dilated conv net (dilation 2^depth); use <= {MAX_CONV1D_DEPTH}"
        )
    check_width("encoder.embed_dim", config.embed_dim)
    check_int_between("encoder.kernel", config.kernel, 1, MAX_PATCH)
    check_odd("encoder.kernel", config.kernel, hint="'same' padding needs an odd kernel, e.g. 3")
    check_int_between("encoder.mask_segment", config.mask_segment, 1, MAX_PATCH)
    width = max(config.hidden, config.embed_dim)
    _check_parameter_count(2 * config.kernel * width**2 * config.depth, "encoder.hidden, encoder.embed_dim or encoder.depth")


def _check_parameter_count(estimate: float, keys: str) -> None:
    if estimate > MAX_ENCODER_PARAMETERS:
        raise PriormatchError(
            f"the encoder would have ~{estimate:.1e} parameters, more than the {MAX_ENCODER_PARAMETERS:.1e} "
            f"priormatch supports; lower {keys}"
        )
