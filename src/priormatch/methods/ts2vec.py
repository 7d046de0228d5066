"""TS2Vec: hierarchical contrast of per-timestamp representations of two overlapping crops.

Yue et al., "TS2Vec: Towards Universal Representation of Time Series", AAAI 2022 (sec. 3):

1. two overlapping crops [a1, b1) and [a2, b2), a1 <= a2 < b1 <= b2, of each raw series at native
   resolution (no resampling, no other augmentation); the overlap [a2, b1) is shared;
2. each crop is encoded per timestamp: input projection, a random binary mask over the latent
   timestamps (each kept with probability 1 - ``mask_probability``, drawn anew for every forward
   pass, training only), the dilated conv net; dropout on the representation;
3. the representations of the overlap, r1 and r2 (B, T', D), enter the hierarchical contrastive
   loss (:mod:`priormatch.objectives.hierarchical_contrast`);
4. the evaluated encoder is a weight-averaged copy (SWA: the equal-weight mean of the weights
   after every optimizer step); its instance embedding is the max over all timestamps of the
   whole series (the encoder's own ``forward``).

The crop lengths are drawn once per batch so the crops stack; each series is shifted by its own
random offset within its observed length (crops never reach NaN end padding). Everything random
comes from the step's generator, so a resumed run continues exactly.

Optional prototype head (``prior`` other than ``none``): the max-pooled embeddings of the two crops
are projected and softly assigned to K prototypes; each crop predicts the other's sharpened,
(optionally) Sinkhorn-balanced assignment and KL(p_bar || prior) matches the mean prediction to the
prior (the PMSN terms, :func:`priormatch.objectives.pmsn_terms`). Its loss, times
``prototype_weight``, is added to the hierarchical contrast, so the prior question can be asked of
an encoder that learns from TS2Vec's objective.

Under DDP the instance negatives are the rank's own series (TS2Vec is single-process).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
from torch import Tensor, nn

from priormatch.data.series_views import observed_lengths
from priormatch.errors import PriormatchError
from priormatch.methods.base import DataInfo, MethodOutput, SSLMethod, ViewSpec
from priormatch.methods.ema import ema_update_, frozen_copy
from priormatch.methods.prior_head import (
    PriorHeadConfig,
    attach_prior_head,
    head_metrics,
    head_prior,
    head_terms,
    validate_prior_head_config,
)
from priormatch.objectives.hierarchical_contrast import hierarchical_contrast_terms
from priormatch.validation import check_int_between, check_range

if TYPE_CHECKING:
    from priormatch.encoders.conv1d import DilatedConvNet1d
    from priormatch.methods.projection import ProjectionHead


@dataclass
class TS2VecConfig(PriorHeadConfig):
    """TS2Vec hyper-parameters (the paper's defaults) and the optional prototype head's keys."""

    name: str = "ts2vec"
    instance_weight: float = 0.5  # per scale: w * instance + (1 - w) * temporal contrast
    mask_probability: float = 0.5  # share of latent timestamps zeroed (Bernoulli, training only)
    representation_dropout: float = 0.1  # dropout on the per-timestamp representation (training only)
    max_length: int = 3000  # the two crops lie in a window of at most this many steps (TS2Vec: 3000)


def validate_ts2vec_config(config: TS2VecConfig) -> None:
    check_range("method.instance_weight", config.instance_weight, 0.0, 1.0, high_inclusive=True)
    check_range("method.mask_probability", config.mask_probability, 0.0, 1.0)
    check_range("method.representation_dropout", config.representation_dropout, 0.0, 1.0)
    check_int_between("method.max_length", config.max_length, 1, 2**31)
    validate_prior_head_config(config)


@dataclass(frozen=True)
class OverlappingCrops:
    """Two crops per series: [start1, start1 + length1) and [start2, start2 + length2).

    The last ``overlap`` steps of crop 1 are the first ``overlap`` steps of crop 2.
    """

    start1: Tensor  # (B,) long
    start2: Tensor  # (B,) long
    length1: int
    length2: int
    overlap: int


def _integer(low: Tensor | int, high: Tensor | int, generator: torch.Generator, shape: tuple[int, ...] = ()) -> Tensor:
    """Uniform integers in [low, high] (inclusive, elementwise), drawn from ``generator`` (long, CPU)."""
    u = torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float64).cpu()
    low, high = torch.as_tensor(low), torch.as_tensor(high)
    return (low + (u * (high - low + 1)).floor().long()).clamp(max=high)


def random_overlapping_crops(lengths: Tensor, generator: torch.Generator, *, max_length: int) -> OverlappingCrops:
    """Two overlapping crops of each of B series with observed lengths ``lengths`` (B,).

    In a frame of L = min(min(lengths), max_length) steps: overlap length l ~ U{min(2, L) .. L},
    a2 ~ U{0 .. L - l}, b1 = a2 + l, a1 ~ U{0 .. a2}, b2 ~ U{b1 .. L} (TS2Vec sec. 3.2:
    0 <= a1 <= a2 <= b1 <= b2); then series i is shifted by s_i ~ U{-a1 .. lengths_i - b2}.
    """
    lengths = lengths.cpu().long()
    frame = int(min(int(lengths.min()), max_length))
    overlap = int(_integer(min(2, frame), frame, generator))
    a2 = int(_integer(0, frame - overlap, generator))
    b1 = a2 + overlap
    a1 = int(_integer(0, a2, generator))
    b2 = int(_integer(b1, frame, generator))
    shift = _integer(-a1, lengths - b2, generator, tuple(lengths.shape))  # (B,)
    return OverlappingCrops(start1=a1 + shift, start2=a2 + shift, length1=b1 - a1, length2=b2 - a2, overlap=overlap)


def take_windows(x: Tensor, starts: Tensor, length: int) -> Tensor:
    """x (B, C, T) -> (B, C, length): the window [starts[i], starts[i] + length) of each series."""
    steps = starts.to(x.device)[:, None] + torch.arange(length, device=x.device)  # (B, length)
    return x.gather(2, steps[:, None, :].expand(-1, x.shape[1], -1))


def bernoulli_keep(shape: tuple[int, ...], keep_probability: float, generator: torch.Generator, device: torch.device) -> Tensor:
    """Bool tensor of ``shape``, each entry True with ``keep_probability``, drawn from ``generator``."""
    return (torch.rand(shape, generator=generator, device=generator.device) < keep_probability).to(device)


class TS2Vec(SSLMethod):
    """TS2Vec around an encoder with a per-timestamp output ``timestamps(x, keep=...)`` (``conv1d``)."""

    encoder: DilatedConvNet1d
    averaged_encoder: DilatedConvNet1d
    num_averaged: Tensor  # buffer
    projector: ProjectionHead | None  # the prototype head (None: off), set by attach_prior_head
    prototypes: nn.Parameter | None
    prior: Tensor  # buffer, only with the head

    def __init__(self, encoder: DilatedConvNet1d, config: TS2VecConfig, prior: Tensor | None) -> None:
        super().__init__()
        validate_ts2vec_config(config)
        self.config = config
        self.view_spec = ViewSpec(num_global=1, augmented=False)  # the raw batch; crops are made here
        self.encoder = encoder
        self.averaged_encoder = frozen_copy(encoder)
        self.register_buffer("num_averaged", torch.zeros((), dtype=torch.long))
        attach_prior_head(self, encoder.embed_dim, config, prior)

    def teacher_modules(self) -> list[nn.Module]:
        return [self.averaged_encoder]

    def evaluation_encoder(self) -> nn.Module:
        return self.averaged_encoder

    @torch.no_grad()
    def update_teacher(self, momentum: float | None = None) -> None:
        """Add the current weights to the running equal-weight mean (SWA). ``momentum`` is ignored:
        after n updates the mean takes weight n / (n + 1) (the first update copies the weights)."""
        n = int(self.num_averaged)
        ema_update_(self.averaged_encoder, self.encoder, n / (n + 1), normalisation_statistics="copy")  # never runs forward itself
        self.num_averaged += 1

    def forward(self, global_views: list[Tensor], focal_views: list[Tensor], *, generator: torch.Generator) -> MethodOutput:
        (series,) = global_views  # (B, C, T) unaugmented
        crops = random_overlapping_crops(observed_lengths(series), generator, max_length=self.config.max_length)
        h1 = self._timestamps(take_windows(series, crops.start1, crops.length1), generator)  # (B, length1, D)
        h2 = self._timestamps(take_windows(series, crops.start2, crops.length2), generator)  # (B, length2, D)
        terms = hierarchical_contrast_terms(
            h1[:, crops.length1 - crops.overlap :], h2[:, : crops.overlap], instance_weight=self.config.instance_weight
        )
        metrics = {
            "contrast": terms.loss.item(),
            "instance_contrast": terms.instance.item(),
            "temporal_contrast": terms.temporal.item(),
            "overlap": float(crops.overlap),
        }
        loss = terms.loss
        if self.prototypes is not None:
            head_loss, head_metrics = self._prototype_head(h1.amax(dim=1), h2.amax(dim=1))
            loss = loss + self.config.prototype_weight * head_loss
            metrics.update(head_metrics)
        return MethodOutput(loss, {"loss": loss.item(), **metrics})

    def _timestamps(self, crop: Tensor, generator: torch.Generator) -> Tensor:
        """(B, C, L) -> (B, L, D): latent timestamp masking and representation dropout in training."""
        if not self.training:
            return self.encoder.timestamps(crop)
        batch, _, length = crop.shape
        keep = bernoulli_keep((batch, length), 1.0 - self.config.mask_probability, generator, crop.device)
        h = self.encoder.timestamps(crop, keep=keep)
        p = self.config.representation_dropout
        if p == 0.0:
            return h
        return h * bernoulli_keep(tuple(h.shape), 1.0 - p, generator, h.device).to(h.dtype) / (1.0 - p)

    def _prototype_head(self, e1: Tensor, e2: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Swapped prototype prediction between the crops' embeddings e1, e2 (B, D), each with
        KL(p_bar || prior); returns the mean of the two directions and diagnostics."""
        assert self.projector is not None and self.prototypes is not None  # only called with the head on
        z1, z2 = self.projector(torch.cat([e1, e2])).chunk(2)  # (B, P) each
        first = head_terms(self.config, self.prototypes, self.prior, z1, z2)  # crop 1 predicts crop 2
        second = head_terms(self.config, self.prototypes, self.prior, z2, z1)
        return 0.5 * (first.loss + second.loss), head_metrics([first, second], self.prior)


def build_ts2vec(config: TS2VecConfig, encoder: nn.Module, data: DataInfo) -> TS2Vec:
    validate_ts2vec_config(config)
    if data.kind != "series" or not callable(getattr(encoder, "timestamps", None)):
        raise PriormatchError(
            "method 'ts2vec' needs series and an encoder with per-timestamp output; use series data with encoder.name=conv1d"
        )
    return TS2Vec(cast("DilatedConvNet1d", encoder), config, head_prior(config, data))
