"""Image views: their config (``image_views.*``), their sizes, and the batched random views of
images for multi-view SSL (global and focal crops, MSN-style).

One view of a batch is made in a few tensor operations, no per-sample Python loop:

1. random resized crop + horizontal flip as one per-sample affine map (``F.affine_grid`` +
   bilinear ``F.grid_sample``), resampled to the view's square size;
2. brightness then contrast jitter (multiplicative factors, as torchvision's ColorJitter, in a
   fixed order), optional Gaussian noise, clamped to [0, 1];
3. per-channel normalisation ``(x - mean) / std``.

All randomness comes from the ``torch.Generator`` passed in, so a training step is reproducible
from its seed. Differences from torchvision: the crop is found by 10 vectorised tries of
(area, aspect ratio) per sample, falling back to the whole image (not the clamped centre crop);
contrast blends towards the mean over all channels and pixels of each image (not its greyscale
mean); bilinear downscaling is not antialiased.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from priormatch.validation import (
    MAX_VIEW_SIZE,
    check_fraction_pair,
    check_int_at_least,
    check_non_negative,
    check_optional_int_between,
    check_positive,
    check_positive_pair,
    check_same_size,
    check_shape,
)

CROP_TRIES = 10
# Focal crops cover about 3/7 of the side of global views (MSN: 96 px crops of 224 px images).
FOCAL_SIDE_FRACTION = 3 / 7


@dataclass
class ImageViewsConfig:
    global_size: int | None = None  # side of global views (default: the native size)
    focal_size: int | None = None  # side of focal views (default: about 3/7 of it)
    # crop area fraction; image recipe: 28x28 objects are centred, smaller crops cut most of one away
    global_scale: list[float] = field(default_factory=lambda: [0.5, 1.0])
    focal_scale: list[float] = field(default_factory=lambda: [0.05, 0.3])
    hflip: bool = True
    brightness: float = 0.8  # image recipe: on 28x28 greyscale, photometric jitter is the strongest augmentation
    contrast: float = 0.8  # (none: kNN 75.9; 0.4: 82.6; 0.8: 83.6, SimCLR, docs/results.md)
    noise_std: float = 0.0


def validate_image_views_config(views: ImageViewsConfig) -> None:
    check_optional_int_between("image_views.global_size", views.global_size, 1, MAX_VIEW_SIZE)
    check_optional_int_between("image_views.focal_size", views.focal_size, 1, MAX_VIEW_SIZE)
    check_fraction_pair("image_views.global_scale", views.global_scale)
    check_fraction_pair("image_views.focal_scale", views.focal_scale)
    check_non_negative("image_views.brightness", views.brightness)
    check_non_negative("image_views.contrast", views.contrast)
    check_non_negative("image_views.noise_std", views.noise_std)


def image_view_sizes(views: ImageViewsConfig, native_side: int, patch: int) -> tuple[int, int]:
    """Sides of the (square) global and focal image views: the configured ones, else the native
    side and ~3/7 of it rounded to a multiple of the encoder's ``patch`` size."""
    global_size = views.global_size or native_side
    focal_size = views.focal_size or multiple_of(global_size * FOCAL_SIDE_FRACTION, patch)
    return global_size, focal_size


def multiple_of(value: float, unit: int) -> int:
    """``value`` rounded to the nearest positive multiple of ``unit``."""
    return max(unit, int(round(value / unit)) * unit)


def channel_statistics(x: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of (n, C, ...) inputs, ignoring NaN (std floored at 1e-6)."""
    axes = (0, *range(2, x.ndim))
    mean = cast(np.ndarray, np.nanmean(x, axis=axes, dtype=np.float64))  # (C,): numpy's stubs say a scalar
    std = np.maximum(cast(np.ndarray, np.nanstd(x, axis=axes, dtype=np.float64)), 1e-6)
    return mean.tolist(), std.tolist()


def build_image_views(views: ImageViewsConfig, train_x: np.ndarray, patch: int) -> ImageViews:
    """The views of a run: sizes from :func:`image_view_sizes`, normalised with the channel statistics
    of the (n, C, H, W) pretraining images."""
    global_size, focal_size = image_view_sizes(views, train_x.shape[-1], patch)
    mean, std = channel_statistics(train_x)
    return ImageViews(
        global_size,
        focal_size,
        mean,
        std,
        global_scale=cast("tuple[float, float]", tuple(views.global_scale)),  # pairs: validate_image_views_config
        focal_scale=cast("tuple[float, float]", tuple(views.focal_scale)),
        hflip=views.hflip,
        brightness=views.brightness,
        contrast=views.contrast,
        noise_std=views.noise_std,
    )


class ImageViews:
    """Makes ``num_global`` views of size ``image_size`` and ``num_focal`` of size ``focal_size``.

    ``global_scale`` / ``focal_scale``: range of the crop's area as a fraction of the image;
    ``ratio``: range of the crop's width / height; ``brightness`` / ``contrast``: jitter factors
    drawn from [max(0, 1 - b), 1 + b]; ``noise_std``: std of added Gaussian noise (0 = none).
    """

    def __init__(
        self,
        image_size: int,
        focal_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        global_scale: tuple[float, float] = (0.5, 1.0),
        focal_scale: tuple[float, float] = (0.05, 0.3),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        hflip: bool = True,
        brightness: float = 0.8,
        contrast: float = 0.8,
        noise_std: float = 0.0,
    ) -> None:
        check_int_at_least("image_size", image_size, 1, hint="give the view size in pixels")
        check_int_at_least("focal_size", focal_size, 1, hint="give the view size in pixels")
        check_fraction_pair("global_scale", global_scale)
        check_fraction_pair("focal_scale", focal_scale)
        check_positive_pair("ratio", ratio)
        for name, value in (("brightness", brightness), ("contrast", contrast), ("noise_std", noise_std)):
            check_non_negative(name, value)
        check_int_at_least("len(mean)", len(mean), 1, hint="give one mean and one std per channel")
        check_same_size("channel counts", {"len(mean)": len(mean), "len(std)": len(std)}, hint="give one mean and one std per channel")
        for index, value in enumerate(std):
            check_positive(f"std[{index}]", value)
        self.image_size = image_size
        self.focal_size = focal_size
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        self.global_scale = global_scale
        self.focal_scale = focal_scale
        self.ratio = ratio
        self.hflip = hflip
        self.brightness = brightness
        self.contrast = contrast
        self.noise_std = noise_std

    def __call__(self, x: Tensor, *, num_global: int, num_focal: int, generator: torch.Generator) -> tuple[list[Tensor], list[Tensor]]:
        """Views of ``x`` (B, C, H, W) in [0, 1]: ([(B, C, S, S)] * num_global, [(B, C, s, s)] * num_focal)."""
        self._check_input(x)
        global_views = [self._view(x, self.image_size, self.global_scale, generator) for _ in range(num_global)]
        focal_views = [self._view(x, self.focal_size, self.focal_scale, generator) for _ in range(num_focal)]
        return global_views, focal_views

    def evaluation_view(self, x: Tensor) -> Tensor:
        """(B, C, H, W) normalised ``x`` at its native size, no randomness."""
        self._check_input(x)
        return self._normalise(x)

    def _view(self, x: Tensor, size: int, scale: tuple[float, float], generator: torch.Generator) -> Tensor:
        theta = crop_flip_affine(len(x), x.shape[-2], x.shape[-1], scale, self.ratio, self.hflip, generator).to(x.device, x.dtype)
        grid = F.affine_grid(theta, [len(x), x.shape[1], size, size], align_corners=False)
        view = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        view = jitter(view, self.brightness, self.contrast, self.noise_std, generator)
        return self._normalise(view)

    def _normalise(self, x: Tensor) -> Tensor:
        mean = torch.tensor(self.mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
        return (x - mean) / std

    def _check_input(self, x: Tensor) -> None:
        channels = len(self.mean)
        check_shape(
            "the images of image views",
            x,
            (None, channels, None, None),
            f"(batch, {channels}, H, W) to match the {channels} values of mean/std",
        )


def crop_flip_affine(
    batch: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    hflip: bool,
    generator: torch.Generator,
) -> Tensor:
    """(batch, 2, 3) affine maps from output to input coordinates ([-1, 1] grid units).

    Each maps the output square onto a random crop of area fraction in ``scale`` and width/height
    in ``ratio`` (first of :data:`CROP_TRIES` tries that fits, else the whole image), mirrored
    horizontally with probability 1/2 when ``hflip``.
    """
    device = generator.device
    area = _uniform((batch, CROP_TRIES), *scale, generator)
    log_ratio = _uniform((batch, CROP_TRIES), math.log(ratio[0]), math.log(ratio[1]), generator)
    aspect = torch.exp(log_ratio)
    # Half-extents as fractions of the image: w_px * h_px = area * W * H and w_px / h_px = aspect.
    half_w = torch.sqrt(area * aspect * height / width)
    half_h = torch.sqrt(area / aspect * width / height)
    fits = (half_w <= 1) & (half_h <= 1)
    first = torch.argmax(fits.to(torch.int8), dim=1, keepdim=True)  # 0 when no try fits
    any_fit = fits.any(dim=1)
    ones = torch.ones(batch, device=device)
    half_w = torch.where(any_fit, half_w.gather(1, first).squeeze(1), ones)
    half_h = torch.where(any_fit, half_h.gather(1, first).squeeze(1), ones)
    centre_x = (1 - half_w) * _uniform((batch,), -1.0, 1.0, generator)
    centre_y = (1 - half_h) * _uniform((batch,), -1.0, 1.0, generator)
    flip = torch.rand(batch, generator=generator, device=device) < 0.5
    sign = torch.where(flip & hflip, -ones, ones)
    zeros = torch.zeros(batch, device=device)
    return torch.stack(
        [torch.stack([sign * half_w, zeros, centre_x], dim=1), torch.stack([zeros, half_h, centre_y], dim=1)],
        dim=1,
    )


def jitter(x: Tensor, brightness: float, contrast: float, noise_std: float, generator: torch.Generator) -> Tensor:
    """(B, C, H, W) in [0, 1] with per-sample brightness and contrast factors and optional noise."""
    batch = len(x)
    if brightness > 0:
        factor = _uniform((batch,), max(0.0, 1 - brightness), 1 + brightness, generator).to(x)
        x = (x * factor.view(-1, 1, 1, 1)).clamp(0, 1)
    if contrast > 0:
        factor = _uniform((batch,), max(0.0, 1 - contrast), 1 + contrast, generator).to(x).view(-1, 1, 1, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (factor * x + (1 - factor) * mean).clamp(0, 1)
    if noise_std > 0:
        noise = torch.randn(x.shape, generator=generator, device=generator.device).to(x)
        x = (x + noise_std * noise).clamp(0, 1)
    return x


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator) -> Tensor:
    """Uniform samples in [low, high) drawn on the generator's device."""
    return low + (high - low) * torch.rand(shape, generator=generator, device=generator.device)
