"""Collectives with the gradient semantics the batch-statistics objectives need.

In a single process (``torch.distributed`` not initialised, or one rank) every function here is
the identity and touches nothing distributed. With W ranks each holding N/W samples, and DDP
averaging parameter gradients over ranks, these make the objectives equal to one process with
the global batch of N samples:

* :func:`all_reduce_mean` averages a batch statistic (MSN's p_bar) over ranks with an *identity*
  backward: rank r's gradient is dL/dp_bar * dp_bar_r/dtheta, and DDP's 1/W average restores the
  exact global gradient (1/W) sum_r dL/dp_bar * dp_bar_r/dtheta.
* :func:`all_reduce_sum_` sums in place without gradient (Sinkhorn normalisers: targets carry no
  gradient anyway).
* :func:`all_gather_with_grad` concatenates every rank's rows (SimCLR negatives) and, in the
  backward, sums the incoming gradients over ranks before each rank keeps its own slice.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def world_size() -> int:
    """Number of ranks, 1 when ``torch.distributed`` is not initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def rank() -> int:
    """This process's rank, 0 when ``torch.distributed`` is not initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return 0


def is_distributed() -> bool:
    return world_size() > 1


def all_reduce_sum_(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` over ranks in place (no gradient); identity in a single process."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


class _AllReduceMean(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:
        reduced = tensor.detach().clone()
        dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
        return reduced / dist.get_world_size()

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> Tensor:
        return grad_output


def all_reduce_mean(tensor: Tensor) -> Tensor:
    """Mean of ``tensor`` over ranks, identity backward; ``tensor`` itself in a single process."""
    if not is_distributed():
        return tensor
    return _AllReduceMean.apply(tensor)


class _AllGatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:
        gathered = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, tensor.contiguous())
        ctx.rows = tensor.shape[0]
        return torch.cat(gathered, dim=0)

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> Tensor:
        grad = grad_output.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = dist.get_rank() * ctx.rows
        return grad[start : start + ctx.rows]


def all_gather_with_grad(tensor: Tensor) -> Tensor:
    """(W*B, ...) every rank's rows in rank order, differentiable; ``tensor`` in a single process.

    Requires the same number of rows on every rank.
    """
    if not is_distributed():
        return tensor
    return _AllGatherWithGrad.apply(tensor)
