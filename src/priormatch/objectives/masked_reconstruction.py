"""MAE's reconstruction loss: mean squared error on the (normalised) values of masked patches.

He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022, sec. 3: the loss is
the MSE between predicted and original values per patch, computed on masked patches only; with
``normalize_target`` ("norm_pix_loss", the paper's better variant) each target patch is first
normalised by its own mean and (unbiased) standard deviation: (x - mean) / sqrt(var + eps).

Series may hold NaN (missing values, end padding): missing target values are ignored, the
per-patch statistics use the observed values only, a patch's error is the mean over its observed
values, and a masked patch with no observed value does not count. For images (no NaN) this is
exactly MAE's loss.

Shapes: predictions and targets (B, T, P) (P values per patch), masked (B, T) bool.
"""

from __future__ import annotations

import torch
from torch import Tensor

from priormatch.objectives.float32 import in_float32
from priormatch.validation import check_positive, check_same_shape, check_shape

PATCH_NORM_EPS = 1e-6  # eps in sqrt(var + eps) of the per-patch target normalisation (MAE)


def normalize_patches(patches: Tensor, *, eps: float = PATCH_NORM_EPS) -> Tensor:
    """(B, T, P) -> each patch minus its mean, divided by sqrt(unbiased variance + eps), over its
    observed (non-NaN) values; NaN stays NaN. A patch with one observed value has variance 0."""
    check_positive("eps", eps)
    observed = ~torch.isnan(patches)
    count = observed.sum(dim=-1, keepdim=True)  # (B, T, 1)
    values = torch.where(observed, patches, torch.zeros_like(patches))
    mean = values.sum(dim=-1, keepdim=True) / count.clamp_min(1)
    squares = torch.where(observed, (patches - mean) ** 2, torch.zeros_like(patches))
    var = squares.sum(dim=-1, keepdim=True) / (count - 1).clamp_min(1)
    return (patches - mean) / torch.sqrt(var + eps)


@in_float32
def masked_reconstruction_loss(
    predictions: Tensor, targets: Tensor, masked: Tensor, *, normalize_target: bool = True, eps: float = PATCH_NORM_EPS
) -> Tensor:
    """Scalar mean over masked patches (with at least one observed value) of the per-patch mean
    squared error; 0 when no such patch exists. No gradient flows into ``targets``."""
    check_same_shape("predictions", predictions, "targets", targets, "(B, T, P)")
    expected = tuple(predictions.shape[:2])
    check_shape("masked", masked, expected, f"(B, T) = {expected}", dtype=torch.bool)
    targets = targets.detach()
    if normalize_target:
        targets = normalize_patches(targets, eps=eps)
    observed = ~torch.isnan(targets)  # (B, T, P)
    squared = torch.where(observed, (predictions - torch.nan_to_num(targets)) ** 2, torch.zeros_like(predictions))
    count = observed.sum(dim=-1)  # (B, T)
    per_patch = squared.sum(dim=-1) / count.clamp_min(1)  # (B, T)
    counted = masked & (count > 0)
    return (per_patch * counted).sum() / counted.sum().clamp_min(1)
