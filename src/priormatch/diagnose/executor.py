"""Run the planned runs, in parallel worker processes when cores allow, with visible progress.

One overall bar counts finished runs; its postfix shows each running run's step (read from its
``status.json`` / ``metrics.jsonl``, which the training loop writes as it goes), and a line is
printed as each run ends. With one worker the runs execute in this process and the training
loop's own bar shows the per-run progress. A failing run does not stop the others; the failures
are raised together at the end (their finished neighbours stay cached).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Callable

import torch
from tqdm.auto import tqdm

from priormatch.diagnose.cache import run_state
from priormatch.diagnose.planner import PlannedRun
from priormatch.diagnose.worker import RunOutcome, execute_run, limit_threads
from priormatch.errors import PriormatchError
from priormatch.training.run_dir import RunDirectory

POLL_SECONDS = 1.0
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
    status = run.status()
    if status.get("status") != "running" or "total_steps" not in status:
        return "start"
    metrics = run.read_metrics()
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


def execute_plan(
    runs: list[PlannedRun], *, workers: int, log: Callable[[str], None] = tqdm.write
) -> list[RunOutcome]:
    """Bring every run to ``done``; returns one outcome per run (reused runs included)."""
    todo = [run for run in runs if run_state(RunDirectory(run.run_dir), run.cell.label_sets) != "done"]
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
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=limit_threads, initargs=(threads,)) as pool:
        pending: dict[Future, PlannedRun] = {pool.submit(execute_run, run, threads=threads): run for run in todo}
        try:
            while pending:
                done, _ = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in done:
                    planned = pending.pop(future)
                    try:
                        _finished(future.result(), bar, outcomes, log)
                    except PriormatchError as error:
                        failures.append((planned.name, str(error)))
                        log(f"  FAILED    {planned.name}: {error}")
                bar.set_postfix_str(", ".join(_running(pending.values())))
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return failures
