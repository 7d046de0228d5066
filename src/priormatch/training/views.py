"""Build the view maker (batched augmentations) a run's data and encoder need."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import Tensor, nn

from priormatch.data import ImageViews, LabeledArrays, SeriesViews
from priormatch.training.config import RunConfig

# Focal crops cover about 3/7 of the side of global views (MSN: 96 px crops of 224 px images).
FOCAL_SIDE_FRACTION = 3 / 7


class ViewMaker(Protocol):
    def __call__(self, x: Tensor, *, num_global: int, num_focal: int, generator: torch.Generator) -> tuple[list[Tensor], list[Tensor]]: ...

    def evaluation_view(self, x: Tensor) -> Tensor: ...


def _multiple_of(value: float, unit: int) -> int:
    return max(unit, int(round(value / unit)) * unit)


def _patch_size(encoder: nn.Module) -> int:
    stem = getattr(encoder, "stem", None)
    return int(getattr(stem, "patch_size", getattr(stem, "patch_length", 1)))


def channel_statistics(x: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of (n, C, ...) inputs, ignoring NaN (std floored at 1e-6)."""
    axes = (0, *range(2, x.ndim))
    mean = np.nanmean(x, axis=axes, dtype=np.float64)
    std = np.maximum(np.nanstd(x, axis=axes, dtype=np.float64), 1e-6)
    return mean.tolist(), std.tolist()


def make_views(config: RunConfig, train_set: LabeledArrays, encoder: nn.Module) -> ViewMaker:
    """Image views normalised with the pretraining subset's channel statistics, or series views.

    Global and focal view sizes default to the native size and ~3/7 of it, rounded to a multiple
    of the encoder's patch size so transformer views tile into whole patches.
    """
    unit = _patch_size(encoder)
    if train_set.kind == "image":
        views = config.image_views
        native = train_set.input_shape[-1]
        global_size = views.global_size or native
        focal_size = views.focal_size or _multiple_of(global_size * FOCAL_SIDE_FRACTION, unit)
        mean, std = channel_statistics(train_set.x)
        return ImageViews(
            global_size,
            focal_size,
            mean,
            std,
            global_scale=tuple(views.global_scale),
            focal_scale=tuple(views.focal_scale),
            hflip=views.hflip,
            brightness=views.brightness,
            contrast=views.contrast,
            noise_std=views.noise_std,
        )
    views = config.series_views
    length = views.output_length or train_set.input_shape[-1]
    global_length = _multiple_of(length, unit) if unit > 1 else length
    focal_length = views.focal_output_length or _multiple_of(global_length / 2, unit)
    return SeriesViews(
        crop_scale=tuple(views.crop_scale),
        focal_crop_scale=tuple(views.focal_crop_scale),
        output_length=global_length,
        focal_output_length=focal_length,
        scale_std=views.scale_std,
        jitter_std=views.jitter_std,
        time_mask_ratio=views.time_mask_ratio,
    )
