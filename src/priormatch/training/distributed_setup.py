"""Running the training loop under PyTorch DDP: process group, model wrapping, rank-0 duties.

Launch: ``torchrun`` (one node or several) sets RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and
MASTER_PORT; :func:`process_group_from_env` joins that group (gloo on CPU, NCCL on GPU).
``priormatch train --nproc N`` uses :func:`launch_local`, which starts N local processes with the
same environment, so both paths run the same code. With one process everything here is a no-op.

What makes W ranks train like one process with the global batch (see docs/distributed.md):
the samplers hand each rank its slice of the same global batch; the objectives' batch statistics
go through :mod:`priormatch.distributed`; BatchNorm statistics are global
(:func:`wrap_for_ddp`); DDP averages the parameter gradients.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from priormatch import distributed
from priormatch.encoders.conv2d import ConvNet2d
from priormatch.errors import PriormatchError
from priormatch.training.global_batch_norm import convert_to_global_batch_norm

T = TypeVar("T")
TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
ERROR_PREFIX = "priormatch.errors.PriormatchError: "


def launched_world_size() -> int:
    """WORLD_SIZE set by torchrun (or --nproc) in the environment; 1 when not launched that way."""
    value = os.environ.get("WORLD_SIZE", "1")
    if not value.isdigit() or int(value) < 1:
        raise PriormatchError(f"environment variable WORLD_SIZE={value!r} must be a positive integer; launch with torchrun")
    return int(value)


def launched_rank() -> int:
    """RANK set by torchrun (or --nproc); 0 when not launched that way."""
    value = os.environ.get("RANK", "0")
    if not value.isdigit():
        raise PriormatchError(f"environment variable RANK={value!r} must be a non-negative integer; launch with torchrun")
    return int(value)


def backend_for(device: torch.device) -> str:
    """NCCL for CUDA devices, gloo otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


@contextmanager
def process_group_from_env(device: torch.device, *, timeout: timedelta | None = None) -> Iterator[None]:
    """Join the process group that the torchrun environment describes, and leave it on exit.

    A no-op for one process, or when the caller already initialised ``torch.distributed``. On
    CUDA, each process first selects GPU ``LOCAL_RANK``.
    """
    if launched_world_size() == 1 or dist.is_initialized():
        yield
        return
    missing = [name for name in TORCHRUN_VARIABLES if name not in os.environ]
    if missing:
        raise PriormatchError(f"WORLD_SIZE is set but {', '.join(missing)} is not; launch with torchrun or --nproc")
    if device.type == "cuda":
        local_rank = int(os.environ["LOCAL_RANK"])
        if local_rank >= torch.cuda.device_count():
            raise PriormatchError(
                f"LOCAL_RANK={local_rank} but this node has {torch.cuda.device_count()} CUDA device(s); "
                "start at most one process per GPU, or set train.device=cpu"
            )
        torch.cuda.set_device(local_rank)
    options: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    dist.init_process_group(backend=backend_for(device), init_method="env://", **options)
    try:
        yield
    except BaseException:
        dist.destroy_process_group()  # no barrier: the other ranks may never reach it
        raise
    leave_process_group()


def leave_process_group() -> None:
    """Wait for every rank, then destroy the process group. Without the barrier a rank that
    leaves first can tear down gloo's connections while a peer still uses them: a rank of the
    2-process DDP test then died in teardown ("terminate called without an active exception",
    SIGABRT) after both had saved complete results, on a loaded machine."""
    dist.barrier()
    dist.destroy_process_group()


def wrap_for_ddp(method: nn.Module, device: torch.device) -> nn.Module:
    """``method`` itself in one process; else ``method`` with global BatchNorm statistics, in DDP.

    BatchNorm layers become ``SyncBatchNorm`` on CUDA and :class:`GlobalBatchNorm` elsewhere (in
    place: ``method`` keeps its parameters, so an optimizer built on it stays valid). DDP runs
    without ``find_unused_parameters``: every trainable parameter of a method gets a gradient
    each step (tests/test_method_contract.py), and EMA teachers are frozen, so DDP ignores them.
    Call the method's own functions (``update_teacher``, ``state_dict``) on ``method``, not on
    the wrapper. CNN encoders switch to contiguous memory (their default is channels_last), the
    layout the DDP equivalence test was first run with: a distributed run is about equivalence
    before speed (a rank abort once blamed on channels_last was gloo's teardown,
    :func:`leave_process_group`; docs/benchmarks.md section 3).
    """
    if not distributed.is_distributed():
        return method
    for module in method.modules():
        if isinstance(module, ConvNet2d):
            module.set_memory_format(torch.contiguous_format)
    if device.type == "cuda":
        converted = nn.SyncBatchNorm.convert_sync_batchnorm(method)
        return DistributedDataParallel(converted, device_ids=[torch.cuda.current_device()])
    return DistributedDataParallel(convert_to_global_batch_norm(method))


def average_over_ranks(metrics: dict[str, float], device: torch.device) -> dict[str, float]:
    """Each metric averaged over ranks (every rank must call this at the same step).

    For the loss and its parts this is the global-batch value; counts such as
    ``prototypes_in_use`` become the mean of the ranks' local counts.
    """
    if not distributed.is_distributed() or not metrics:
        return metrics
    values = torch.tensor(list(metrics.values()), dtype=torch.float64, device=device)
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return dict(zip(metrics, (values / distributed.world_size()).tolist(), strict=True))


def on_rank_zero(action: Callable[[], T]) -> T:
    """``action()`` run on rank 0 only; its result, or its PriormatchError, reaches every rank."""
    if not distributed.is_distributed():
        return action()
    outcome: list[Any] = [None]
    if distributed.rank() == 0:
        try:
            outcome[0] = ("result", action())
        except PriormatchError as error:
            outcome[0] = ("error", str(error))
    dist.broadcast_object_list(outcome, src=0)
    kind, value = outcome[0]
    if kind == "error":
        raise PriormatchError(value)
    return value


def barrier() -> None:
    """Wait for every rank; a no-op in one process."""
    if distributed.is_distributed():
        dist.barrier()


def free_port() -> int:
    """A TCP port on localhost that was free a moment ago (for the local rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def launch_local(nproc: int, worker: Callable[..., None], *args: Any) -> None:
    """Run ``worker(*args)`` in ``nproc`` new local processes, each with a torchrun environment.

    ``worker`` must be a module-level function (it is pickled). When a process fails, the others
    are stopped and its error becomes one PriormatchError here.
    """
    if nproc < 1:
        raise PriormatchError(f"--nproc={nproc} must be >= 1")
    try:
        mp.spawn(_spawned, args=(nproc, free_port(), worker, args), nprocs=nproc, join=True)
    except mp.ProcessRaisedException as error:
        raise PriormatchError(f"rank {error.error_index} failed: {_last_line(str(error))}") from None
    except mp.ProcessExitedException as error:
        raise PriormatchError(
            f"rank {error.error_index} exited with code {error.exit_code} ({error.signal_name or 'no signal'}); see the messages above"
        ) from None


def _spawned(local_rank: int, nproc: int, port: int, worker: Callable[..., None], args: tuple[Any, ...]) -> None:
    """Entry point of one process started by :func:`launch_local`."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(local_rank),
        LOCAL_RANK=str(local_rank),
        WORLD_SIZE=str(nproc),
        LOCAL_WORLD_SIZE=str(nproc),
    )
    if "OMP_NUM_THREADS" not in os.environ:  # as torchrun: do not oversubscribe the cores
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // nproc))
    worker(*args)


def _last_line(traceback_text: str) -> str:
    """The exception line of a child's traceback, without the PriormatchError class name."""
    lines = [line for line in traceback_text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else traceback_text
    return last.removeprefix(ERROR_PREFIX)
