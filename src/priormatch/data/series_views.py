"""Series views: their config (``series_views.*``), their lengths, and the batched random views of
time series for multi-view self-supervised training (MSN / PMSN).

Each view of a batch ``x`` (B, C, T) is made in four steps, all batched on tensors:

1. a random crop per sample (start and length drawn per sample, within the observed part of the
   series, i.e. never in the NaN end padding of a shorter series), resampled by linear
   interpolation to a fixed output length so the batch stacks: global views cover
   ``crop_scale`` of the series at ``output_length`` points, focal views cover the smaller
   ``focal_crop_scale`` at ``focal_output_length`` points (MSN's global/focal crops; random
   cropping as in TS2Vec, Yue et al. 2022, and random subseries as in T-Loss, Franceschi et al. 2019);
2. amplitude scaling by a factor ``1 + scale_std * N(0, 1)`` per sample and channel;
3. additive Gaussian jitter ``jitter_std * N(0, 1)`` per value;
4. time masking: one random segment of ``time_mask_ratio`` of the view's length set to zero in all
   channels (off by default).

NaN (a missing value) stays NaN through every step and never spreads onto observed values: values
(NaN -> 0) and the observed mask are interpolated separately, a resampled point is observed when its
interpolated mask is >= 0.5, and its value is then the mask-weighted mean of its observed neighbours.
Time masking zeroes observed values only. All randomness comes from the ``generator`` argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import torch
from torch import Tensor

from priormatch.errors import PriormatchError
from priormatch.validation import MAX_VIEW_SIZE, check_fraction_pair, check_non_negative, check_optional_int_between, check_range


@dataclass
class SeriesViewsConfig:
    crop_scale: list[float] = field(default_factory=lambda: [0.5, 1.0])  # crop length fraction
    focal_crop_scale: list[float] = field(default_factory=lambda: [0.2, 0.5])
    output_length: int | None = None  # global views resampled to this (default: series length)
    focal_output_length: int | None = None  # focal views (default: half the global length)
    jitter_std: float = 0.1
    scale_std: float = 0.1
    time_mask_ratio: float = 0.0


def validate_series_views_config(views: SeriesViewsConfig) -> None:
    check_fraction_pair("series_views.crop_scale", views.crop_scale)
    check_fraction_pair("series_views.focal_crop_scale", views.focal_crop_scale)
    check_optional_int_between("series_views.output_length", views.output_length, 1, MAX_VIEW_SIZE)
    check_optional_int_between("series_views.focal_output_length", views.focal_output_length, 1, MAX_VIEW_SIZE)
    check_non_negative("series_views.jitter_std", views.jitter_std)
    check_non_negative("series_views.scale_std", views.scale_std)
    check_range("series_views.time_mask_ratio", views.time_mask_ratio, 0.0, 1.0)


def series_view_lengths(views: SeriesViewsConfig, native_length: int, patch: int) -> tuple[int, int]:
    """Lengths of the global and focal series views: the configured ones, else the series length
    (rounded to the encoder's ``patch`` length) and half of it."""
    length = views.output_length or native_length
    global_length = _multiple_of(length, patch) if patch > 1 else length
    focal_length = views.focal_output_length or _multiple_of(global_length / 2, patch)
    return global_length, focal_length


def build_series_views(views: SeriesViewsConfig, native_length: int, patch: int) -> SeriesViews:
    """The views of a run, at the lengths of :func:`series_view_lengths`."""
    global_length, focal_length = series_view_lengths(views, native_length, patch)
    return SeriesViews(
        crop_scale=cast("tuple[float, float]", tuple(views.crop_scale)),  # pairs: validate_series_views_config
        focal_crop_scale=cast("tuple[float, float]", tuple(views.focal_crop_scale)),
        output_length=global_length,
        focal_output_length=focal_length,
        scale_std=views.scale_std,
        jitter_std=views.jitter_std,
        time_mask_ratio=views.time_mask_ratio,
    )


def _multiple_of(value: float, unit: int) -> int:
    return max(unit, int(round(value / unit)) * unit)


class SeriesViews:
    """Global and focal random views of (B, C, T) series; see the module docstring for the steps.

    crop_scale / focal_crop_scale: (min, max) fraction of each series' observed length a crop covers.
    output_length: length of global views (``None``: the input length T).
    focal_output_length: length of focal views (``None``: half the global length).
    scale_std, jitter_std: standard deviations of the amplitude factor and of the additive noise
        (series are z-normalised, so 0.1 is 10% of a series' standard deviation).
    time_mask_ratio: fraction of each view zeroed as one contiguous segment (0 disables it).
    """

    def __init__(
        self,
        *,
        crop_scale: tuple[float, float] = (0.5, 1.0),
        focal_crop_scale: tuple[float, float] = (0.2, 0.5),
        output_length: int | None = None,
        focal_output_length: int | None = None,
        scale_std: float = 0.1,
        jitter_std: float = 0.1,
        time_mask_ratio: float = 0.0,
    ) -> None:
        _check_scale(crop_scale, "crop_scale")
        _check_scale(focal_crop_scale, "focal_crop_scale")
        for value, label in ((output_length, "output_length"), (focal_output_length, "focal_output_length")):
            if value is not None and value < 1:
                raise PriormatchError(f"SeriesViews: {label}={value}; use a positive length or None")
        for std, label in ((scale_std, "scale_std"), (jitter_std, "jitter_std")):
            if std < 0:
                raise PriormatchError(f"SeriesViews: {label}={std}; use a standard deviation >= 0")
        if not 0.0 <= time_mask_ratio < 1.0:
            raise PriormatchError(f"SeriesViews: time_mask_ratio={time_mask_ratio}; use a fraction in [0, 1)")
        self.crop_scale = crop_scale
        self.focal_crop_scale = focal_crop_scale
        self.output_length = output_length
        self.focal_output_length = focal_output_length
        self.scale_std = scale_std
        self.jitter_std = jitter_std
        self.time_mask_ratio = time_mask_ratio

    def __call__(self, x: Tensor, *, num_global: int, num_focal: int, generator: torch.Generator) -> tuple[list[Tensor], list[Tensor]]:
        """x (B, C, T) -> (num_global views (B, C, T_g), num_focal views (B, C, T_f))."""
        if x.ndim != 3 or not x.is_floating_point():
            raise PriormatchError(f"SeriesViews: input has shape {tuple(x.shape)} and dtype {x.dtype}; expected float (B, C, T)")
        if num_global < 1 or num_focal < 0:
            raise PriormatchError(f"SeriesViews: num_global={num_global}, num_focal={num_focal}; need >= 1 and >= 0")
        global_length = self.output_length or x.shape[2]
        focal_length = self.focal_output_length or max(1, global_length // 2)
        lengths = observed_lengths(x)
        global_views = [self._view(x, lengths, self.crop_scale, global_length, generator) for _ in range(num_global)]
        focal_views = [self._view(x, lengths, self.focal_crop_scale, focal_length, generator) for _ in range(num_focal)]
        return global_views, focal_views

    def evaluation_view(self, x: Tensor) -> Tensor:
        """The view used for evaluation: ``x`` (B, C, T) unchanged (loaded series are already
        z-normalised per series, so no crop or normalisation is applied)."""
        return x

    def _view(self, x: Tensor, lengths: Tensor, scale: tuple[float, float], length: int, generator: torch.Generator) -> Tensor:
        positions = random_crop_positions(lengths, scale, length, generator)
        view = resample_linear(x, positions)
        view = random_amplitude_scale(view, self.scale_std, generator)
        view = add_jitter(view, self.jitter_std, generator)
        return random_time_mask(view, self.time_mask_ratio, generator)


def _check_scale(scale: tuple[float, float], label: str) -> None:
    low, high = scale
    if not 0.0 < low <= high <= 1.0:
        raise PriormatchError(f"SeriesViews: {label}={scale}; use (min, max) with 0 < min <= max <= 1")


def _uniform(shape: tuple[int, ...], generator: torch.Generator, like: Tensor) -> Tensor:
    """U[0, 1) drawn on the generator's device, returned on ``like``'s device and dtype."""
    return torch.rand(shape, generator=generator, device=generator.device).to(like)


def _normal(shape: tuple[int, ...], generator: torch.Generator, like: Tensor) -> Tensor:
    return torch.randn(shape, generator=generator, device=generator.device).to(like)


def observed_lengths(x: Tensor) -> Tensor:
    """(B,) index after the last timepoint observed in any channel (1 for an all-NaN series)."""
    observed = ~torch.isnan(x).all(dim=1)  # (B, T)
    steps = torch.arange(1, x.shape[2] + 1, device=x.device)
    return torch.where(observed, steps, 0).amax(dim=1).clamp_min(1)


def random_crop_positions(lengths: Tensor, scale: tuple[float, float], length: int, generator: torch.Generator) -> Tensor:
    """(B, length) evenly spaced fractional time positions of one random crop per series.

    A crop covers a fraction U(scale) of the observed extent [0, lengths - 1] and starts uniformly
    at random so that it stays inside it.
    """
    extent = (lengths - 1).to(torch.float32)  # (B,)
    low, high = scale
    span = extent * (low + (high - low) * _uniform(extent.shape, generator, extent))
    start = (extent - span) * _uniform(extent.shape, generator, extent)
    grid = torch.linspace(0.0, 1.0, length, device=extent.device)  # (length,)
    return start[:, None] + span[:, None] * grid[None, :]


def resample_linear(x: Tensor, positions: Tensor) -> Tensor:
    """x (B, C, T) read at fractional positions (B, P) by linear interpolation -> (B, C, P).

    NaN-aware: a point is NaN unless its interpolated observed-mask is >= 0.5, so missing values
    neither spread onto nor get averaged into observed ones.
    """
    batch, channels, steps = x.shape
    observed = ~torch.isnan(x)
    values = torch.where(observed, x, torch.zeros((), dtype=x.dtype, device=x.device))
    left = positions.floor().clamp(0, steps - 1)
    weight = (positions - left).clamp(0.0, 1.0).to(x.dtype)[:, None, :]  # (B, 1, P)
    left = left.long()
    right = (left + 1).clamp(max=steps - 1)
    index_left = left[:, None, :].expand(batch, channels, -1)
    index_right = right[:, None, :].expand(batch, channels, -1)

    def interpolate(signal: Tensor) -> Tensor:
        return (1 - weight) * signal.gather(2, index_left) + weight * signal.gather(2, index_right)

    mass = interpolate(observed.to(x.dtype))
    resampled = interpolate(values) / mass.clamp_min(0.5)
    return torch.where(mass >= 0.5, resampled, torch.full((), float("nan"), dtype=x.dtype, device=x.device))


def random_amplitude_scale(x: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """x (B, C, P) times a factor 1 + std * N(0, 1) per sample and channel."""
    if std == 0:
        return x
    return x * (1 + std * _normal((x.shape[0], x.shape[1], 1), generator, x))


def add_jitter(x: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """x (B, C, P) plus std * N(0, 1) noise per value (NaN + noise stays NaN)."""
    if std == 0:
        return x
    return x + std * _normal(tuple(x.shape), generator, x)


def random_time_mask(x: Tensor, ratio: float, generator: torch.Generator) -> Tensor:
    """x (B, C, P) with one random segment of round(ratio * P) steps per sample zeroed (NaN kept)."""
    segment = round(ratio * x.shape[2])
    if segment == 0:
        return x
    first = (_uniform((x.shape[0],), generator, x) * (x.shape[2] - segment + 1)).floor()  # (B,)
    steps = torch.arange(x.shape[2], device=x.device, dtype=x.dtype)
    masked = (steps[None, :] >= first[:, None]) & (steps[None, :] < first[:, None] + segment)  # (B, P)
    return torch.where(masked[:, None, :] & ~torch.isnan(x), torch.zeros((), dtype=x.dtype, device=x.device), x)
