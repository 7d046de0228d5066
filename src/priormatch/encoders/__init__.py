"""Encoders for images and series behind one contract (:mod:`priormatch.encoders.contract`).

``ENCODERS`` is a plain registry: name -> :class:`EncoderSpec` (config type, builder, supported
input kinds). ``build_encoder(config, input_shape)`` builds the encoder a config names for inputs
of one sample's shape, (C, H, W) for images or (C, T) for series.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from priormatch.data.arrays import Kind
from priormatch.encoders.configs import CNNConfig, Conv1dConfig, SeriesTransformerConfig, ViTConfig
from priormatch.encoders.contract import Encoder, PatchStem, TokenEncoder
from priormatch.encoders.conv1d import DilatedConvNet1d
from priormatch.encoders.conv2d import ConvNet2d
from priormatch.encoders.masking import mask_input_patches, mask_input_segments, random_keep_indices
from priormatch.encoders.patch_stems import ImagePatchStem, SeriesPatchStem
from priormatch.encoders.transformer import TransformerBlock, TransformerEncoder
from priormatch.errors import PriormatchError
from priormatch.validation import check_choice


@dataclass(frozen=True)
class EncoderSpec:
    """How to build one encoder: its config type, a builder ``(config, input_shape) -> module``
    and the input kinds it accepts."""

    config_type: type
    build: Callable[[Any, tuple[int, ...]], nn.Module]
    kinds: tuple[Kind, ...]


def auto_patch_size(input_shape: tuple[int, ...]) -> int:
    """A quarter of the shorter image side (a 4x4 grid of 16 tokens), at least 1."""
    return max(1, min(input_shape[1:]) // 4)


def _build_vit(config: ViTConfig, input_shape: tuple[int, ...]) -> TransformerEncoder:
    patch_size = config.patch_size or auto_patch_size(input_shape)
    stem = ImagePatchStem(input_shape[0], patch_size=patch_size, embed_dim=config.embed_dim)
    stem.num_patches(input_shape)  # fail now, naming the sizes, if H or W does not fit the patches
    return TransformerEncoder(stem, embed_dim=config.embed_dim, depth=config.depth, heads=config.heads, mlp_ratio=config.mlp_ratio)


def _build_cnn(config: CNNConfig, input_shape: tuple[int, ...]) -> ConvNet2d:
    return ConvNet2d(
        input_shape[0],
        widths=tuple(config.widths),
        strides=tuple(config.strides),
        embed_dim=config.embed_dim,
        mask_patch=config.mask_patch,
        channels_last=config.channels_last,
    )


def _build_series_transformer(config: SeriesTransformerConfig, input_shape: tuple[int, ...]) -> TransformerEncoder:
    stem = SeriesPatchStem(input_shape[0], patch_length=config.patch_length, embed_dim=config.embed_dim)
    stem.num_patches(input_shape)  # fail now if the series are shorter than one patch
    return TransformerEncoder(stem, embed_dim=config.embed_dim, depth=config.depth, heads=config.heads, mlp_ratio=config.mlp_ratio)


def _build_conv1d(config: Conv1dConfig, input_shape: tuple[int, ...]) -> DilatedConvNet1d:
    return DilatedConvNet1d(
        input_shape[0],
        hidden=config.hidden,
        depth=config.depth,
        embed_dim=config.embed_dim,
        kernel=config.kernel,
        mask_segment=config.mask_segment,
    )


ENCODERS: dict[str, EncoderSpec] = {
    "vit": EncoderSpec(ViTConfig, _build_vit, ("image",)),
    "cnn": EncoderSpec(CNNConfig, _build_cnn, ("image",)),
    "series_transformer": EncoderSpec(SeriesTransformerConfig, _build_series_transformer, ("series",)),
    "conv1d": EncoderSpec(Conv1dConfig, _build_conv1d, ("series",)),
}

_DEFAULTS: dict[str, str] = {"image": "cnn", "series": "conv1d"}


def input_kind(input_shape: tuple[int, ...]) -> Kind:
    """'image' for a (C, H, W) sample shape, 'series' for (C, T)."""
    if len(input_shape) == 3:
        return "image"
    if len(input_shape) == 2:
        return "series"
    raise PriormatchError(f"input_shape must be (C, H, W) for images or (C, T) for series, got {tuple(input_shape)}")


def encoder_names(kind: Kind) -> list[str]:
    """Sorted names of the encoders that accept inputs of ``kind``."""
    return sorted(name for name, spec in ENCODERS.items() if kind in spec.kinds)


def default_encoder(kind: Kind, *, tokens: bool = False) -> str:
    """The encoder used when none is configured: 'cnn' for images (the image recipe) and 'conv1d'
    for series; when the method needs patch tokens (``tokens=True``: MAE, data2vec, JEPA) 'vit' for
    images and 'series_transformer' for series."""
    check_choice("kind", kind, sorted(_DEFAULTS))
    if tokens:
        return "vit" if kind == "image" else "series_transformer"
    return _DEFAULTS[kind]


def build_encoder(config: Any, input_shape: tuple[int, ...]) -> nn.Module:
    """Build the encoder named by ``config.name`` for samples of shape ``input_shape``."""
    input_shape = tuple(int(s) for s in input_shape)
    kind = input_kind(input_shape)
    name = getattr(config, "name", None)
    if name not in ENCODERS:
        raise PriormatchError(f"unknown encoder {name!r}; valid encoders for {kind}: {', '.join(encoder_names(kind))}")
    spec = ENCODERS[name]
    if kind not in spec.kinds:
        raise PriormatchError(
            f"encoder {name!r} does not support {kind} inputs; valid encoders for {kind}: {', '.join(encoder_names(kind))}"
        )
    if not isinstance(config, spec.config_type):
        raise PriormatchError(f"encoder {name!r} needs a {spec.config_type.__name__}, got {type(config).__name__}")
    return spec.build(config, input_shape)


__all__ = [
    "CNNConfig",
    "Conv1dConfig",
    "ConvNet2d",
    "DilatedConvNet1d",
    "ENCODERS",
    "Encoder",
    "EncoderSpec",
    "ImagePatchStem",
    "PatchStem",
    "SeriesPatchStem",
    "SeriesTransformerConfig",
    "TokenEncoder",
    "TransformerBlock",
    "TransformerEncoder",
    "ViTConfig",
    "build_encoder",
    "default_encoder",
    "encoder_names",
    "input_kind",
    "mask_input_patches",
    "mask_input_segments",
    "random_keep_indices",
]
