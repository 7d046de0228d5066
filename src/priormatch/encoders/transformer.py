"""A modality-agnostic transformer trunk (ViT): stem -> [CLS] + patch tokens -> blocks -> norm.

The stem (:mod:`priormatch.encoders.patch_stems`) is the only part that knows about images or
series. The pooled representation is the final-normed CLS token. Token dropping (MSN's anchor
patch dropping, MAE's visible set) happens *after* positions are added, so every kept token
carries its original position; the CLS token has no position.
"""

from __future__ import annotations

from typing import Literal, overload

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from priormatch.encoders.contract import PatchStem
from priormatch.encoders.masking import check_mask_ratio, random_keep_indices
from priormatch.errors import PriormatchError
from priormatch.validation import check_int_at_least, check_multiple_of, check_positive, check_same_size, check_shape

INIT_STD = 0.02  # truncated-normal std of linear weights and the CLS token (ViT / BERT convention)


def init_transformer_weights(module: nn.Module) -> None:
    """Linear: trunc-normal(0.02) weight, zero bias; LayerNorm: ones / zeros. Use with ``apply``."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class TransformerBlock(nn.Module):
    """Pre-norm block: x + attn(LN(x)), then x + MLP(LN(x)); (B, T, dim) -> (B, T, dim)."""

    def __init__(self, dim: int, *, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        check_int_at_least("dim", dim, 1)
        check_int_at_least("heads", heads, 1)
        check_multiple_of("dim", dim, heads, "heads", hint="choose heads that divide dim")
        check_positive("mlp_ratio", mlp_ratio)
        self.heads = heads
        hidden = max(1, round(dim * mlp_ratio))
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.apply(init_transformer_weights)

    def attention(self, x: Tensor) -> Tensor:
        """Multi-head self-attention over all tokens, (B, T, dim) -> (B, T, dim)."""
        q, k, v = rearrange(self.qkv(x), "b t (three h d) -> three b h t d", three=3, h=self.heads)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, h, T, d)
        return self.proj(rearrange(out, "b h t d -> b t (h d)"))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TransformerEncoder(nn.Module):
    """ViT encoder over the patch tokens of ``stem``; satisfies ``TokenEncoder``."""

    supports_token_masking = True

    def __init__(self, stem: PatchStem, *, embed_dim: int, depth: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        check_same_size("embedding widths", {"embed_dim": embed_dim, "stem.embed_dim": stem.embed_dim})
        check_int_at_least("depth", depth, 1)
        self.stem = stem
        self.embed_dim = embed_dim
        self.patch_dim = stem.patch_dim
        self.cls_token = nn.Parameter(torch.zeros(embed_dim))
        nn.init.trunc_normal_(self.cls_token, std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD)
        self.blocks = nn.ModuleList(TransformerBlock(embed_dim, heads=heads, mlp_ratio=mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim)

    def num_patches(self, x_shape: tuple[int, ...]) -> int:
        return self.stem.num_patches(tuple(x_shape))

    def patchify(self, x: Tensor) -> Tensor:
        """Raw input values per patch (B, T, patch_dim), in token order (MAE targets)."""
        return self.stem.patchify(x)

    def token_grid(self, x_shape: tuple[int, ...]) -> tuple[int, int]:
        """(rows, cols) of the patch tokens of an input of shape ``x_shape``, row-major; (1, T)
        for series (JEPA's block masks)."""
        return self.stem.grid(tuple(x_shape))

    def positions(self, x: Tensor) -> Tensor:
        """Positional embeddings (T, D) of the patch grid of ``x``."""
        return self.stem.positions(x)

    def tokens(self, x: Tensor, *, replace: Tensor | None = None, mask_token: Tensor | None = None) -> Tensor:
        """Patch embeddings (replaced by ``mask_token`` (D,) where ``replace`` (B, T) is True),
        plus positions -> (B, T, D)."""
        tokens = self.stem(x)  # (B, T, D)
        if replace is not None:
            if mask_token is None:
                raise PriormatchError("mask_token is required when replace is given")
            expected = tuple(tokens.shape[:2])
            check_shape("replace", replace, expected, f"(B, T) = {expected}")
            tokens = torch.where(replace.unsqueeze(-1), mask_token.to(tokens.dtype), tokens)
        return tokens + self.stem.positions(x).to(tokens.dtype)

    @overload
    def encode(self, tokens: Tensor, *, keep: Tensor | None = ..., return_layers: Literal[False] = ...) -> Tensor: ...

    @overload
    def encode(self, tokens: Tensor, *, keep: Tensor | None = ..., return_layers: Literal[True]) -> tuple[Tensor, list[Tensor]]: ...

    def encode(self, tokens: Tensor, *, keep: Tensor | None = None, return_layers: bool = False) -> Tensor | tuple[Tensor, list[Tensor]]:
        """(B, T, D) tokens, optional kept indices (B, T_keep) -> final-normed (B, 1 + T_keep, D)
        with CLS first; ``return_layers`` adds each block's output (B, 1 + T_keep, D), un-normed."""
        b, _, d = tokens.shape
        if keep is not None:
            tokens = tokens.gather(1, keep.unsqueeze(-1).expand(-1, -1, d))  # (B, T_keep, D)
        x = torch.cat([self.cls_token.expand(b, 1, d), tokens], dim=1)  # (B, 1 + T_keep, D)
        layers: list[Tensor] = []
        for block in self.blocks:
            x = block(x)
            if return_layers:
                layers.append(x)
        out = self.norm(x)
        return (out, layers) if return_layers else out

    def forward(self, x: Tensor, *, mask_ratio: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
        """(B, C, ...) -> (B, D) CLS representation; drops ``mask_ratio`` of the patch tokens."""
        check_mask_ratio(mask_ratio)
        tokens = self.tokens(x)  # (B, T, D)
        keep = None
        if mask_ratio > 0:
            b, t, _ = tokens.shape
            keep = random_keep_indices(b, t, mask_ratio, generator, device=tokens.device)
        return self.encode(tokens, keep=keep)[:, 0]
