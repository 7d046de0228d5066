"""Run the planned runs, in parallel worker processes when cores allow, with visible progress.

One overall bar counts finished runs; its postfix shows each running run's step (read from its
``status.json`` / ``metrics.jsonl``, which the training loop writes as it goes), and a line is
printed as each run ends. With one worker the runs execute in this process and the training
loop's own bar shows the per-run progress. A failing run does not stop the others; the failures
are raised together at the end (their finished neighbours stay cached).

Every cached run is checked before reuse (:func:`priormatch.diagnose.cache.inspect_run`); each
broken file gets one line in the log (run, file, what is wrong, the remedy) and its run is
redone, so no breakage of the cache is permanent. When the plan is interrupted (Ctrl-C, or
SIGTERM turned into :class:`KeyboardInterrupt` by the diagnose command), the pool's workers are
terminated, not waited for: an interrupted run resumes from its last checkpoint next time.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import torch
from tqdm.auto import tqdm

from priormatch.diagnose.cache import CacheCheck, inspect_run, read_status
from priormatch.diagnose.planner import PlannedRun
from priormatch.diagnose.worker import RunOutcome, execute_run, init_worker, limit_threads
from priormatch.errors import PriormatchError
from priormatch.training.run_dir import RunDirectory

POLL_SECONDS = 1.0
STOP_GRACE_SECONDS = 5.0  # terminated workers get this long before they are killed
MAX_GPU_WORKERS = 2  # processes sharing one GPU


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    cores = usable_cores()
    return min(cores, MAX_GPU_WORKERS) if torch.cuda.is_available() else cores


def run_progress(planned: PlannedRun) -> str:
    """'step/total' of a running run, from its status file."""
    run = RunDirectory(planned.run_dir)
    status = read_status(run) or {}
    if status.get("status") != "running" or "total_steps" not in status:
        return "start"
    try:
        metrics = run.read_metrics()
    except (PriormatchError, OSError, ValueError):  # being rewritten, or broken (the worker repairs it)
        metrics = []
    step = metrics[-1]["step"] if metrics else status.get("step", 0)
    return f"{step}/{status['total_steps']}"


def _running(runs) -> list[str]:
    """'arm/condition/seed step/total' of the runs that have started (a status file exists)."""
    shown = []
    for run in runs:
        progress = run_progress(run)
        if progress != "start":
            shown.append(f"{run.cell.arm}/{run.cell.condition}/s{run.seed} {progress}")
    return shown


def execute_plan(runs: list[PlannedRun], *, workers: int, log: Callable[[str], None] = tqdm.write) -> list[RunOutcome]:
    """Bring every run to ``done``; returns one outcome per run (reused runs included)."""
    checks = check_cache(runs, log)
    todo = [run for run in runs if checks[run.key].state != "done"]
    todo_keys = {run.key for run in todo}
    outcomes = [RunOutcome(run.key, run.name, "reused", 0.0) for run in runs if run.key not in todo_keys]
    log(f"diagnose: {len(runs)} runs, {len(outcomes)} cached, {len(todo)} to run with {workers} worker(s)")
    if not todo:
        return outcomes
    threads = max(1, usable_cores() // workers)
    bar = tqdm(total=len(runs), initial=len(outcomes), desc="diagnose", unit="run", dynamic_ncols=True)
    try:
        if workers == 1:
            failures = _run_inline(todo, threads, bar, outcomes, log)
        else:
            failures = _run_pool(todo, workers, threads, bar, outcomes, log)
    finally:
        bar.close()
    if failures:
        name, message = failures[0]
        raise PriormatchError(f"{len(failures)} run(s) failed, first {name}: {message} (fix it and rerun; finished runs are reused)")
    return outcomes


def check_cache(runs: list[PlannedRun], log: Callable[[str], None]) -> dict[str, CacheCheck]:
    """Check every cached run (read-only; workers repair under the run's lock), logging one line
    per problem found."""
    checks = {}
    for run in runs:
        check = checks[run.key] = inspect_run(run)
        for problem in check.problems:
            log(f"diagnose: cache: {run.name} ({run.run_dir.name}): {problem}; {check.remedy}")
    return checks


def _finished(outcome: RunOutcome, bar: tqdm, outcomes: list[RunOutcome], log: Callable[[str], None]) -> None:
    outcomes.append(outcome)
    bar.update(1)
    log(f"  {outcome.action:<9} {outcome.name} ({outcome.seconds:.0f} s)")


def _run_inline(todo, threads, bar, outcomes, log) -> list[tuple[str, str]]:
    limit_threads(threads)
    failures = []
    for planned in todo:
        bar.set_postfix_str(planned.name)
        try:
            _finished(execute_run(planned, threads=threads, progress=True), bar, outcomes, log)
        except PriormatchError as error:
            failures.append((planned.name, str(error)))
    return failures


def _run_pool(todo, workers, threads, bar, outcomes, log) -> list[tuple[str, str]]:
    context = multiprocessing.get_context("spawn")  # fork after torch/OpenMP start-up can deadlock
    failures = []
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=init_worker, initargs=(threads, os.getpid()))
    try:
        pending: dict[Future, PlannedRun] = {pool.submit(execute_run, run, threads=threads): run for run in todo}
        while pending:
            done, _ = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                planned = pending.pop(future)
                try:
                    _finished(future.result(), bar, outcomes, log)
                except (PriormatchError, BrokenProcessPool) as error:
                    message = worker_died_message() if isinstance(error, BrokenProcessPool) else str(error)
                    failures.append((planned.name, message))
                    log(f"  FAILED    {planned.name}: {message}")
            bar.set_postfix_str(", ".join(_running(pending.values())))
    except BaseException:  # KeyboardInterrupt (SIGINT or SIGTERM) above all: stop the runs in flight
        stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return failures


def worker_died_message() -> str:
    return "its worker process died (killed, or out of memory); rerun the same command to resume it, or use fewer --workers"


def stop_workers(pool: ProcessPoolExecutor, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
    """Terminate the pool's worker processes (SIGTERM), killing those still alive after
    ``grace_seconds``. ``shutdown`` alone would wait for the runs in flight to finish."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public handle before Python 3.14
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(timeout=grace_seconds)
