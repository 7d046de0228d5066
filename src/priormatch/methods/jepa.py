"""JEPA: predict, in latent space, the target encoder's representations of masked time blocks.

Written from I-JEPA (Assran et al., "Self-Supervised Learning from Images with a Joint-Embedding
Predictive Architecture", CVPR 2023, sec. 3) and adapted to time:

1. masks (:mod:`priormatch.encoders.block_masks`): M target blocks of consecutive patch tokens
   (series; rectangles of the patch grid for images) and a context block, minus the targets,
   drawn per sample from the step's generator;
2. the **context encoder** (the online encoder) sees only the context tokens (token dropping,
   ``encode(tokens, keep=context)``), each with its position;
3. the **target encoder**, an EMA copy of the whole context encoder (its own patch embedding too,
   as in I-JEPA; the loop schedules the momentum ``ema_momentum`` -> ``ema_momentum_end``), sees
   the whole input; its final per-token outputs, layer-normalised without parameters (the released
   code), are the targets; no gradient;
4. a narrow **predictor** (transformer blocks) reads [context CLS | context tokens + positions |
   a shared mask token + the position of each target token] for each target block separately and
   predicts that block's target representations;
5. loss: squared error (or Smooth L1) on the target blocks only
   (:mod:`priormatch.objectives.latent_prediction`); series patches with no observed value do not count.

The target encoder is evaluated (I-JEPA evaluates it), so a short run needs a lower momentum
(the loop warns). Deviations: the encoder has a CLS token (I-JEPA's has none and average-pools for
evaluation); the context encoder's CLS output joins the predictor's input, so the pooled
representation that probes read is trained directly. Positions enter the predictor through its
input projection, as in this library's MAE decoder.

On the per-timestamp conv net (``encoder.name=conv1d``) :func:`build_jepa` returns the variant of
:mod:`priormatch.methods.timestamp_jepa` (time steps as tokens, latent masking, a conv predictor);
both share :class:`JEPABase`.

Optional prototype head (``prior`` other than ``none``): the pooled (CLS) outputs of the context
encoder (anchor) and of the target encoder (target) are projected and softly assigned to K
prototypes; the anchor predicts the target's sharpened, (optionally) Sinkhorn-balanced assignment
and KL(p_bar || prior) matches the mean anchor prediction to the prior (the PMSN terms,
:func:`priormatch.objectives.pmsn_terms`), times ``prototype_weight``. This adds a batch-level term,
so the prior question can be asked of a JEPA; without it a JEPA has no batch regulariser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import torch
from torch import Tensor, nn

from priormatch.encoders import TransformerBlock
from priormatch.encoders.block_masks import BlockMasks, sample_block_masks
from priormatch.encoders.transformer import INIT_STD, init_transformer_weights
from priormatch.errors import PriormatchError
from priormatch.methods.base import DataInfo, MethodOutput, ViewSpec
from priormatch.methods.ema import EMATeacherMethod, frozen_copy
from priormatch.methods.prior_head import (
    PriorHeadConfig,
    anchor_target_head,
    attach_prior_head,
    head_prior,
    validate_prior_head_config,
)
from priormatch.objectives.latent_prediction import gather_blocks, latent_prediction_loss, latent_targets, per_dimension_std
from priormatch.validation import (
    MAX_RATIO,
    check_choice,
    check_depth,
    check_fraction_pair,
    check_int_between,
    check_non_negative,
    check_positive,
    check_positive_pair,
    check_range,
    check_width,
)

if TYPE_CHECKING:
    from priormatch.encoders.conv1d import DilatedConvNet1d
    from priormatch.encoders.transformer import TransformerEncoder
    from priormatch.methods.projection import ProjectionHead

MAX_TARGET_BLOCKS = 64  # method.num_target_blocks (I-JEPA: 4); each needs a token of its own


@dataclass
class JEPAConfig(PriorHeadConfig):
    """JEPA hyper-parameters: I-JEPA's masks (4 target blocks of 15-20% of the tokens, a context
    block of 85-100% without them), EMA schedule and loss; a predictor scaled to the small encoder;
    and the optional prototype head's keys (:mod:`priormatch.methods.prior_head`)."""

    name: str = "jepa"
    num_target_blocks: int = 4  # M (I-JEPA: 4)
    target_scale: list[float] = field(default_factory=lambda: [0.15, 0.2])  # share of the tokens per target block
    context_scale: list[float] = field(default_factory=lambda: [0.85, 1.0])  # context block, before removing targets
    aspect_ratio: list[float] = field(default_factory=lambda: [0.75, 1.5])  # target blocks' h / w (images only)
    predictor_dim: int = 64  # I-JEPA: 384 behind ViT-B/H; narrow relative to the 128-wide encoder
    predictor_depth: int = 2  # I-JEPA: 6-12
    predictor_heads: int = 2
    predictor_mlp_ratio: float = 4.0
    target_norm: str = "layer"  # layer (released code: parameter-less layer norm of the targets) | none
    loss_beta: float = 0.0  # 0: squared L2 (paper, eq. 1); > 0: Smooth L1 with this beta (released code: 1)
    ema_momentum: float = 0.996  # target-encoder momentum at the start ... (I-JEPA)
    ema_momentum_end: float = 1.0  # ... increased linearly to this at the end
    # true: one augmented global view (series_views / image_views: crop, scaling, jitter); false: the
    # unaugmented batch, I-JEPA's design without hand-crafted view augmentations
    augment: bool = True


def validate_jepa_config(config: JEPAConfig) -> None:
    check_int_between("method.num_target_blocks", config.num_target_blocks, 1, MAX_TARGET_BLOCKS)
    check_fraction_pair("method.target_scale", config.target_scale)
    if config.target_scale[1] >= 1.0:
        raise PriormatchError(f"method.target_scale={config.target_scale!r} must stay below 1: the context needs tokens")
    check_fraction_pair("method.context_scale", config.context_scale)
    check_positive_pair("method.aspect_ratio", config.aspect_ratio, upper=MAX_RATIO, example="[0.75, 1.5]")
    check_width("method.predictor_dim", config.predictor_dim)
    check_depth("method.predictor_depth", config.predictor_depth)
    check_int_between("method.predictor_heads", config.predictor_heads, 1, config.predictor_dim)
    if config.predictor_dim % config.predictor_heads:
        raise PriormatchError(f"method.predictor_heads={config.predictor_heads} must divide method.predictor_dim={config.predictor_dim}")
    check_positive("method.predictor_mlp_ratio", config.predictor_mlp_ratio)
    check_range("method.predictor_mlp_ratio", config.predictor_mlp_ratio, 0.0, MAX_RATIO, high_inclusive=True)
    check_choice("method.target_norm", config.target_norm, ("layer", "none"))
    check_non_negative("method.loss_beta", config.loss_beta)
    check_range("method.ema_momentum", config.ema_momentum, 0.0, 1.0, high_inclusive=True)
    check_range("method.ema_momentum_end", config.ema_momentum_end, 0.0, 1.0, high_inclusive=True)
    validate_prior_head_config(config)


class LatentPredictor(nn.Module):
    """(B', S, D) sequences in encoder space whose last ``num_targets`` tokens are the mask tokens
    -> (B', num_targets, D) predicted target representations, through a narrow transformer."""

    def __init__(self, embed_dim: int, config: JEPAConfig) -> None:
        super().__init__()
        self.embed = nn.Linear(embed_dim, config.predictor_dim)
        self.blocks = nn.ModuleList(
            TransformerBlock(config.predictor_dim, heads=config.predictor_heads, mlp_ratio=config.predictor_mlp_ratio)
            for _ in range(config.predictor_depth)
        )
        self.norm = nn.LayerNorm(config.predictor_dim)
        self.project = nn.Linear(config.predictor_dim, embed_dim)
        self.apply(init_transformer_weights)

    def forward(self, sequence: Tensor, num_targets: int) -> Tensor:
        x = self.embed(sequence)  # (B', S, Dp)
        for block in self.blocks:
            x = block(x)
        return self.project(self.norm(x[:, -num_targets:]))  # (B', num_targets, D)


class JEPABase(EMATeacherMethod):
    """What the token JEPA and the per-timestamp JEPA (:mod:`priormatch.methods.timestamp_jepa`)
    share: one global view, the context encoder and its EMA copy (the target encoder, evaluated),
    a learned mask token, the predictor, the optional prototype head, the masks and the output."""

    encoder: nn.Module  # the context encoder
    target_encoder: nn.Module
    projector: ProjectionHead | None  # the prototype head (None: off), set by attach_prior_head
    prototypes: nn.Parameter | None
    prior: Tensor  # buffer, only with the head

    def __init__(self, encoder: nn.Module, config: JEPAConfig, prior: Tensor | None, predictor: nn.Module, mask_token: Tensor) -> None:
        super().__init__()
        validate_jepa_config(config)
        self.config = config
        self.view_spec = ViewSpec(num_global=1, augmented=config.augment)
        self.encoder = encoder
        self.mask_token = nn.Parameter(mask_token)
        self.predictor = predictor
        self.target_encoder = frozen_copy(encoder)
        attach_prior_head(self, int(cast(int, encoder.embed_dim)), config, prior)

    def ema_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.target_encoder, self.encoder)]

    def evaluation_encoder(self) -> nn.Module:
        return self.target_encoder

    def token_grid(self, x: Tensor) -> tuple[int, int]:
        """(rows, cols) of the tokens of ``x`` that the blocks are drawn on."""
        raise NotImplementedError

    def sample_masks(self, x: Tensor, generator: torch.Generator) -> BlockMasks:
        """The step's target blocks (B, M, L) and context (B, N_ctx) for inputs ``x`` (B, C, ...)."""
        c = self.config
        return sample_block_masks(
            x.shape[0],
            self.token_grid(x),
            num_blocks=c.num_target_blocks,
            target_scale=cast("tuple[float, float]", tuple(c.target_scale)),  # pairs: validate_jepa_config
            context_scale=cast("tuple[float, float]", tuple(c.context_scale)),
            aspect_ratio=cast("tuple[float, float]", tuple(c.aspect_ratio)),
            generator=generator,
            device=x.device,
        )

    def output(self, prediction_loss: Tensor, features: Tensor, masks: BlockMasks, anchor: Tensor, target: Tensor) -> MethodOutput:
        """The loss and logged metrics from the prediction loss, the (B, T, D) target features, the
        masks and, for the prototype head, the pooled context ``anchor`` and ``target`` (B, D)."""
        metrics = {
            "prediction_loss": prediction_loss.item(),
            "target_std": per_dimension_std(features.flatten(0, 1)),  # over every token of the batch
            "target_std_across_samples": per_dimension_std(features),  # per token, across the samples
            "context_tokens": float(masks.context.shape[1]),
            "target_tokens": float(masks.targets.shape[1] * masks.targets.shape[2]),
        }
        loss = prediction_loss
        if self.projector is not None and self.prototypes is not None:
            head_loss, head_diagnostics = anchor_target_head(self.config, self.projector, self.prototypes, self.prior, anchor, target)
            loss = loss + self.config.prototype_weight * head_loss
            metrics.update(head_diagnostics)
        return MethodOutput(loss, {"loss": loss.item(), **metrics})


def token_mask_init(embed_dim: int) -> Tensor:
    """(D,) the token JEPA's mask token at initialisation: truncated normal, the transformer's init."""
    return nn.init.trunc_normal_(torch.empty(embed_dim), std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD)


class JEPA(JEPABase):
    """JEPA around a token encoder (``TransformerEncoder``: series or image patches)."""

    encoder: TransformerEncoder
    target_encoder: TransformerEncoder

    def __init__(self, encoder: TransformerEncoder, config: JEPAConfig, prior: Tensor | None) -> None:
        mask_token = token_mask_init(encoder.embed_dim)  # drawn before the predictor, as always (same seeds, same weights)
        super().__init__(encoder, config, prior, LatentPredictor(encoder.embed_dim, config), mask_token)

    def token_grid(self, x: Tensor) -> tuple[int, int]:
        return self.encoder.token_grid(tuple(x.shape))

    def forward(self, global_views: list[Tensor], focal_views: list[Tensor], *, generator: torch.Generator) -> MethodOutput:
        (x,) = global_views  # (B, C, ...)
        masks = self.sample_masks(x, generator)
        context = self.encoder.encode(self.encoder.tokens(x), keep=masks.context)  # (B, 1 + N_ctx, D), CLS first
        predictions = self.predict(context, masks, self.encoder.positions(x))  # (B, M, L, D)
        target_pooled, features = self.target_features(x)  # (B, D), (B, T, D)
        targets = gather_blocks(features, masks.targets)  # (B, M, L, D)
        valid = gather_blocks(self.observed_tokens(x), masks.targets)  # (B, M, L)
        prediction_loss = latent_prediction_loss(predictions, targets, valid, beta=self.config.loss_beta)
        return self.output(prediction_loss, features, masks, context[:, 0], target_pooled)  # the head: CLS outputs

    def predict(self, context: Tensor, masks: BlockMasks, positions: Tensor) -> Tensor:
        """Each target block predicted from the context, separately: the predictor reads
        [CLS | context tokens + positions | mask token + target positions] -> (B, M, L, D)."""
        b, m, length = masks.targets.shape
        d = context.shape[-1]
        positions = positions.to(context.dtype)  # (T, D)
        seen = torch.cat([context[:, :1], context[:, 1:] + positions[masks.context]], dim=1)  # (B, 1 + N_ctx, D)
        queries = self.mask_token.to(context.dtype) + positions[masks.targets]  # (B, M, L, D)
        sequence = torch.cat([seen.unsqueeze(1).expand(-1, m, -1, -1), queries], dim=2)  # (B, M, 1 + N_ctx + L, D)
        return self.predictor(sequence.flatten(0, 1), length).view(b, m, length, d)

    @torch.no_grad()
    def target_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The target encoder on the whole input: pooled (CLS) output (B, D) and the per-token
        regression targets (B, T, D) (normalised as ``target_norm`` says); no gradient."""
        encoded = self.target_encoder.encode(self.target_encoder.tokens(x))  # (B, 1 + T, D)
        return encoded[:, 0], latent_targets(encoded[:, 1:], self.config.target_norm)

    @torch.no_grad()
    def observed_tokens(self, x: Tensor) -> Tensor:
        """(B, T) bool: the patch holds at least one observed (non-NaN) value (always, for images)."""
        return ~torch.isnan(self.encoder.patchify(x)).all(dim=-1)


def build_jepa(config: JEPAConfig, encoder: nn.Module, data: DataInfo) -> JEPABase:
    """The token JEPA on a patch transformer, or :class:`TimestampJEPA` on the per-timestamp conv net."""
    from priormatch.methods.timestamp_jepa import TimestampJEPA  # it builds on JEPABase

    validate_jepa_config(config)
    if callable(getattr(encoder, "timestamps", None)):
        return TimestampJEPA(cast("DilatedConvNet1d", encoder), config, head_prior(config, data))
    return JEPA(cast("TransformerEncoder", encoder), config, head_prior(config, data))
