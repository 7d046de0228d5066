"""One writer per run directory: an exclusive, advisory lock held for as long as a process writes.

The lock is ``fcntl.flock`` on ``<dir>/.lock``. The kernel releases a flock when its holder exits,
however it exits (``kill -9`` included), so a lock left by a dead process is never stale: the next
writer simply takes it. The file also records who holds it (pid, host, purpose, start time), so a
second writer's error names the holder. The file itself is left in place; only the flock matters.

    with run_lock(run_dir, purpose="train"):
        ...  # write checkpoint.pt, metrics.jsonl, ...
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from priormatch.errors import PriormatchError

LOCK_NAME = ".lock"


class RunLockedError(PriormatchError):
    """Another live process holds the run directory's lock."""


def lock_path(directory: Path) -> Path:
    return Path(directory) / LOCK_NAME


@contextmanager
def run_lock(directory: Path, *, purpose: str) -> Iterator[None]:
    """Hold ``directory``'s exclusive lock for the ``with`` block; :class:`RunLockedError` if taken.

    ``directory`` must exist. Re-entrant use from the same process is not supported (flock on a
    second descriptor of the same file would block against the first).
    """
    path = lock_path(directory)
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise PriormatchError(f"cannot open the lock file {path} ({error.strerror}); give a writable run directory") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(
                f"{directory} is in use by {describe_holder(path)}; wait for it to finish, or stop it, or choose another directory"
            ) from None
        _record_holder(descriptor, purpose)
        yield
    finally:
        os.close(descriptor)  # releases the flock


def _record_holder(descriptor: int, purpose: str) -> None:
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose, "started": time.time()}
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, (json.dumps(holder) + "\n").encode(), 0)


def describe_holder(path: Path) -> str:
    """``'priormatch train (pid 123 on host)'`` from a lock file, or a plain phrase if unreadable."""
    try:
        holder = json.loads(path.read_text())
        return f"priormatch {holder['purpose']} (pid {holder['pid']} on {holder['host']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another priormatch process"
