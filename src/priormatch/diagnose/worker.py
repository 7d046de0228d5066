"""Bring one planned run to ``done``: train (or resume), evaluate, evaluate extra label sets.

Runs in a worker process (or inline). ``limit_threads`` caps torch *and* the BLAS/OpenMP pools
that scikit-learn's probes use: on a shared CPU an uncapped OpenBLAS pool per process spends
most of its time spinning (a 2,000-sample logistic regression took 100x longer with 2 idle-
spinning threads than with 1 under load), so each worker gets cores / workers threads.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace

import torch

from priormatch.diagnose.cache import clear_run, label_evaluation_path, run_state
from priormatch.diagnose.label_sets import evaluate_label_set
from priormatch.diagnose.planner import PlannedRun
from priormatch.evaluation.run_evaluation import evaluate_run
from priormatch.training.loop import train
from priormatch.training.run_dir import RunDirectory

_THREAD_LIMITS: list = []  # keeps the threadpoolctl limiter of this process alive

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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


def execute_run(planned: PlannedRun, *, threads: int, progress: bool = False) -> RunOutcome:
    """Whatever ``planned`` still needs; returns what was done."""
    start = time.perf_counter()
    run = RunDirectory(planned.run_dir)
    label_sets = planned.cell.label_sets
    state = run_state(run, label_sets)
    action = {"done": "reused", "evaluate": "evaluated", "resume": "resumed", "new": "trained"}[state]
    config = replace(planned.config, train=replace(planned.config.train, num_threads=threads, progress=progress))
    if state == "new":
        clear_run(run)
        train(config, run)
    elif state == "resume":
        train(config, run, resume=True)
    if state != "done":
        if not run.evaluation.is_file():
            evaluate_run(run.root, verbose=False)
        for label_set in label_sets:
            if not label_evaluation_path(run, label_set).is_file():
                evaluate_label_set(run.root, label_set)
    return RunOutcome(planned.key, planned.name, action, time.perf_counter() - start)
