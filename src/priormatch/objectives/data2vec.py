"""data2vec: regress the averaged, normalised top-K layer outputs of an EMA teacher at masked positions.

Baevski et al., "data2vec: A General Framework for Self-supervised Learning in Speech, Vision and
Language", ICML 2022, sec. 3.3-3.4:

* target y_t = (1/K) sum_{l = L-K+1}^{L} norm(a_t^l): each of the top K block outputs a^l (B, T, D)
  of the teacher (full input) is normalised without learned parameters, then averaged. The paper
  uses parameter-less layer norm (per token, over D) for vision and NLP, instance norm (per
  channel, over the T tokens of a sample) for speech; both are offered;
* loss: Smooth L1 with transition beta between squared and L1 error (the paper's vision setting
  is beta = 2; beta = 0 gives the plain squared error the paper uses for speech), on masked
  positions only. We average over masked positions and feature dimensions (the official code
  sums over dimensions and scales by 1/sqrt(D): a constant factor).

Shapes: layers K' x (B, T, D) (patch tokens only, no CLS), predictions (B, T, D), masked (B, T) bool.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from priormatch.objectives.float32 import in_float32
from priormatch.validation import check_choice, check_int_at_least, check_int_between, check_non_negative, check_same_shape, check_shape

TargetNorm = Literal["layer", "instance"]
NORM_EPS = 1e-5  # eps of the parameter-less layer / instance normalisation (PyTorch default)


def normalize_layer(layer: Tensor, norm: TargetNorm = "layer") -> Tensor:
    """(B, T, D) -> same, normalised without affine parameters: ``layer`` over D per token,
    ``instance`` over T per sample and channel (biased variance, eps = NORM_EPS)."""
    check_choice("target_norm", norm, ("layer", "instance"))
    if norm == "layer":
        return F.layer_norm(layer, layer.shape[-1:], eps=NORM_EPS)
    return F.instance_norm(layer.transpose(1, 2), eps=NORM_EPS).transpose(1, 2)


@torch.no_grad()
@in_float32
def data2vec_targets(layers: list[Tensor], *, top_k: int, norm: TargetNorm = "layer") -> Tensor:
    """(B, T, D) average of the normalised last ``top_k`` of ``layers`` (each (B, T, D)); no gradient."""
    check_int_at_least("top_k", top_k, 1)
    check_int_between("top_k", top_k, 1, len(layers), hint=f"only {len(layers)} layers were given")
    return torch.stack([normalize_layer(layer.detach(), norm) for layer in layers[-top_k:]]).mean(dim=0)


@in_float32
def data2vec_loss(predictions: Tensor, targets: Tensor, masked: Tensor, *, beta: float = 2.0) -> Tensor:
    """Scalar Smooth L1 (``beta`` > 0) or squared error (``beta`` = 0) averaged over the masked
    positions (B, T) and the D feature dimensions; 0 when nothing is masked."""
    check_non_negative("beta", beta)
    check_same_shape("predictions", predictions, "targets", targets, "(B, T, D)")
    expected = tuple(predictions.shape[:2])
    check_shape("masked", masked, expected, f"(B, T) = {expected}", dtype=torch.bool)
    if not masked.any():
        return predictions.sum() * 0.0
    x, y = predictions[masked], targets[masked].detach()  # (M, D)
    return F.mse_loss(x, y) if beta == 0 else F.smooth_l1_loss(x, y, beta=beta)
