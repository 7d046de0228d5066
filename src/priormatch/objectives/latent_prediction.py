"""JEPA's objective: regress the target encoder's representations of masked blocks in latent space.

Assran et al., "Self-Supervised Learning from Images with a Joint-Embedding Predictive
Architecture" (I-JEPA), CVPR 2023, sec. 3, eq. 1: for M target blocks B_1 .. B_M,

    loss = (1 / M) sum_i sum_{j in B_i} || s_hat_j - s_j ||_2^2,

s_j the target encoder's representation of token j (the full input, no gradient), s_hat_j the
predictor's. Here the sum is an average over the predicted tokens and the D feature dimensions
(a constant factor for blocks of one size, which :mod:`priormatch.encoders.block_masks` draws),
over the *valid* tokens only (a series patch with no observed value has no target). The paper
writes the squared L2 distance (``beta = 0``); the released code uses Smooth L1 (``beta = 1``).
The regression itself is data2vec's masked regression (:func:`priormatch.objectives.data2vec.data2vec_loss`),
written once there; targets are optionally normalised per token without parameters (the released
I-JEPA code layer-normalises the target encoder's output), with data2vec's ``normalize_layer``.

Shapes: features (B, T, D) per token, block indices (B, M, L), predictions / targets (B, M, L, D).
"""

from __future__ import annotations

import torch
from torch import Tensor

from priormatch.objectives.data2vec import data2vec_loss, normalize_layer
from priormatch.objectives.float32 import in_float32
from priormatch.validation import check_choice, check_same_shape, check_shape


def gather_blocks(features: Tensor, blocks: Tensor) -> Tensor:
    """(B, T, ...) per-token values, (B, M, L) token indices -> (B, M, L, ...) the blocks' values."""
    b, m, length = blocks.shape
    flat = blocks.reshape(b, m * length)
    index = flat.view(b, m * length, *([1] * (features.ndim - 2))).expand(-1, -1, *features.shape[2:])
    return features.gather(1, index).view(b, m, length, *features.shape[2:])


@torch.no_grad()
@in_float32
def latent_targets(features: Tensor, norm: str = "layer") -> Tensor:
    """(B, T, D) target-encoder features -> the regression targets (no gradient): layer-normalised
    per token without parameters (``layer``) or as they are (``none``)."""
    check_choice("target_norm", norm, ("layer", "none"))
    return normalize_layer(features.detach(), "layer") if norm == "layer" else features.detach()


@in_float32
def latent_prediction_loss(predictions: Tensor, targets: Tensor, valid: Tensor | None = None, *, beta: float = 0.0) -> Tensor:
    """Scalar squared error (``beta`` = 0, the paper) or Smooth L1 (``beta`` > 0) between predicted
    and target representations (B, M, L, D), averaged over the valid (B, M, L) tokens (all when
    ``valid`` is None) and the D dimensions; no gradient reaches the targets; 0 when none is valid."""
    check_same_shape("predictions", predictions, "targets", targets, "(B, M, L, D)")
    if valid is None:
        valid = torch.ones(predictions.shape[:3], dtype=torch.bool, device=predictions.device)
    expected = tuple(predictions.shape[:3])
    check_shape("valid", valid, expected, f"(B, M, L) = {expected}")
    return data2vec_loss(predictions.flatten(1, 2), targets.flatten(1, 2), valid.flatten(1, 2), beta=beta)


@torch.no_grad()
def per_dimension_std(features: Tensor) -> float:
    """Collapse monitor: the (population) std over axis 0 of each entry of ``features`` (N, ..., D),
    averaged over the other axes. On (B * T, D) tokens it is the per-dimension std of the batch's
    features; on (B, T, D) the std across the B samples of each token, 0 when every sample has the
    same representation (collapse, even if positions still differ within a sample), and for B = 1."""
    return features.float().std(dim=0, correction=0).mean().item()
