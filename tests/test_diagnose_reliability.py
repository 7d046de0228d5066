"""The diagnose cache heals, one writer per cache entry, workers die with their parent.

A tiny diagnose (two 2-step runs on 8x8 digits) is run once; each healing test copies its
finished cache, breaks one file, reruns and checks the note, the redone work and the report.
The end-to-end tests that stop a real diagnose with 2 workers (SIGKILL, SIGTERM, SIGINT) are
marked slow; a fast one checks the watchdog that makes a worker exit with its parent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from priormatch.cli import main
from priormatch.diagnose.cache import inspect_run
from priormatch.diagnose.config import load_diagnose_config
from priormatch.diagnose.planner import PlannedRun, make_plan
from priormatch.diagnose.worker import execute_run
from priormatch.training.run_dir import RunDirectory
from priormatch.training.run_lock import RunLockedError, run_lock

TINY = [
    "experiments=[prior_matching]",
    "prior_matching.taus=[1.0]",
    "prior_matching.imbalance_ratios=[1.0]",
    "seeds=1",
    "base.train.steps=2",
    "base.data.subset_size=200",
    "base.eval.probe_samples_per_class=10",
    "figures.analysis_images=50",
]


def diagnose_args(out: Path, *extra: str, workers: int = 1) -> list[str]:
    return ["diagnose", "--preset", "smoke", "--out", str(out), "--workers", str(workers), *TINY, *extra]


def planned_runs(out: Path) -> list[PlannedRun]:
    return make_plan(load_diagnose_config("smoke", TINY), out).unique_runs()


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished tiny diagnose (its output directory); tests work on copies of it."""
    out = tmp_path_factory.mktemp("finished")
    assert main(diagnose_args(out)) == 0
    return out


@pytest.fixture
def cache_copy(finished, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    return out


def msn_run(out: Path) -> RunDirectory:
    return RunDirectory(next(run.run_dir for run in planned_runs(out) if run.cell.method == "msn"))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def malformed_evaluation(run: RunDirectory) -> None:
    run.evaluation.write_text('{"probes": {"linear": ')


def truncated_encoder(run: RunDirectory) -> None:
    truncate(run.encoder)


def truncated_checkpoint_of_an_incomplete_run(run: RunDirectory) -> None:
    run.mark("running", step=1, total_steps=2)
    run.encoder.unlink()
    run.evaluation.unlink()
    truncate(run.checkpoint)


def deleted_checkpoint_of_a_complete_run(run: RunDirectory) -> None:
    run.checkpoint.unlink()  # what the old "delete it and re-train" advice led to


def garbage_status(run: RunDirectory) -> None:
    run.status_file.write_bytes(b"\x00\xffnot json")


def config_of_another_run(run: RunDirectory) -> None:
    other = next(p for p in run.root.parent.iterdir() if p != run.root)
    shutil.copyfile(other / "config.yaml", run.config)


BREAKAGES: list[tuple[Callable[[RunDirectory], None], str, str]] = [
    (malformed_evaluation, "eval.json is not valid JSON; evaluating it again", "evaluated"),
    (truncated_encoder, "encoder.pt is truncated or unreadable; training it again from scratch", "trained"),
    (truncated_checkpoint_of_an_incomplete_run, "checkpoint.pt is truncated or unreadable; training it again", "trained"),
    (deleted_checkpoint_of_a_complete_run, "checkpoint.pt is missing; training it again from scratch", "trained"),
    (garbage_status, "status.json is unreadable or not a priormatch status; training it again", "trained"),
    (config_of_another_run, "config.yaml holds another run's config", "trained"),
]


@pytest.mark.parametrize("breakage, note, action", BREAKAGES, ids=[b[0].__name__ for b in BREAKAGES])
def test_a_rerun_heals_a_broken_cache_entry(cache_copy, capsys, breakage, note, action):
    run = msn_run(cache_copy)
    breakage(run)
    capsys.readouterr()
    assert main(diagnose_args(cache_copy)) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if line.startswith("diagnose: cache:")]
    assert len(notes) == 1 and note in notes[0] and run.root.name in notes[0] and "prior_matching/msn/" in notes[0]
    assert f"{action:<9} prior_matching/msn/" in out
    summary = json.loads((cache_copy / "summary.json").read_text())
    assert summary["runs"] == 2 and summary["trained_now"] == 1
    assert all(inspect_run(planned).state == "done" and not inspect_run(planned).problems for planned in planned_runs(cache_copy))
    assert "Prior matching" in (cache_copy / "report.html").read_text()


def test_only_the_evaluation_is_redone_when_only_it_is_broken(cache_copy):
    run = msn_run(cache_copy)
    checkpoint_time = run.checkpoint.stat().st_mtime_ns
    json_without_probes = {key: value for key, value in json.loads(run.evaluation.read_text()).items() if key != "probes"}
    run.evaluation.write_text(json.dumps(json_without_probes))
    assert main(diagnose_args(cache_copy)) == 0
    assert run.checkpoint.stat().st_mtime_ns == checkpoint_time
    assert "probes" in json.loads(run.evaluation.read_text())


def test_extra_label_set_evaluations_are_checked(cache_copy):
    planned = next(run for run in planned_runs(cache_copy) if run.cell.method == "msn")
    planned = replace(planned, cell=replace(planned.cell, label_sets=("digit",)))
    path = planned.run_dir / "eval_digit.json"
    check = inspect_run(planned)
    assert (check.state, check.problems) == ("evaluate", ())  # missing: evaluated, nothing to report
    path.write_text(json.dumps({**json.loads((planned.run_dir / "eval.json").read_text()), "label_set": "digit"}))
    assert inspect_run(planned).state == "done"
    path.write_text("[1, 2")
    check = inspect_run(planned)
    assert check.state == "evaluate" and check.stale == (path,) and "eval_digit.json is not valid JSON" in check.problems[0]


def test_a_second_diagnose_into_the_same_directory_fails_naming_the_first(cache_copy, capsys):
    with run_lock(cache_copy, purpose="diagnose"):  # as a diagnose in progress holds it
        assert main(diagnose_args(cache_copy)) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert f"in use by priormatch diagnose (pid {os.getpid()}" in error and str(cache_copy) in error


def test_a_worker_does_not_write_a_run_directory_another_process_holds(cache_copy):
    planned = planned_runs(cache_copy)[0]
    run = RunDirectory(planned.run_dir)
    run.evaluation.unlink()
    with run_lock(run.root, purpose="train"):
        with pytest.raises(RunLockedError, match="in use by priormatch train"):
            execute_run(planned, threads=1)
    assert not run.evaluation.exists()


# --- stopping diagnose: its workers stop with it -------------------------------------------------

LONG_RUNS = ["base.train.steps=100000"]  # the runs are still training when the test stops diagnose


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state letter) of every process, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        table[int(entry.name)] = (int(fields[1]), fields[0])
    return table


def worker_pids(parent: int) -> list[int]:
    """The live multiprocessing workers (spawned children) of ``parent``."""
    found = []
    for pid, (ppid, state) in process_table().items():
        if ppid == parent and state != "Z":
            try:
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
            except OSError:
                continue
    return found


def alive(pids: list[int]) -> list[int]:
    table = process_table()
    return [pid for pid in pids if pid in table and table[pid][1] != "Z"]


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def training_started(out: Path) -> bool:
    return any((out / "runs").glob("*/status.json"))


def start_diagnose(out: Path) -> tuple[subprocess.Popen, list[int]]:
    """A diagnose with 2 workers in a subprocess, once both workers train; returns it and them."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "priormatch", *diagnose_args(out, *LONG_RUNS, workers=2)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environment,
        text=True,
    )
    started = wait_for(lambda: len(worker_pids(process.pid)) == 2 and training_started(out), 90)
    workers = worker_pids(process.pid)
    if not started:
        stop_processes([process.pid, *workers])
        pytest.fail(f"diagnose did not start 2 training workers: {process.stderr.read() if process.poll() is not None else ''}")
    return process, workers


def stop_processes(pids: list[int]) -> None:
    """Clean-up: SIGKILL the processes this test started that are still alive."""
    for pid in alive(pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="lists processes through /proc (Linux)")


WATCHED_CHILD = """
import os, sys, time
from priormatch.diagnose.worker import exit_with_parent
exit_with_parent(int(sys.argv[1]), poll_seconds=0.1)
print(os.getpid(), flush=True)
time.sleep(60)
"""
PARENT = "import os, subprocess, sys, time; subprocess.Popen([sys.executable, '-c', sys.argv[1], str(os.getpid())]); time.sleep(60)"


@needs_proc
def test_a_watched_process_exits_soon_after_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT, WATCHED_CHILD], stdout=subprocess.PIPE, text=True)
    child = None
    try:
        child = int(parent.stdout.readline())  # the child shares the parent's stdout
        assert alive([child])
        parent.kill()
        parent.wait(timeout=10)
        assert wait_for(lambda: not alive([child]), 3), "the watched child outlived its killed parent"
    finally:
        stop_processes([parent.pid] + ([child] if child else []))


@pytest.mark.slow  # about 20 s on 2 busy cores: a diagnose and its 2 workers start
@needs_proc
def test_workers_exit_when_diagnose_is_killed(tmp_path):
    process, workers = start_diagnose(tmp_path / "out")
    try:
        process.kill()  # SIGKILL: diagnose cannot clean up
        process.wait(timeout=10)
        assert wait_for(lambda: not alive(workers), 5), f"workers {alive(workers)} outlived their killed parent"
    finally:
        stop_processes([process.pid, *workers])


@pytest.mark.slow  # about 20 s each on 2 busy cores
@needs_proc
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_diagnose_stops_its_workers_and_says_how_to_resume(tmp_path, number):
    process, workers = start_diagnose(tmp_path / "out")
    try:
        process.send_signal(number)
        assert process.wait(timeout=20) == 128 + number
        assert not alive(workers)
        last = process.stderr.read().strip().splitlines()[-1]
        assert last.startswith(f"priormatch: diagnose stopped by {number.name}; run `priormatch diagnose ") and "again to resume" in last
    finally:
        stop_processes([process.pid, *workers])


@pytest.mark.skipif(
    not __import__("priormatch.data.fashion_mnist", fromlist=["x"]).is_available(),
    reason="the overlay toy needs Fashion-MNIST (apt-get install dataset-fashion-mnist)",
)
def test_fresh_evaluations_hold_every_key_the_cache_checks(tmp_path, tiny_config):
    """What evaluate and the label-set evaluation write is what the cache requires, so a rerun reuses
    them (a key missing from one writer would re-evaluate that run on every rerun)."""
    from priormatch.diagnose.cache import EVALUATION_KEYS, label_evaluation_path
    from priormatch.diagnose.label_sets import evaluate_label_set
    from priormatch.evaluation.run_evaluation import evaluate_run

    out = tmp_path / "run"
    overrides = [
        "data.name=overlay",
        "data.subset_size=200",
        "encoder.patch_size=7",
        "image_views.focal_size=14",
        "train.steps=2",
        "eval.probes=[knn]",
        "eval.probe_samples_per_class=10",
    ]
    assert main(["train", "--config", str(tiny_config("msn")), *overrides, "--out", str(out)]) == 0
    records = [evaluate_run(out, verbose=False), evaluate_label_set(out, "digit")]
    assert label_evaluation_path(RunDirectory(out), "digit").is_file()
    for record in records:
        assert set(EVALUATION_KEYS) <= set(record), set(EVALUATION_KEYS) - set(record)
