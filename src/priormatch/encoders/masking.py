"""Random masking shared by encoders and methods, and the observed-value mask of series.

* :func:`random_keep_indices` — which patch tokens a transformer keeps (MSN anchor patch
  dropping, MAE's visible set). Rounding: ``round(mask_ratio * T)`` tokens are dropped (half up),
  and at least one token is always kept, so ``T_keep = max(1, T - floor(mask_ratio * T + 0.5))``.
* :func:`mask_input_patches` / :func:`mask_input_segments` — the input-space analogue for conv
  nets: the same share of square patches / time segments is blanked, with the same rounding.
* :func:`with_observed_mask` — series NaN handling: NaN -> 0 plus one observed-mask channel.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from priormatch.validation import check_int_at_least, check_range


def check_mask_ratio(mask_ratio: float) -> None:
    """Raise unless ``mask_ratio`` is in [0, 1)."""
    check_range("mask_ratio", mask_ratio, 0.0, 1.0)


def num_kept(num_tokens: int, mask_ratio: float) -> int:
    """Tokens kept when dropping ``round(mask_ratio * num_tokens)`` (half up), at least 1."""
    check_mask_ratio(mask_ratio)
    check_int_at_least("num_tokens", num_tokens, 1)
    return max(1, num_tokens - math.floor(mask_ratio * num_tokens + 0.5))


def random_keep_indices(
    batch: int,
    num_tokens: int,
    mask_ratio: float,
    generator: torch.Generator | None = None,
    *,
    device: torch.device | str | None = None,
) -> Tensor:
    """Sorted indices of the kept tokens, a uniformly random subset per sample.

    Returns a LongTensor (batch, T_keep) on ``device``; the random numbers come from
    ``generator`` (drawn on the generator's own device), so equal seeds give equal subsets.
    """
    keep = num_kept(num_tokens, mask_ratio)
    noise_device = generator.device if generator is not None else device
    noise = torch.rand(batch, num_tokens, generator=generator, device=noise_device)  # (B, T)
    kept = noise.argsort(dim=1)[:, :keep].sort(dim=1).values  # (B, T_keep)
    return kept.to(device) if device is not None else kept


def random_hidden_mask(
    batch: int,
    num_cells: int,
    mask_ratio: float,
    generator: torch.Generator | None = None,
    *,
    device: torch.device | str | None = None,
) -> Tensor:
    """BoolTensor (batch, num_cells), True for the hidden cells (complement of the kept ones)."""
    keep = random_keep_indices(batch, num_cells, mask_ratio, generator, device=device)
    hidden = torch.ones(batch, num_cells, dtype=torch.bool, device=keep.device)
    return hidden.scatter(1, keep, False)


def mask_input_patches(
    x: Tensor,
    mask_ratio: float,
    patch: int,
    generator: torch.Generator | None = None,
    *,
    fill: float = 0.0,
) -> Tensor:
    """Set a random share of the ``patch`` x ``patch`` cells of each image to ``fill``.

    ``x`` (B, C, H, W) -> same shape. The grid is ``ceil(H / patch)`` x ``ceil(W / patch)``
    (edge cells may be smaller); all channels of a hidden cell are blanked. Identity when
    ``mask_ratio == 0`` (nothing is drawn from ``generator``).
    """
    check_mask_ratio(mask_ratio)
    check_int_at_least("patch", patch, 1)
    if mask_ratio == 0.0:
        return x
    b, _, h, w = x.shape
    gh, gw = math.ceil(h / patch), math.ceil(w / patch)
    hidden = random_hidden_mask(b, gh * gw, mask_ratio, generator, device=x.device)
    hidden = hidden.view(b, 1, gh, gw).repeat_interleave(patch, dim=2).repeat_interleave(patch, dim=3)
    return x.masked_fill(hidden[:, :, :h, :w], fill)  # (B, C, H, W)


def mask_input_segments(
    x: Tensor,
    mask_ratio: float,
    segment: int,
    generator: torch.Generator | None = None,
    *,
    fill: float = math.nan,
) -> Tensor:
    """Set a random share of the length-``segment`` time segments of each series to ``fill``.

    ``x`` (B, C, T) -> same shape; ``ceil(T / segment)`` segments (the last may be shorter), all
    channels blanked. The default fill is NaN, so a series encoder sees the hidden segments as
    missing (observed mask 0) rather than as observed zeros. Identity when ``mask_ratio == 0``.
    """
    check_mask_ratio(mask_ratio)
    check_int_at_least("segment", segment, 1)
    if mask_ratio == 0.0:
        return x
    b, _, t = x.shape
    hidden = random_hidden_mask(b, math.ceil(t / segment), mask_ratio, generator, device=x.device)
    hidden = hidden.repeat_interleave(segment, dim=1)[:, None, :t]  # (B, 1, T)
    return x.masked_fill(hidden, fill)


def with_observed_mask(x: Tensor) -> Tensor:
    """Series (B, C, T) with NaN -> (B, C + 1, T): values with NaN replaced by 0, then one
    channel holding the share of channels observed at each time step (1 = all observed)."""
    observed = ~torch.isnan(x)  # (B, C, T)
    values = torch.where(observed, x, torch.zeros((), dtype=x.dtype, device=x.device))
    share = observed.to(x.dtype).mean(dim=1, keepdim=True)  # (B, 1, T)
    return torch.cat([values, share], dim=1)
