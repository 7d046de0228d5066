"""Batch normalisation with the statistics of the *global* batch, on any device and backend.

Under DDP with W ranks of N/W samples, a plain ``BatchNorm`` normalises each rank's rows with that
rank's own mean and variance, so the network computes a different function than one process with
N samples. ``torch.nn.SyncBatchNorm`` fixes that on GPUs only: in torch 2.13 its forward raises
"SyncBatchNorm expected input tensor to be on GPU" for CPU tensors, so CPU (gloo) runs use
:class:`GlobalBatchNorm` instead (GPU runs keep ``SyncBatchNorm``, see
:mod:`priormatch.training.distributed_setup`).

The per-channel sums are combined with :func:`priormatch.distributed.all_gather_with_grad`, whose
backward sums the incoming gradients over ranks. With DDP's 1/W gradient average this gives the
exact gradient of the mean of the ranks' losses, i.e. of the single-process loss. The module
keeps BatchNorm's parameter and buffer names, so checkpoints and ``encoder.pt`` load into plain
``BatchNorm`` layers; in a single process or in eval mode it *is* a plain BatchNorm.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from priormatch import distributed

PLAIN_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _global_sum(per_channel: Tensor) -> Tensor:
    """(C,) sum of ``per_channel`` over ranks; backward: the incoming gradients summed over ranks."""
    return distributed.all_gather_with_grad(per_channel.unsqueeze(0)).sum(dim=0)


class GlobalBatchNorm(_BatchNorm):
    """BatchNorm over (N, C, ...) inputs whose training statistics span every rank's rows."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"GlobalBatchNorm expects (N, C, ...) input, got {input.dim()}-D")

    def forward(self, input: Tensor) -> Tensor:
        if not (self.training and distributed.is_distributed()):
            return super().forward(input)
        self._check_input_dim(input)
        dtype = input.dtype
        input = input.float() if dtype in (torch.float16, torch.bfloat16) else input  # statistics in >= fp32
        channels = [1, -1] + [1] * (input.dim() - 2)  # broadcast (C,) over (N, C, ...)
        reduce_dims = [0, *range(2, input.dim())]
        local_count = torch.tensor(float(input.numel() // input.shape[1]), dtype=torch.float64, device=input.device)
        count_value = float(distributed.all_reduce_sum_(local_count).item())  # values per channel, all ranks
        mean = _global_sum(input.sum(dim=reduce_dims)) / count_value  # (C,)
        centred = input - mean.reshape(channels)
        variance = _global_sum(centred.square().sum(dim=reduce_dims)) / count_value  # (C,) biased, as BatchNorm
        output = centred * torch.rsqrt(variance + self.eps).reshape(channels)
        if self.affine:
            output = output * self.weight.reshape(channels) + self.bias.reshape(channels)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), variance.detach(), count_value)
        return output.to(dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, variance: Tensor, count: float) -> None:
        """BatchNorm's update with global statistics; the running variance is unbiased (count - 1)."""
        # track_running_stats is on (forward checks it), so the running buffers exist
        assert self.num_batches_tracked is not None and self.running_mean is not None and self.running_var is not None
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = variance * (count / max(count - 1.0, 1.0))
        self.running_mean.mul_(1.0 - factor).add_(mean.to(self.running_mean.dtype), alpha=factor)
        self.running_var.mul_(1.0 - factor).add_(unbiased.to(self.running_var.dtype), alpha=factor)


def _converted(norm: _BatchNorm) -> GlobalBatchNorm:
    """A GlobalBatchNorm holding ``norm``'s own parameters and buffers (the same tensor objects)."""
    global_norm = GlobalBatchNorm(
        norm.num_features, eps=norm.eps, momentum=norm.momentum, affine=norm.affine, track_running_stats=norm.track_running_stats
    )
    if norm.affine:
        global_norm.weight, global_norm.bias = norm.weight, norm.bias
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        setattr(global_norm, name, getattr(norm, name))
    global_norm.train(norm.training)
    return global_norm


def convert_to_global_batch_norm(module: nn.Module) -> nn.Module:
    """Replace, in place, every BatchNorm1d/2d/3d below ``module`` by a :class:`GlobalBatchNorm`.

    Parameters keep their identity (an optimizer built before stays valid, frozen EMA-teacher
    parameters stay frozen) and module order is kept. Returns ``module`` (a converted copy if
    ``module`` itself is a BatchNorm).
    """
    if isinstance(module, PLAIN_BATCH_NORMS):
        return _converted(module)
    for name, child in module.named_children():
        if isinstance(child, PLAIN_BATCH_NORMS):
            setattr(module, name, _converted(child))
        else:
            convert_to_global_batch_norm(child)
    return module
