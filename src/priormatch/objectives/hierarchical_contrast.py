"""TS2Vec's hierarchical contrastive loss over per-timestamp representations.

Yue et al., "TS2Vec: Towards Universal Representation of Time Series", AAAI 2022, sec. 3.3.
r1, r2 (B, T, D) are the representations of the B series on the T timestamps two views share
(the overlap of two crops). With dot-product similarities and no temperature:

* temporal contrast (eq. 1): the anchor r1[i, t] has the positive r2[i, t]; its negatives are the
  other timestamps of the same series in both views, r2[i, t'] and r1[i, t'] for t' != t;
* instance contrast (eq. 2): the anchor r1[i, t] has the positive r2[i, t]; its negatives are the
  other series of the batch at the same timestamp in both views, r2[j, t] and r1[j, t] for j != i.

Both are one formula, :func:`paired_contrast`, applied to groups of items: the timestamps of one
series (temporal) or the series at one timestamp (instance). Both views serve as anchors, so the
loss is symmetric in the views. The hierarchy (Algorithm 1): the dual loss is computed on r1, r2,
then both are max-pooled over time (kernel 2, stride 2) and the dual loss is computed again, until
one timestamp is left (floor(log2 T) + 1 scales); the loss is the mean over scales.

Per scale the dual loss is ``instance_weight * instance + (1 - instance_weight) * temporal``;
``instance_weight=0.5`` is half the paper's eq. 3 (which sums the two terms), the same optimum.

Degenerate cases, by the formula itself (a group of one item has no negatives, so the softmax
over its candidates is 1 and its loss exactly 0, with zero gradient):
* T = 1 (and the last scale of every hierarchy): the temporal term is 0; only the instance term acts.
* B = 1: the instance term is 0 at every scale; only the temporal term acts.
* B = 1 and T = 1: the loss is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from priormatch.objectives.float32 import in_float32
from priormatch.validation import check_min_size, check_range, check_same_shape


@dataclass(frozen=True)
class HierarchicalContrastTerms:
    """The parts of the hierarchical loss of one batch (scalars, means over the scales)."""

    loss: Tensor  # instance_weight * instance + (1 - instance_weight) * temporal
    instance: Tensor  # mean over scales of the instance contrast
    temporal: Tensor  # mean over scales of the temporal contrast (0 at the one-timestamp scale)
    num_scales: int  # floor(log2 T) + 1


def paired_contrast(z1: Tensor, z2: Tensor) -> Tensor:
    """Scalar softmax cross-entropy of paired items within groups, dot-product logits.

    z1, z2: (G, N, D), G groups of N items in two views. The anchor z1[g, n] has the positive
    z2[g, n] and the 2N - 2 negatives z2[g, m], z1[g, m] (m != n) of its own group; the same with
    the views swapped. Returns the mean over the G * 2N anchors; 0 when N = 1 (no negatives).
    """
    groups, items, _ = z1.shape
    z = torch.cat([z1, z2], dim=1)  # (G, 2N, D): items 0..N-1 view 1, N..2N-1 view 2
    logits = z @ z.transpose(1, 2)  # (G, 2N, 2N)
    itself = torch.eye(2 * items, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(itself, float("-inf"))  # an anchor is not its own candidate
    positive = (torch.arange(2 * items, device=z.device) + items) % (2 * items)  # its other view
    return F.cross_entropy(logits.reshape(groups * 2 * items, 2 * items), positive.repeat(groups))


def temporal_contrast(r1: Tensor, r2: Tensor) -> Tensor:
    """Scalar temporal contrast (TS2Vec eq. 1) of r1, r2 (B, T, D): groups are series, items timestamps."""
    return paired_contrast(r1, r2)


def instance_contrast(r1: Tensor, r2: Tensor) -> Tensor:
    """Scalar instance contrast (TS2Vec eq. 2) of r1, r2 (B, T, D): groups are timestamps, items series."""
    return paired_contrast(r1.transpose(0, 1), r2.transpose(0, 1))


def max_pool_time(r: Tensor) -> Tensor:
    """(B, T, D) -> (B, floor(T / 2), D): max over non-overlapping pairs of timestamps."""
    return F.max_pool1d(r.transpose(1, 2), kernel_size=2).transpose(1, 2)


def _check_representations(r1: Tensor, r2: Tensor, instance_weight: float) -> None:
    check_same_shape("r1", r1, "r2", r2, "(B, T, D)")
    check_min_size("r1 and r2", r1.shape[0], 1, "series (B)")
    check_min_size("r1 and r2", r1.shape[1], 1, "timestamp (T)")
    check_range("instance_weight", instance_weight, 0.0, 1.0, high_inclusive=True)


@in_float32
def hierarchical_contrast_terms(r1: Tensor, r2: Tensor, *, instance_weight: float = 0.5) -> HierarchicalContrastTerms:
    """The hierarchical contrastive loss of r1, r2 (B, T, D) and its parts; see the module docstring."""
    _check_representations(r1, r2, instance_weight)
    instance_terms, temporal_terms = [], []
    while True:
        instance_terms.append(instance_contrast(r1, r2))
        temporal_terms.append(temporal_contrast(r1, r2))
        if r1.shape[1] == 1:
            break
        r1, r2 = max_pool_time(r1), max_pool_time(r2)
    instance = torch.stack(instance_terms).mean()
    temporal = torch.stack(temporal_terms).mean()
    loss = instance_weight * instance + (1.0 - instance_weight) * temporal
    return HierarchicalContrastTerms(loss, instance, temporal, len(instance_terms))


def hierarchical_contrastive_loss(r1: Tensor, r2: Tensor, *, instance_weight: float = 0.5) -> Tensor:
    """Scalar TS2Vec loss of the shared-timestamp representations r1, r2 (B, T, D) of two views."""
    return hierarchical_contrast_terms(r1, r2, instance_weight=instance_weight).loss
