"""data2vec: a masked student regresses contextual targets built by an EMA teacher from the full input.

Baevski et al., ICML 2022, sec. 3: teacher and student see the same view. The student's patch
embeddings at a random ``mask_ratio`` of positions are replaced by a learned mask token; the
teacher, an exponential moving average of the student's transformer, encodes the unmasked input,
and its top-K block outputs, each normalised without parameters and averaged, are the targets
(:mod:`priormatch.objectives.data2vec`). A linear head on the student's final-normed outputs
regresses them at the masked positions with a Smooth L1 loss. As in the paper, the teacher
shares the student's patch embedding (the "feature encoder") and fixed positions: the teacher's
blocks read the student's embedded tokens, without gradient. The student is evaluated (the paper
fine-tunes the student).

Deviations, both forced by the modality-agnostic encoder contract: masks are uniformly random
patches (the paper uses BEiT's block-wise masks for images), and the targets are whole block
outputs (the released vision code's ``end_of_block_targets``; the paper's text generally takes
the FFN output before the last residual connection).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
from torch import Tensor, nn

from priormatch.encoders.masking import random_hidden_mask
from priormatch.encoders.transformer import INIT_STD
from priormatch.errors import PriormatchError
from priormatch.methods.base import DataInfo, MethodOutput, ViewSpec
from priormatch.methods.ema import EMATeacherMethod, frozen_copy
from priormatch.objectives.data2vec import TargetNorm, data2vec_loss, data2vec_targets
from priormatch.validation import check_choice, check_depth, check_non_negative, check_range

if TYPE_CHECKING:
    from priormatch.encoders.transformer import TransformerEncoder


@dataclass
class Data2VecConfig:
    """data2vec hyper-parameters: the paper's vision settings (mask 60%, top half of the blocks,
    layer-normalised targets, Smooth L1 with beta 2) and the released vision config's EMA schedule."""

    name: str = "data2vec"
    mask_ratio: float = 0.6  # share of patch tokens the student sees as the mask token
    top_k_blocks: int = 2  # K teacher blocks averaged (paper: 6 of ViT-B's 12; here half of depth 4)
    target_norm: str = "layer"  # layer (paper: vision, NLP) | instance (paper: speech)
    loss_beta: float = 2.0  # Smooth L1 transition (paper, vision: 2); 0 = squared error
    ema_momentum: float = 0.999  # teacher momentum at the start ...
    ema_momentum_end: float = 0.9998  # ... increased linearly to this at the end


def validate_data2vec_config(config: Data2VecConfig, depth: int | None = None) -> None:
    if not 0.0 < config.mask_ratio < 1.0:
        raise PriormatchError(f"method.mask_ratio={config.mask_ratio!r} must lie in (0, 1): data2vec regresses masked positions")
    check_depth("method.top_k_blocks", config.top_k_blocks)
    if depth is not None and config.top_k_blocks > depth:
        raise PriormatchError(f"method.top_k_blocks={config.top_k_blocks} exceeds the encoder's {depth} blocks; use <= {depth}")
    check_choice("method.target_norm", config.target_norm, ("layer", "instance"))
    check_non_negative("method.loss_beta", config.loss_beta)
    check_range("method.ema_momentum", config.ema_momentum, 0.0, 1.0, high_inclusive=True)
    check_range("method.ema_momentum_end", config.ema_momentum_end, 0.0, 1.0, high_inclusive=True)


class Data2Vec(EMATeacherMethod):
    """data2vec around a token encoder (``TransformerEncoder``)."""

    encoder: TransformerEncoder
    teacher: TransformerEncoder

    def __init__(self, encoder: TransformerEncoder, config: Data2VecConfig) -> None:
        super().__init__()
        validate_data2vec_config(config, depth=len(encoder.blocks))
        self.config = config
        self.view_spec = ViewSpec(num_global=1)
        self.encoder = encoder
        self.mask_token = nn.Parameter(torch.empty(encoder.embed_dim))
        nn.init.trunc_normal_(self.mask_token, std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD)
        self.head = nn.Linear(encoder.embed_dim, encoder.embed_dim)
        # The teacher is a frozen copy of the whole encoder; its copy of the stem stays unused
        # (the student's patch embedding is shared, see the module docstring).
        self.teacher = frozen_copy(encoder)

    def ema_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.teacher, self.encoder)]

    def forward(self, global_views: list[Tensor], focal_views: list[Tensor], *, generator: torch.Generator) -> MethodOutput:
        (x,) = global_views  # (B, C, ...), the same view for teacher and student
        b, t = x.shape[0], self.encoder.num_patches(tuple(x.shape))
        masked = random_hidden_mask(b, t, self.config.mask_ratio, generator, device=x.device)  # (B, T)
        targets = self._targets(x)  # (B, T, D)
        student = self.encoder.encode(self.encoder.tokens(x, replace=masked, mask_token=self.mask_token))
        predictions = self.head(student[:, 1:])  # (B, T, D), CLS dropped
        loss = data2vec_loss(predictions, targets, masked, beta=self.config.loss_beta)
        return MethodOutput(loss, {"loss": loss.item(), "target_std": targets.flatten(0, 1).std(dim=0).mean().item()})

    @torch.no_grad()
    def _targets(self, x: Tensor) -> Tensor:
        """(B, T, D) teacher targets of every patch position from the unmasked input."""
        _, layers = self.teacher.encode(self.encoder.tokens(x), return_layers=True)
        patch_layers = [layer[:, 1:] for layer in layers]  # drop CLS
        norm = cast(TargetNorm, self.config.target_norm)  # checked by validate_data2vec_config
        return data2vec_targets(patch_layers, top_k=self.config.top_k_blocks, norm=norm)


def build_data2vec(config: Data2VecConfig, encoder: nn.Module, data: DataInfo) -> Data2Vec:
    return Data2Vec(cast("TransformerEncoder", encoder), config)
