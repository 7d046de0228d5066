"""A TS2Vec-style dilated residual conv net for series (Yue et al., AAAI 2022, arXiv 2106.10466).

(B, C, T) with NaN -> NaN set to 0 plus an observed-share channel (C + 1 channels) -> 1x1 input
projection -> ``depth`` residual blocks [GELU -> conv(dilation 2^i) -> GELU -> conv(dilation 2^i)]
-> max over time -> (B, embed_dim). Time steps where no channel is observed (gaps, the NaN padding
of shorter series, masked segments) are left out of the max, unless a series has none observed.
Any length works; series shorter than the receptive field are simply zero-padded by the convs.
``mask_ratio`` hides that share of length-``mask_segment`` time segments by setting them to NaN.
``timestamps`` returns the representation of every time step before the max, (B, T, embed_dim),
optionally with TS2Vec's latent timestamp mask (``methods/ts2vec.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from priormatch.encoders.masking import check_mask_ratio, mask_input_segments, with_observed_mask
from priormatch.validation import check_int_at_least, check_odd, check_shape


class DilatedResidualBlock(nn.Module):
    """(B, in, T) -> (B, out, T): x + conv2(GELU(conv1(GELU(x)))), 'same' dilated padding;
    the residual goes through a 1x1 conv when the channel count changes."""

    def __init__(self, in_channels: int, out_channels: int, *, kernel: int, dilation: int) -> None:
        super().__init__()
        padding = dilation * (kernel - 1) // 2
        self.conv1 = nn.Conv1d(in_channels, out_channels, kernel, padding=padding, dilation=dilation)
        self.conv2 = nn.Conv1d(out_channels, out_channels, kernel, padding=padding, dilation=dilation)
        self.skip = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.skip(x) + self.conv2(F.gelu(self.conv1(F.gelu(x))))


def max_over_observed(steps: Tensor, observed: Tensor) -> Tensor:
    """(B, T, E) per-step representations, (B, T) bool observed steps -> (B, E): the max over the
    observed steps (over every step of a series with none observed)."""
    pooled = observed | ~observed.any(dim=1, keepdim=True)
    return steps.masked_fill(~pooled.unsqueeze(-1), float("-inf")).amax(dim=1)


class DilatedConvNet1d(nn.Module):
    """(B, C, T) -> (B, embed_dim); block i has dilation 2^i, the last block outputs embed_dim."""

    supports_token_masking = False

    def __init__(
        self,
        in_channels: int,
        *,
        hidden: int = 64,
        depth: int = 10,
        embed_dim: int = 320,
        kernel: int = 3,
        mask_segment: int = 8,
    ) -> None:
        super().__init__()
        sizes = dict(in_channels=in_channels, hidden=hidden, depth=depth, embed_dim=embed_dim, mask_segment=mask_segment)
        for name, value in sizes.items():
            check_int_at_least(name, value, 1)
        check_odd("kernel", kernel, hint="'same' padding needs an odd kernel, e.g. 3")
        self.in_channels = in_channels
        self.embed_dim = embed_dim
        self.depth = depth
        self.kernel = kernel
        self.mask_segment = mask_segment
        self.input_proj = nn.Conv1d(in_channels + 1, hidden, 1)
        outs = [hidden] * (depth - 1) + [embed_dim]
        self.blocks = nn.Sequential(
            *(
                DilatedResidualBlock(c_in, c_out, kernel=kernel, dilation=2**i)
                for i, (c_in, c_out) in enumerate(zip([hidden] + outs[:-1], outs))
            )
        )

    @property
    def receptive_field(self) -> int:
        """Time steps seen by one output step: 1 + 2 (kernel - 1) (2^depth - 1)."""
        return 1 + 2 * (self.kernel - 1) * (2**self.depth - 1)

    def forward(self, x: Tensor, *, mask_ratio: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
        """(B, C, T) -> (B, embed_dim); ``mask_ratio`` marks that share of segments missing."""
        check_mask_ratio(mask_ratio)
        self._check_series(x)
        x = mask_input_segments(x, mask_ratio, self.mask_segment, generator)
        z = with_observed_mask(x)  # (B, C + 1, T)
        return max_over_observed(self._hidden(z).transpose(1, 2), z[:, -1] > 0)

    def timestamps(self, x: Tensor, *, keep: Tensor | None = None) -> Tensor:
        """(B, C, T) -> (B, T, embed_dim): one representation per time step, no pooling (TS2Vec's
        r_{i,t}, Yue et al. 2022, sec. 3.1). ``keep`` (B, T) bool zeroes the latent vectors after
        the input projection where False (TS2Vec's timestamp masking); None keeps every step."""
        self._check_series(x)
        if keep is not None:
            expected = (x.shape[0], x.shape[2])
            check_shape("keep", keep, expected, f"(B, T) = {expected}")
        return self._hidden(with_observed_mask(x), keep).transpose(1, 2)

    def _hidden(self, z: Tensor, keep: Tensor | None = None) -> Tensor:
        """(B, C + 1, T) values and observed share -> (B, E, T): projection, optional latent mask, blocks."""
        h = self.input_proj(z)  # (B, hidden, T)
        if keep is not None:
            h = h * keep.unsqueeze(1).to(h.dtype)
        return self.blocks(h)

    def _check_series(self, x: Tensor) -> None:
        check_shape("x", x, (None, self.in_channels, None), f"series (B, {self.in_channels}, T)")
