"""Build the view maker (batched augmentations) a run's data and encoder need."""

from __future__ import annotations

from typing import Protocol, cast

import numpy as np
import torch
from torch import Tensor, nn

from priormatch.data import ImageViews, LabeledArrays, SeriesViews
from priormatch.encoders.conv2d import MIN_SIZE as CNN_MIN_SIZE
from priormatch.encoders.conv2d import ConvNet2d
from priormatch.errors import PriormatchError
from priormatch.methods.base import SSLMethod, ViewSpec
from priormatch.training.config import RunConfig

# Focal crops cover about 3/7 of the side of global views (MSN: 96 px crops of 224 px images).
FOCAL_SIDE_FRACTION = 3 / 7


class ViewMaker(Protocol):
    def __call__(self, x: Tensor, *, num_global: int, num_focal: int, generator: torch.Generator) -> tuple[list[Tensor], list[Tensor]]: ...

    def evaluation_view(self, x: Tensor) -> Tensor: ...


def step_views(views: ViewMaker, batch: Tensor, spec: ViewSpec, generator: torch.Generator) -> tuple[list[Tensor], list[Tensor]]:
    """The views ``spec`` asks for: augmented ones, or (``spec.augmented`` False) the unaugmented
    batch as each global view (the evaluation view: images normalised, series unchanged)."""
    if not spec.augmented:
        return [views.evaluation_view(batch)] * spec.num_global, []
    return views(batch, num_global=spec.num_global, num_focal=spec.num_focal, generator=generator)


def _multiple_of(value: float, unit: int) -> int:
    return max(unit, int(round(value / unit)) * unit)


def _patch_size(encoder: nn.Module) -> int:
    stem = getattr(encoder, "stem", None)
    return int(getattr(stem, "patch_size", getattr(stem, "patch_length", 1)))


def channel_statistics(x: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of (n, C, ...) inputs, ignoring NaN (std floored at 1e-6)."""
    axes = (0, *range(2, x.ndim))
    mean = cast(np.ndarray, np.nanmean(x, axis=axes, dtype=np.float64))  # (C,): numpy's stubs say a scalar
    std = np.maximum(cast(np.ndarray, np.nanstd(x, axis=axes, dtype=np.float64)), 1e-6)
    return mean.tolist(), std.tolist()


def image_view_sizes(config: RunConfig, train_set: LabeledArrays, encoder: nn.Module) -> tuple[int, int]:
    """Sides of the (square) global and focal image views: the configured ones, else the native
    side and ~3/7 of it rounded to a multiple of the encoder's patch size."""
    views = config.image_views
    global_size = views.global_size or train_set.input_shape[-1]
    focal_size = views.focal_size or _multiple_of(global_size * FOCAL_SIDE_FRACTION, _patch_size(encoder))
    return global_size, focal_size


def series_view_lengths(config: RunConfig, train_set: LabeledArrays, encoder: nn.Module) -> tuple[int, int]:
    """Lengths of the global and focal series views: the configured ones, else the series length
    (rounded to the patch length) and half of it."""
    unit = _patch_size(encoder)
    views = config.series_views
    length = views.output_length or train_set.input_shape[-1]
    global_length = _multiple_of(length, unit) if unit > 1 else length
    focal_length = views.focal_output_length or _multiple_of(global_length / 2, unit)
    return global_length, focal_length


def make_views(config: RunConfig, train_set: LabeledArrays, encoder: nn.Module) -> ViewMaker:
    """Image views normalised with the pretraining subset's channel statistics, or series views.

    Global and focal view sizes default to the native size and ~3/7 of it, rounded to a multiple
    of the encoder's patch size so transformer views tile into whole patches.
    """
    if train_set.kind == "image":
        views = config.image_views
        global_size, focal_size = image_view_sizes(config, train_set, encoder)
        mean, std = channel_statistics(train_set.x)
        return ImageViews(
            global_size,
            focal_size,
            mean,
            std,
            global_scale=cast("tuple[float, float]", tuple(views.global_scale)),  # pairs: validate_run_config
            focal_scale=cast("tuple[float, float]", tuple(views.focal_scale)),
            hflip=views.hflip,
            brightness=views.brightness,
            contrast=views.contrast,
            noise_std=views.noise_std,
        )
    series_views = config.series_views
    global_length, focal_length = series_view_lengths(config, train_set, encoder)
    return SeriesViews(
        crop_scale=cast("tuple[float, float]", tuple(series_views.crop_scale)),  # pairs: validate_run_config
        focal_crop_scale=cast("tuple[float, float]", tuple(series_views.focal_crop_scale)),
        output_length=global_length,
        focal_output_length=focal_length,
        scale_std=series_views.scale_std,
        jitter_std=series_views.jitter_std,
        time_mask_ratio=series_views.time_mask_ratio,
    )


MAX_VIEW_TOKENS = 4096  # patch tokens of one view: attention memory grows with their square


def check_view_sizes(config: RunConfig, train_set: LabeledArrays, method: SSLMethod) -> None:
    """Check, before anything is written, that the global and (if the method uses them) focal
    views fit the encoder: whole patches, at most :data:`MAX_VIEW_TOKENS` tokens, the CNN's
    minimum size. Errors name the view-size key to change."""
    encoder = method.encoder
    channels = train_set.input_shape[0]
    shapes: list[tuple[int, ...]]
    if train_set.kind == "image":
        sizes = image_view_sizes(config, train_set, encoder)
        shapes = [(channels, size, size) for size in sizes]
        keys = ("image_views.global_size", "image_views.focal_size")
    else:
        lengths = series_view_lengths(config, train_set, encoder)
        shapes = [(channels, length) for length in lengths]
        keys = ("series_views.output_length", "series_views.focal_output_length")
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
