"""Stopping training on a signal at a step boundary, so that ``--resume`` continues exactly.

``stop_on_signals`` turns SIGINT / SIGTERM into a :class:`StopRequest` that
:func:`priormatch.training.loop.train` checks before every step (agreed by all ranks under DDP
through :func:`requested_stop`); the loop then checkpoints the boundary and raises
:class:`TrainingInterrupted`, whose ``exit_status`` is what a shell reports for that signal.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from priormatch import distributed
from priormatch.training.run_dir import RunDirectory


@dataclass
class StopRequest:
    """Set (by a signal handler) to ask a running :func:`train` to stop at the next step boundary."""

    signal_number: int | None = None


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on a signal at a step boundary, after writing a resumable checkpoint."""

    def __init__(self, signal_number: int, run: RunDirectory, step: int) -> None:
        self.signal_number, self.run, self.step = signal_number, run, step
        super().__init__(f"{signal.Signals(signal_number).name} at step {step}")

    @property
    def exit_status(self) -> int:
        """128 + the signal number, as a shell reports a process ended by that signal."""
        return 128 + self.signal_number


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals(*, repeat_forces: bool = True) -> Iterator[StopRequest]:
    """While open, SIGINT and SIGTERM only set the yielded :class:`StopRequest` (pass it to
    :func:`train`); with ``repeat_forces`` a second signal raises KeyboardInterrupt at once.
    Previous handlers are restored on exit. Outside the main thread nothing is installed."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handle(number: int, frame: Any) -> None:
        if request.signal_number is not None and repeat_forces:
            raise KeyboardInterrupt
        request.signal_number = request.signal_number or number

    with handling_stop_signals(handle):
        yield request


@contextlib.contextmanager
def handling_stop_signals(handler: Any) -> Iterator[None]:
    """``handler`` for SIGINT and SIGTERM while open; the previous handlers are restored on exit."""
    previous = {number: signal.signal(number, handler) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def requested_stop(stop: StopRequest | None, device: torch.device) -> int | None:
    """The signal that asked to stop, agreed by every rank (a collective under DDP), or None."""
    if stop is None:
        return None
    local = stop.signal_number or 0
    if distributed.is_distributed():
        agreed = torch.tensor([local], dtype=torch.int64, device=device)
        torch.distributed.all_reduce(agreed, op=torch.distributed.ReduceOp.MAX)
        local = int(agreed.item())
    return local or None
