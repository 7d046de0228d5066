"""I-JEPA's multi-block masks over a grid of patch tokens: M target blocks and one context.

Assran et al., "Self-Supervised Learning from Images with a Joint-Embedding Predictive
Architecture", CVPR 2023, sec. 3: per batch, one target-block size (a share ``target_scale`` of
the tokens, aspect ratio ``aspect_ratio``) and one context-block size (``context_scale``, aspect
ratio 1) are drawn; per sample, M target blocks and one context block are placed uniformly at
random; the context keeps the context block's tokens outside every target block, so the
prediction task is not trivial.

Series are the 1-D case: a grid of (1, T) patch tokens, a block is a run of consecutive time
patches (the aspect ratio does not apply). Images use the (rows, cols) patch grid, row-major.

Choices that keep the masks stackable and valid for every sample (all documented):

* sizes are rounded half up; a target block is strictly smaller than the grid along every side
  longer than 1 (as in I-JEPA), and shrunk (its longer side first) until M blocks cover at most
  T - 1 tokens, so at least one token lies outside every target block;
* a sample whose context block lies entirely inside its target blocks takes every token outside
  the target blocks as its context instead;
* contexts are truncated to the smallest context of the batch, by a uniformly random subset of
  each sample's context tokens (I-JEPA keeps the first ones, a spatial bias).

Every random number is drawn from the ``generator`` (the training step's), so resume is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from priormatch.errors import PriormatchError


@dataclass(frozen=True)
class BlockMasks:
    """Token indices (row-major into the T tokens of the grid) for one batch.

    ``targets`` (B, M, L): the L = h * w tokens of each of the M target blocks, sorted;
    ``context`` (B, N_ctx): the context tokens, sorted, none of them in a target block.
    """

    targets: Tensor
    context: Tensor
    block_shape: tuple[int, int]  # (h, w) of every target block


def _uniform(generator: torch.Generator, shape: tuple[int, ...] = ()) -> Tensor:
    """U[0, 1) float64 numbers of ``shape`` from ``generator`` (drawn on its device), on the CPU."""
    return torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float64).cpu()


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def block_shape(grid: tuple[int, int], scale: float, aspect_ratio: float, *, max_shape: tuple[int, int]) -> tuple[int, int]:
    """(h, w) of a block covering ``scale`` of the ``grid`` tokens with h / w = ``aspect_ratio``
    (rows = 1: w = scale * T), each side in 1 .. max_shape."""
    rows, cols = grid
    area = scale * rows * cols
    if rows == 1:
        h, w = 1, _round_half_up(area)
    else:
        h, w = _round_half_up(math.sqrt(area * aspect_ratio)), _round_half_up(math.sqrt(area / aspect_ratio))
    return min(max(h, 1), max_shape[0]), min(max(w, 1), max_shape[1])


def fit_target_blocks(shape: tuple[int, int], num_blocks: int, num_tokens: int) -> tuple[int, int]:
    """Shrink (h, w), the longer side first, until ``num_blocks`` blocks cover at most T - 1 tokens."""
    h, w = shape
    while num_blocks * h * w > num_tokens - 1:
        if w >= h:
            w -= 1
        else:
            h -= 1
    return h, w


def place_blocks(batch: int, num_blocks: int, grid: tuple[int, int], shape: tuple[int, int], generator: torch.Generator) -> Tensor:
    """(B, M, h * w) sorted token indices of M blocks of ``shape`` per sample, each placed
    uniformly at random inside the grid (top ~ U{0..rows-h}, left ~ U{0..cols-w})."""
    (rows, cols), (h, w) = grid, shape
    u = _uniform(generator, (2, batch, num_blocks))
    top = (u[0] * (rows - h + 1)).floor().long().clamp(max=rows - h)  # (B, M)
    left = (u[1] * (cols - w + 1)).floor().long().clamp(max=cols - w)
    offsets = (torch.arange(h)[:, None] * cols + torch.arange(w)[None, :]).flatten()  # (h * w,)
    return (top * cols + left)[..., None] + offsets  # (B, M, h * w)


def _covered(indices: Tensor, num_tokens: int) -> Tensor:
    """(B, K...) token indices -> (B, T) bool, True where some index of the sample points."""
    batch = indices.shape[0]
    return torch.zeros(batch, num_tokens, dtype=torch.bool).scatter(1, indices.reshape(batch, -1), True)


def truncate_context(context: Tensor, generator: torch.Generator) -> Tensor:
    """(B, T) bool context masks -> (B, N_ctx) sorted indices: for each sample a uniformly random
    subset of its context tokens, N_ctx = the smallest context of the batch (>= 1)."""
    keep = int(context.sum(dim=1).min())
    scores = _uniform(generator, tuple(context.shape)).masked_fill(~context, 2.0)  # non-context last
    return scores.argsort(dim=1)[:, :keep].sort(dim=1).values


def sample_block_masks(
    batch: int,
    grid: tuple[int, int],
    *,
    num_blocks: int,
    target_scale: tuple[float, float],
    context_scale: tuple[float, float],
    aspect_ratio: tuple[float, float],
    generator: torch.Generator,
    device: torch.device | str | None = None,
) -> BlockMasks:
    """I-JEPA's masks for ``batch`` samples on a (rows, cols) token grid (module docstring)."""
    rows, cols = grid
    num_tokens = rows * cols
    if num_tokens < num_blocks + 1:
        raise PriormatchError(
            f"an input of {num_tokens} patch tokens is too small for {num_blocks} target blocks and a context; "
            f"lower method.num_target_blocks to <= {max(num_tokens - 1, 1)} or use a smaller patch size"
        )
    u = _uniform(generator, (3,))
    target_fraction = target_scale[0] + float(u[0]) * (target_scale[1] - target_scale[0])
    ratio = aspect_ratio[0] + float(u[1]) * (aspect_ratio[1] - aspect_ratio[0])
    context_fraction = context_scale[0] + float(u[2]) * (context_scale[1] - context_scale[0])
    strictly_inside = (max(rows - 1, 1), max(cols - 1, 1))
    target = fit_target_blocks(block_shape(grid, target_fraction, ratio, max_shape=strictly_inside), num_blocks, num_tokens)
    context = block_shape(grid, context_fraction, 1.0, max_shape=grid)
    targets = place_blocks(batch, num_blocks, grid, target, generator)  # (B, M, L)
    outside_targets = ~_covered(targets, num_tokens)  # (B, T), never empty (fit_target_blocks)
    context_mask = _covered(place_blocks(batch, 1, grid, context, generator), num_tokens) & outside_targets
    empty = ~context_mask.any(dim=1, keepdim=True)
    context_mask = torch.where(empty, outside_targets, context_mask)
    return BlockMasks(targets=targets.to(device), context=truncate_context(context_mask, generator).to(device), block_shape=target)
