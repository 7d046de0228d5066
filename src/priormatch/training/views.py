"""Build the view maker (batched augmentations) a run's data and encoder need."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from priormatch.data import LabeledArrays
from priormatch.data.image_views import build_image_views, image_view_sizes
from priormatch.data.series_views import build_series_views, series_view_lengths
from priormatch.encoders.conv2d import MIN_SIZE as CNN_MIN_SIZE
from priormatch.encoders.conv2d import ConvNet2d
from priormatch.errors import PriormatchError
from priormatch.methods.base import SSLMethod, ViewSpec
from priormatch.training.config import RunConfig


class ViewMaker(Protocol):
    def __call__(self, x: Tensor, *, num_global: int, num_focal: int, generator: torch.Generator) -> tuple[list[Tensor], list[Tensor]]: ...

    def evaluation_view(self, x: Tensor) -> Tensor: ...


def step_views(views: ViewMaker, batch: Tensor, spec: ViewSpec, generator: torch.Generator) -> tuple[list[Tensor], list[Tensor]]:
    """The views ``spec`` asks for: augmented ones, or (``spec.augmented`` False) the unaugmented
    batch as each global view (the evaluation view: images normalised, series unchanged)."""
    if not spec.augmented:
        return [views.evaluation_view(batch)] * spec.num_global, []
    return views(batch, num_global=spec.num_global, num_focal=spec.num_focal, generator=generator)


def _patch_size(encoder: nn.Module) -> int:
    stem = getattr(encoder, "stem", None)
    return int(getattr(stem, "patch_size", getattr(stem, "patch_length", 1)))


def make_views(config: RunConfig, train_set: LabeledArrays, encoder: nn.Module) -> ViewMaker:
    """The views of the data's modality (:mod:`priormatch.data.image_views` /
    :mod:`priormatch.data.series_views`), sized for the encoder's patches."""
    if train_set.kind == "image":
        return build_image_views(config.image_views, train_set.x, _patch_size(encoder))
    return build_series_views(config.series_views, train_set.input_shape[-1], _patch_size(encoder))


def view_shapes(config: RunConfig, train_set: LabeledArrays, encoder: nn.Module) -> tuple[list[tuple[int, ...]], tuple[str, str]]:
    """(global and focal view shapes, the keys that set them) for the data's modality."""
    channels, patch = train_set.input_shape[0], _patch_size(encoder)
    if train_set.kind == "image":
        sizes = image_view_sizes(config.image_views, train_set.input_shape[-1], patch)
        return [(channels, size, size) for size in sizes], ("image_views.global_size", "image_views.focal_size")
    lengths = series_view_lengths(config.series_views, train_set.input_shape[-1], patch)
    return [(channels, length) for length in lengths], ("series_views.output_length", "series_views.focal_output_length")


MAX_VIEW_TOKENS = 4096  # patch tokens of one view: attention memory grows with their square


def check_view_sizes(config: RunConfig, train_set: LabeledArrays, method: SSLMethod) -> None:
    """Check, before anything is written, that the global and (if the method uses them) focal
    views fit the encoder: whole patches, at most :data:`MAX_VIEW_TOKENS` tokens, the CNN's
    minimum size. Errors name the view-size key to change."""
    encoder = method.encoder
    shapes, keys = view_shapes(config, train_set, encoder)
    used = 2 if method.view_spec.num_focal > 0 else 1
    for key, shape in list(zip(keys, shapes))[:used]:
        _check_view_shape(encoder, key, shape)


def _check_view_shape(encoder: nn.Module, key: str, shape: tuple[int, ...]) -> None:
    view = "x".join(str(side) for side in shape[1:])
    stem = getattr(encoder, "stem", None)
    try:
        tokens = stem.num_patches(shape) if stem is not None else None
    except PriormatchError as error:
        raise PriormatchError(f"{key}: a {view} view does not fit the encoder ({error}); set {key} accordingly") from None
    if tokens is not None and tokens > MAX_VIEW_TOKENS:
        raise PriormatchError(
            f"{key}: a {view} view makes {tokens} patch tokens, more than {MAX_VIEW_TOKENS}; lower {key} or raise the patch size"
        )
    if isinstance(encoder, ConvNet2d) and min(shape[1:]) < CNN_MIN_SIZE:
        raise PriormatchError(f"{key}: a {view} view is smaller than the CNN's {CNN_MIN_SIZE}x{CNN_MIN_SIZE}; set {key} >= {CNN_MIN_SIZE}")
