"""Patch stems: the modality-specific front of a transformer encoder.

A stem cuts an input into non-overlapping patches, embeds each patch linearly (a strided conv),
returns the raw patch values (MAE targets) in the same token order, and gives positional
embeddings for the *actual* patch grid of each input.

Positions are fixed sin-cos (no parameters), computed from the integer patch index in the view
(2-D row/column for images, 1-D for series). Any grid size works without interpolation: a small
"focal" crop gets the positions of its own grid, so equal distances in pixels (time steps) give
equal position offsets in every view.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from priormatch.encoders.masking import with_observed_mask
from priormatch.errors import PriormatchError
from priormatch.validation import check_int_at_least, check_multiple_of

SINCOS_BASE = 10_000.0  # wavelength scale of the sin-cos positions (Vaswani et al., 2017)


def sincos_1d(positions: Tensor, dim: int) -> Tensor:
    """Sin-cos embedding of (N,) positions -> (N, dim); ``dim`` must be even."""
    half = dim // 2
    exponents = torch.arange(half, dtype=torch.float32, device=positions.device) / half
    angles = positions.to(torch.float32)[:, None] * SINCOS_BASE ** (-exponents)[None]  # (N, half)
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def sincos_2d(height: int, width: int, dim: int, *, device: torch.device | None = None) -> Tensor:
    """Row-major 2-D grid -> (height * width, dim): half the channels encode the row, half the
    column; ``dim`` must be divisible by 4."""
    rows = torch.arange(height, device=device).repeat_interleave(width)  # (H*W,)
    cols = torch.arange(width, device=device).repeat(height)  # (H*W,)
    return torch.cat([sincos_1d(rows, dim // 2), sincos_1d(cols, dim // 2)], dim=1)


def _init_as_linear(conv: nn.Conv1d | nn.Conv2d) -> None:
    """Xavier-uniform on the flattened (embed_dim, patch_dim) weight, zero bias: patch tokens start
    on the same scale as the sin-cos positions (as in MAE's patch embedding)."""
    nn.init.xavier_uniform_(conv.weight.view(conv.weight.shape[0], -1))
    assert conv.bias is not None  # the stems' convolutions have a bias
    nn.init.zeros_(conv.bias)


class ImagePatchStem(nn.Module):
    """Square ``patch_size`` patches of (B, C, H, W) images; H and W must be multiples of it."""

    def __init__(self, in_channels: int, *, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("patch_size", patch_size), ("embed_dim", embed_dim)):
            check_int_at_least(name, value, 1)
        check_multiple_of("embed_dim", embed_dim, 4, hint="2-D sin-cos positions split it in four")
        self.in_channels = in_channels
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.patch_dim = in_channels * patch_size * patch_size
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size)
        _init_as_linear(self.proj)

    def grid(self, x_shape: tuple[int, ...]) -> tuple[int, int]:
        """(rows, cols) of the patch grid for an input of shape (..., C, H, W); checks the sizes."""
        if len(x_shape) not in (3, 4):
            raise PriormatchError(f"image input must be (B, C, H, W) or (C, H, W), got {tuple(x_shape)}")
        c, h, w = x_shape[-3:]
        if c != self.in_channels:
            raise PriormatchError(f"image has {c} channels, the encoder has in_channels={self.in_channels}")
        p = self.patch_size
        if h % p or w % p:
            raise PriormatchError(
                f"image size {h}x{w} is not divisible by patch_size={p}; "
                f"crop/resize views to multiples of {p} (e.g. {max(p, round(h / p) * p)}x{max(p, round(w / p) * p)})"
            )
        return h // p, w // p

    def num_patches(self, x_shape: tuple[int, ...]) -> int:
        rows, cols = self.grid(tuple(x_shape))
        return rows * cols

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, T, D), T = (H / p) * (W / p), row-major."""
        self.grid(tuple(x.shape))
        return self.proj(x).flatten(2).transpose(1, 2)

    def positions(self, x: Tensor) -> Tensor:
        """(T, D) fixed 2-D sin-cos positions of the patch grid of ``x``."""
        rows, cols = self.grid(tuple(x.shape))
        return sincos_2d(rows, cols, self.embed_dim, device=x.device)

    def patchify(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, T, C * p * p) raw pixels, channel-major within a patch."""
        self.grid(tuple(x.shape))
        p = self.patch_size
        return rearrange(x, "b c (h p) (w q) -> b (h w) (c p q)", p=p, q=p)


class SeriesPatchStem(nn.Module):
    """Non-overlapping ``patch_length`` windows of (B, C, T) series with missing values.

    NaN (missing values, or the padding of shorter series) is handled explicitly: values are set
    to 0 and an observed-share channel is appended, so the patch embedding sees C + 1 channels.
    A length that is not a multiple of ``patch_length`` is padded at the end with NaN (i.e. marked
    missing), giving ``ceil(T / patch_length)`` tokens. ``patchify`` keeps NaN so that a
    reconstruction loss can skip missing values.
    """

    def __init__(self, in_channels: int, *, patch_length: int, embed_dim: int) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("patch_length", patch_length), ("embed_dim", embed_dim)):
            check_int_at_least(name, value, 1)
        check_multiple_of("embed_dim", embed_dim, 2, hint="1-D sin-cos positions split it in two")
        self.in_channels = in_channels
        self.patch_length = patch_length
        self.embed_dim = embed_dim
        self.patch_dim = in_channels * patch_length
        # + 1 input channel: the observed share (see with_observed_mask)
        self.proj = nn.Conv1d(in_channels + 1, embed_dim, kernel_size=patch_length, stride=patch_length)
        _init_as_linear(self.proj)

    def num_patches(self, x_shape: tuple[int, ...]) -> int:
        if len(x_shape) not in (2, 3):
            raise PriormatchError(f"series input must be (B, C, T) or (C, T), got {tuple(x_shape)}")
        c, t = x_shape[-2:]
        if c != self.in_channels:
            raise PriormatchError(f"series has {c} channels, the encoder has in_channels={self.in_channels}")
        if t < self.patch_length:
            raise PriormatchError(
                f"series length {t} is shorter than patch_length={self.patch_length}; use patch_length <= {t} or longer series/crops"
            )
        return math.ceil(t / self.patch_length)

    def grid(self, x_shape: tuple[int, ...]) -> tuple[int, int]:
        """(1, N): the patches of a series as a one-row grid (the image stem's (rows, cols))."""
        return 1, self.num_patches(tuple(x_shape))

    def _pad(self, x: Tensor) -> Tensor:
        """(B, C, T) -> (B, C, T_pad), NaN-padded at the end to a multiple of patch_length."""
        extra = self.num_patches(tuple(x.shape)) * self.patch_length - x.shape[-1]
        return F.pad(x, (0, extra), value=math.nan) if extra else x

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, T) -> (B, N, D), N = ceil(T / patch_length)."""
        return self.proj(with_observed_mask(self._pad(x))).transpose(1, 2)

    def positions(self, x: Tensor) -> Tensor:
        """(N, D) fixed 1-D sin-cos positions of the patches of ``x``."""
        n = self.num_patches(tuple(x.shape))
        return sincos_1d(torch.arange(n, device=x.device), self.embed_dim)

    def patchify(self, x: Tensor) -> Tensor:
        """(B, C, T) -> (B, N, C * patch_length) raw values (NaN kept), channel-major."""
        return rearrange(self._pad(x), "b c (n l) -> b n (c l)", l=self.patch_length)
