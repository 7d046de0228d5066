"""A small CNN for small images (28x28, CPU-friendly): conv3x3-BN-ReLU layers, global avg pool.

With the defaults a 28x28 input goes 28 -> 28 -> 14 -> 7 -> 4 spatially. It has no
tokens, so ``mask_ratio`` blanks (sets to 0) that share of the ``mask_patch`` x ``mask_patch``
input cells instead of dropping tokens (see :func:`~priormatch.encoders.masking.mask_input_patches`).

By default (``channels_last=True``) weights and activations are kept in ``torch.channels_last``
memory: on the CPU the oneDNN convolutions then run a training step in 0.80-0.90 of the time of
contiguous memory, under bf16 autocast as in fp32 (``benchmarks/train_step_throughput.py``,
docs/benchmarks.md section 3). Inputs may come in either layout; the output is the same up to float
rounding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from priormatch.encoders.masking import check_mask_ratio, mask_input_patches
from priormatch.errors import PriormatchError
from priormatch.validation import check_int_at_least, check_int_between, check_length, check_shape

MIN_SIZE = 8  # smallest accepted height/width


def conv_bn_relu(in_channels: int, out_channels: int, *, stride: int) -> nn.Sequential:
    """3x3 conv (no bias: BN follows) -> BatchNorm -> ReLU; halves H, W when stride is 2."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class ConvNet2d(nn.Module):
    """(B, C, H, W) -> (B, embed_dim); layer i has ``(*widths, embed_dim)[i]`` channels and
    ``strides[i]`` stride, so there are ``len(widths) + 1`` conv layers."""

    supports_token_masking = False

    def __init__(
        self,
        in_channels: int,
        *,
        widths: tuple[int, ...] = (32, 64, 128),
        strides: tuple[int, ...] = (1, 2, 2, 2),
        embed_dim: int = 256,
        mask_patch: int = 4,
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        for name, value in dict(in_channels=in_channels, embed_dim=embed_dim, mask_patch=mask_patch).items():
            check_int_at_least(name, value, 1)
        for index, width in enumerate(widths):
            check_int_at_least(f"widths[{index}]", width, 1)
        check_length("strides", strides, len(widths) + 1, hint="one stride per layer: len(widths) + 1")
        for index, stride in enumerate(strides):
            check_int_between(f"strides[{index}]", stride, 1, 2)
        self.in_channels = in_channels
        self.embed_dim = embed_dim
        self.mask_patch = mask_patch
        channels = (in_channels, *widths, embed_dim)
        pairs = zip(channels[:-1], channels[1:], strides)
        self.layers = nn.Sequential(*(conv_bn_relu(c_in, c_out, stride=s) for c_in, c_out, s in pairs))
        self.set_memory_format(torch.channels_last if channels_last else torch.contiguous_format)

    def set_memory_format(self, memory_format: torch.memory_format) -> None:
        """Hold weights (in place: optimizers stay valid) and compute activations in ``memory_format``."""
        self.memory_format = memory_format
        self.layers.to(memory_format=memory_format)  # type: ignore[call-overload]  # documented; missing from the stubs

    def _check_input(self, x: Tensor) -> None:
        check_shape("x", x, (None, self.in_channels, None, None), f"images (B, {self.in_channels}, H, W)")
        if min(x.shape[-2:]) < MIN_SIZE:
            h, w = x.shape[-2:]
            raise PriormatchError(f"image size {h}x{w} is too small; use views of at least {MIN_SIZE}x{MIN_SIZE}")

    def forward(self, x: Tensor, *, mask_ratio: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
        """(B, C, H, W) -> (B, embed_dim); ``mask_ratio`` zeroes that share of input cells."""
        check_mask_ratio(mask_ratio)
        self._check_input(x)
        x = mask_input_patches(x, mask_ratio, self.mask_patch, generator)
        return self.layers(x.contiguous(memory_format=self.memory_format)).mean(dim=(2, 3))
