"""MAE: encode a random quarter of the patches, reconstruct the rest with a light decoder.

He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022, sec. 3: a random
``mask_ratio`` (75%) of the patch tokens is removed; the transformer encoder sees only the visible
tokens (plus CLS); a narrow transformer decoder receives the encoded visible tokens and a shared
learnable mask token at every masked position, each with its position, and predicts the values
of every patch; the loss is the MSE on the per-patch-normalised values of the masked patches
(:mod:`priormatch.objectives.masked_reconstruction`). No teacher; the encoder is evaluated.

Modality-agnostic: patches, positions and targets come from the encoder's stem
(``tokens`` / ``encode`` / ``positions`` / ``patchify``), so images and series (NaN = missing,
ignored in the loss) share this file. Positions enter the decoder through its input projection:
the sequence [encoded visible tokens | mask token] gets the encoder's fixed sin-cos positions in
encoder space and is then projected to the decoder width (MAE adds sin-cos positions after the
projection; a linear map of the same fixed positions carries the same information).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
from torch import Tensor, nn

from priormatch.encoders import TransformerBlock, random_keep_indices
from priormatch.encoders.transformer import INIT_STD, init_transformer_weights
from priormatch.errors import PriormatchError
from priormatch.methods.base import DataInfo, MethodOutput, SSLMethod, ViewSpec
from priormatch.objectives.masked_reconstruction import masked_reconstruction_loss
from priormatch.validation import MAX_RATIO, check_depth, check_int_between, check_positive, check_range, check_width

if TYPE_CHECKING:
    from priormatch.encoders.transformer import TransformerEncoder


@dataclass
class MAEConfig:
    """MAE hyper-parameters: the paper's mask ratio and target normalisation; a decoder scaled to
    the small encoder (the paper: 8 blocks of width 512 behind a 1024-wide ViT-L)."""

    name: str = "mae"
    mask_ratio: float = 0.75  # share of patch tokens removed
    norm_pix_loss: bool = True  # normalise each target patch by its mean and std (paper's better variant)
    decoder_dim: int = 64
    decoder_depth: int = 2
    decoder_heads: int = 2
    decoder_mlp_ratio: float = 4.0


def validate_mae_config(config: MAEConfig) -> None:
    if not 0.0 < config.mask_ratio < 1.0:
        raise PriormatchError(f"method.mask_ratio={config.mask_ratio!r} must lie in (0, 1): MAE reconstructs the masked patches")
    check_width("method.decoder_dim", config.decoder_dim)
    check_depth("method.decoder_depth", config.decoder_depth)
    check_int_between("method.decoder_heads", config.decoder_heads, 1, config.decoder_dim)
    if config.decoder_dim % config.decoder_heads:
        raise PriormatchError(f"method.decoder_heads={config.decoder_heads} must divide method.decoder_dim={config.decoder_dim}")
    check_positive("method.decoder_mlp_ratio", config.decoder_mlp_ratio)
    check_range("method.decoder_mlp_ratio", config.decoder_mlp_ratio, 0.0, MAX_RATIO, high_inclusive=True)


class MAEDecoder(nn.Module):
    """(B, 1 + T, D) full token sequence in encoder space -> (B, T, patch_dim) predicted patches."""

    def __init__(self, embed_dim: int, patch_dim: int, config: MAEConfig) -> None:
        super().__init__()
        self.embed = nn.Linear(embed_dim, config.decoder_dim)
        self.blocks = nn.ModuleList(
            TransformerBlock(config.decoder_dim, heads=config.decoder_heads, mlp_ratio=config.decoder_mlp_ratio)
            for _ in range(config.decoder_depth)
        )
        self.norm = nn.LayerNorm(config.decoder_dim)
        self.predict = nn.Linear(config.decoder_dim, patch_dim)
        self.apply(init_transformer_weights)

    def forward(self, sequence: Tensor) -> Tensor:
        x = self.embed(sequence)  # (B, 1 + T, Dd)
        for block in self.blocks:
            x = block(x)
        return self.predict(self.norm(x))[:, 1:]  # drop CLS -> (B, T, patch_dim)


class MAE(SSLMethod):
    """MAE around a token encoder (``TransformerEncoder``)."""

    encoder: TransformerEncoder

    def __init__(self, encoder: TransformerEncoder, config: MAEConfig) -> None:
        super().__init__()
        validate_mae_config(config)
        self.config = config
        self.view_spec = ViewSpec(num_global=1)
        self.encoder = encoder
        self.mask_token = nn.Parameter(torch.empty(encoder.embed_dim))
        nn.init.normal_(self.mask_token, std=INIT_STD)
        self.decoder = MAEDecoder(encoder.embed_dim, encoder.patch_dim, config)

    def forward(self, global_views: list[Tensor], focal_views: list[Tensor], *, generator: torch.Generator) -> MethodOutput:
        (x,) = global_views  # (B, C, ...)
        tokens = self.encoder.tokens(x)  # (B, T, D) with positions
        b, t, d = tokens.shape
        keep = random_keep_indices(b, t, self.config.mask_ratio, generator, device=tokens.device)  # (B, T_keep)
        visible = self.encoder.encode(tokens, keep=keep)  # (B, 1 + T_keep, D), CLS first
        sequence = self._full_sequence(visible, keep, self.encoder.positions(x), t)
        predictions = self.decoder(sequence)  # (B, T, patch_dim)
        masked = torch.ones(b, t, dtype=torch.bool, device=tokens.device).scatter(1, keep, False)
        loss = masked_reconstruction_loss(predictions, self.encoder.patchify(x), masked, normalize_target=self.config.norm_pix_loss)
        return MethodOutput(loss, {"loss": loss.item(), "masked_share": masked.float().mean().item()})

    def _full_sequence(self, visible: Tensor, keep: Tensor, positions: Tensor, num_tokens: int) -> Tensor:
        """CLS + T tokens (B, 1 + T, D): encoded visible tokens at their indices, the mask token
        elsewhere, every patch token plus its position (CLS has none)."""
        b, _, d = visible.shape
        patches = self.mask_token.to(visible.dtype).expand(b, num_tokens, d)
        patches = patches.scatter(1, keep.unsqueeze(-1).expand(-1, -1, d), visible[:, 1:])  # (B, T, D)
        return torch.cat([visible[:, :1], patches + positions.to(visible.dtype)], dim=1)


def build_mae(config: MAEConfig, encoder: nn.Module, data: DataInfo) -> MAE:
    return MAE(cast("TransformerEncoder", encoder), config)
