"""Bring one planned run to ``done``: train (or resume), evaluate, evaluate extra label sets.

Runs in a worker process (or inline). ``limit_threads`` caps torch *and* the BLAS/OpenMP pools
that scikit-learn's probes use: on a shared CPU an uncapped OpenBLAS pool per process spends
most of its time spinning (a 2,000-sample logistic regression took 100x longer with 2 idle-
spinning threads than with 1 under load), so each worker gets cores / workers threads.

One writer per cache entry: :func:`execute_run` holds the run directory's lock
(:func:`priormatch.training.run_lock.run_lock`) from the cache check to the last evaluation
file, so a ``priormatch train --resume`` or ``evaluate`` of the same directory, or a stray
worker, cannot interleave its writes with ours; a held lock is a one-line error naming its
holder. The functions called under it (``train``, ``evaluate_run``, ``evaluate_label_set``) do
not take the lock themselves (their CLI commands do), so the lock is never taken twice here.

A pool worker dies with the diagnose process (:func:`exit_with_parent`) and ignores SIGINT: a
Ctrl-C in the terminal reaches the whole process group, and the diagnose process alone decides
how its workers stop.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from tqdm import tqdm  # the base class: its lock is shared by tqdm.auto and the training loop

from priormatch.diagnose.cache import RunState, evaluation_files, inspect_run, repair_run
from priormatch.diagnose.label_sets import evaluate_label_set
from priormatch.diagnose.planner import PlannedRun
from priormatch.evaluation.run_evaluation import evaluate_run
from priormatch.training.checkpoint import write_json_atomic
from priormatch.training.loop import train
from priormatch.training.run_dir import RunDirectory
from priormatch.training.run_lock import run_lock

_THREAD_LIMITS: list = []  # keeps the threadpoolctl limiter of this process alive

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

PARENT_POLL_SECONDS = 0.5  # how often a worker checks that the diagnose process still lives
PARENT_GONE_EXIT = 1  # a worker's exit status when it stopped because its parent died

ACTIONS: dict[RunState, str] = {"done": "reused", "evaluate": "evaluated", "resume": "resumed", "new": "trained"}


@dataclass(frozen=True)
class RunOutcome:
    key: str
    name: str
    action: str  # "reused", "evaluated", "resumed", "trained"
    seconds: float


def limit_threads(threads: int) -> None:
    """Cap this process's torch, OpenMP and BLAS thread pools at ``threads``."""
    from threadpoolctl import threadpool_limits

    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    torch.set_num_threads(threads)
    _THREAD_LIMITS.append(threadpool_limits(limits=threads))


def init_worker(threads: int, parent_pid: int) -> None:
    """Initializer of a pool worker: thread caps, SIGINT ignored, exit when the parent dies.

    tqdm's lock becomes a thread lock: its default multiprocessing lock is a named semaphore
    that a terminated worker cannot release, and the resource tracker would then warn about it
    after the diagnose command's last line (the training bars are off in workers anyway).
    """
    limit_threads(threads)
    tqdm.set_lock(threading.RLock())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent(parent_pid)


def parent_is_gone(parent_pid: int) -> bool:
    """Whether the process that started this one (pid ``parent_pid``) has died: on POSIX an
    orphan is re-parented at once (to init or a subreaper), so ``os.getppid()`` changes."""
    return os.getppid() != parent_pid


def exit_with_parent(parent_pid: int, poll_seconds: float = PARENT_POLL_SECONDS) -> threading.Thread:
    """Start a daemon thread that ends this process (``os._exit``) soon after its parent dies.

    Why a watchdog thread: ``kill -9`` of the diagnose process gives it no chance to stop its
    workers, and an orphaned worker would go on training and writing into the cache. The thread
    checks every ``poll_seconds`` whether this process was re-parented (``os.getppid()`` is no
    longer ``parent_pid``), which happens however the parent dies, on any POSIX system, also when
    it died before the check started (``parent_pid`` is passed in, not read here). It cannot
    misfire on a live parent. ``prctl(PR_SET_PDEATHSIG)`` was not used: it is Linux-only and
    fires when the parent *thread* that spawned the worker exits, which would kill healthy
    workers of a pool started from a short-lived thread. The exit skips clean-up, like a kill:
    checkpoints and status files are written atomically and the kernel releases the run lock,
    so the next diagnose resumes the run. Caveat: the thread needs the GIL, which torch, NumPy
    and BLAS release in their long computations.
    """

    def watch() -> None:
        while not parent_is_gone(parent_pid):
            time.sleep(poll_seconds)
        os._exit(PARENT_GONE_EXIT)

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread


def execute_run(planned: PlannedRun, *, threads: int, progress: bool = False) -> RunOutcome:
    """Whatever ``planned`` still needs, holding its run directory's lock; returns what was done.

    The cache entry is checked again under the lock (:func:`priormatch.diagnose.cache.inspect_run`)
    and a broken one repaired before use, so what another process left behind is never trusted.
    """
    start = time.perf_counter()
    run = RunDirectory(planned.run_dir)
    run.root.mkdir(parents=True, exist_ok=True)
    with run_lock(run.root, purpose="diagnose"):
        check = inspect_run(planned)
        repair_run(run, check)
        bring_to_done(planned, run, check.state, threads=threads, progress=progress)
    return RunOutcome(planned.key, planned.name, ACTIONS[check.state], time.perf_counter() - start)


def bring_to_done(planned: PlannedRun, run: RunDirectory, state: RunState, *, threads: int, progress: bool) -> None:
    """Train or resume when ``state`` needs it, then write every evaluation file that is missing
    (all of them after training: an evaluation of earlier weights is stale)."""
    config = replace(planned.config, train=replace(planned.config.train, num_threads=threads, progress=progress))
    trained = state in ("new", "resume")
    if trained:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train(config, run, resume=state == "resume")
        record_warnings(run, [str(w.message) for w in caught])
    for label_set, path in evaluation_files(run, planned.cell.label_sets).items():
        if trained or not path.is_file():
            if label_set:
                evaluate_label_set(run.root, label_set)
            else:
                evaluate_run(run.root, verbose=False)


def warnings_path(run: RunDirectory) -> Path:
    """``<run>/warnings.json``: the warnings its training raised (e.g. an EMA momentum too slow for
    the run's length), shown in the diagnose report."""
    return run.root / "warnings.json"


def record_warnings(run: RunDirectory, messages: list[str]) -> None:
    write_json_atomic(list(dict.fromkeys(messages)), warnings_path(run))


def recorded_warnings(run: RunDirectory) -> list[str]:
    """The warnings a run's training recorded; [] when none were (or the file is unreadable)."""
    try:
        messages = json.loads(warnings_path(run).read_text())
    except (OSError, ValueError):
        return []
    return [str(m) for m in messages] if isinstance(messages, list) else []
