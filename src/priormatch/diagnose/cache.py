"""What a planned run still needs: its run directory is the cache entry, checked before reuse.

A run directory (named by the config hash, :func:`priormatch.diagnose.planner.run_key`) moves
through ``new -> resume -> evaluate -> done``: finished runs (status complete plus every
evaluation file) are reused as they are; a complete run lacking an evaluation is only evaluated;
an interrupted run continues from its checkpoint (exact resume, see the training loop); anything
else starts afresh.

:func:`run_state` reads only which files exist. :func:`inspect_run` also checks that they are
intact and belong to the planned run, so that no cache breakage is permanent:

* status.json must parse and say ``running`` or ``complete``; config.yaml must hash to the
  planned run's key; checkpoint.pt (kept by every run: the report rebuilds MSN's target branch
  from it) and, for a complete run, encoder.pt must load with
  :func:`priormatch.training.checkpoint.load_checkpoint`. A failure means the training itself
  cannot be trusted: the directory is emptied and the run trained from scratch.
* eval.json and each ``eval_<label_set>.json`` must parse and hold the keys the report reads;
  a broken one is deleted and only the evaluation is redone.

Each problem is one line (file and what is wrong) for the diagnose log. :func:`repair_run`
applies the remedy; it must run under the run directory's lock (the worker holds it).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from priormatch.diagnose.planner import PlannedRun, run_key
from priormatch.errors import PriormatchError
from priormatch.training.checkpoint import load_checkpoint
from priormatch.training.config import load_run_config
from priormatch.training.experiment import config_data_kind
from priormatch.training.run_dir import RunDirectory
from priormatch.training.run_lock import LOCK_NAME

RunState = Literal["new", "resume", "evaluate", "done"]

STATUSES = ("running", "complete")
CHECKPOINT_KEYS = ("step", "method", "optimizer")  # TrainingState.state_dict
ENCODER_KEYS = ("state_dict",)  # training.loop.final_encoder_state
# untrained / raw_input: the baselines the verdicts gate on; rare_event: the report's rare-event
# table (older records are re-evaluated)
EVALUATION_KEYS = (
    "method",
    "seed",
    "class_names",
    "class_counts",
    "class_rank",
    "probes",
    "untrained",
    "raw_input",
    "baseline_probes",
    "test_class_counts",
    "rare_event",
)


@dataclass(frozen=True)
class CacheCheck:
    """What a cached run needs, and what was found broken in it."""

    state: RunState  # once the remedy is applied
    problems: tuple[str, ...] = ()  # one line each: the file and what is wrong with it
    clear: bool = False  # the directory must be emptied before training from scratch
    stale: tuple[Path, ...] = ()  # broken evaluation files, deleted before re-evaluating

    @property
    def remedy(self) -> str:
        if self.clear:
            return "training it again from scratch"
        return "evaluating it again" if self.stale else "reusing it"


def label_evaluation_path(run: RunDirectory, label_set: str) -> Path:
    """Where the evaluation on an extra label set is written: ``eval_<label_set>.json``."""
    return run.root / f"eval_{label_set}.json"


def evaluation_files(run: RunDirectory, label_sets: tuple[str, ...] = ()) -> dict[str, Path]:
    """Label set (``""`` = the data's own labels) -> its evaluation file."""
    return {"": run.evaluation, **{name: label_evaluation_path(run, name) for name in label_sets}}


def read_status(run: RunDirectory) -> dict[str, Any] | None:
    """status.json's record, or None when it is missing, unreadable or not a JSON object."""
    try:
        record = json.loads(run.status_file.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def is_complete(run: RunDirectory) -> bool:
    status = read_status(run)
    return status is not None and status.get("status") == "complete" and run.encoder.is_file()


def run_state(run: RunDirectory, label_sets: tuple[str, ...] = ()) -> RunState:
    """The state from which files exist (their contents are checked by :func:`inspect_run`)."""
    if is_complete(run):
        evaluated = all(path.is_file() for path in evaluation_files(run, label_sets).values())
        return "done" if evaluated else "evaluate"
    if run.config.is_file() and run.checkpoint.is_file():
        return "resume"
    return "new"


def inspect_run(planned: PlannedRun) -> CacheCheck:
    """Check the cached run of ``planned`` without changing it; see the module docstring."""
    run = RunDirectory(planned.run_dir)
    if not has_entries(run.root):
        return CacheCheck("new")
    problem = training_problem(run, planned)
    if problem is not None:
        return CacheCheck("new", (problem,), clear=True)
    state = run_state(run, planned.cell.label_sets)
    if state in ("new", "resume"):
        return CacheCheck(state, clear=state == "new")
    broken = broken_evaluations(run, planned)
    if broken:
        return CacheCheck("evaluate", tuple(broken.values()), stale=tuple(broken))
    return CacheCheck(state)


def broken_evaluations(run: RunDirectory, planned: PlannedRun) -> dict[Path, str]:
    """Existing evaluation files of the run that are broken -> what is wrong with each."""
    found = {}
    for label_set, path in evaluation_files(run, planned.cell.label_sets).items():
        problem = evaluation_problem(path, planned, label_set) if path.is_file() else None
        if problem is not None:
            found[path] = problem
    return found


def has_entries(root: Path) -> bool:
    """Whether ``root`` holds anything besides its lock file."""
    return root.is_dir() and any(entry.name != LOCK_NAME for entry in root.iterdir())


def training_problem(run: RunDirectory, planned: PlannedRun) -> str | None:
    """What makes the run's training untrustworthy (the run must start afresh), or None."""
    status = read_status(run)
    if run.status_file.exists() and (status is None or status.get("status") not in STATUSES):
        return f"{run.status_file.name} is unreadable or not a priormatch status"
    if not run.config.is_file():
        present = [path.name for path in (run.checkpoint, run.encoder, run.status_file) if path.exists()]
        return f"{run.config.name} is missing beside {', '.join(present)}" if present else None
    problem = config_problem(run, planned)
    if problem is not None:
        return problem
    complete = status is not None and status.get("status") == "complete"
    if run.checkpoint.exists() or complete:
        problem = checkpoint_problem(run.checkpoint, CHECKPOINT_KEYS)
        if problem is not None:
            return problem
    if complete and run.encoder.exists():
        return checkpoint_problem(run.encoder, ENCODER_KEYS)
    return None


def config_problem(run: RunDirectory, planned: PlannedRun) -> str | None:
    """Whether config.yaml is the planned run's config (same key), as a problem line or None."""
    try:
        key = run_key(load_run_config(run.config, data_kind=config_data_kind))
    except Exception as error:  # noqa: BLE001 - a YAML, schema or value error: the file is unusable
        return f"{run.config.name} is unreadable ({type(error).__name__})"
    if key != planned.key:
        return f"{run.config.name} holds another run's config (key {key}, planned {planned.key})"
    return None


def checkpoint_problem(path: Path, keys: tuple[str, ...]) -> str | None:
    """Whether ``path`` loads as a checkpoint holding ``keys``, as a problem line or None."""
    if not path.is_file():
        return f"{path.name} is missing"
    try:
        state = load_checkpoint(path)
    except PriormatchError:
        return f"{path.name} is truncated or unreadable"
    missing = [key for key in keys if key not in state]
    return f"{path.name} lacks {', '.join(missing)}" if missing else None


def evaluation_problem(path: Path, planned: PlannedRun, label_set: str = "") -> str | None:
    """Whether an evaluation file parses and holds what the report reads, as a problem line or None."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"{path.name} is not valid JSON"
    if not isinstance(record, dict):
        return f"{path.name} is not a JSON object"
    missing = [key for key in EVALUATION_KEYS if key not in record]
    if missing:
        return f"{path.name} lacks {', '.join(missing)}"
    probes = record["probes"]
    absent = [probe for probe in planned.config.eval.probes if not isinstance(probes, dict) or not isinstance(probes.get(probe), dict)]
    if absent:
        return f"{path.name} lacks the {', '.join(absent)} probe result(s)"
    if record["method"] != planned.config.method.name or record["seed"] != planned.config.seed:
        return f"{path.name} evaluates another run ({record['method']}, seed {record['seed']})"
    if label_set and record.get("label_set") != label_set:
        return f"{path.name} is not an evaluation on the {label_set!r} labels"
    return None


def repair_run(run: RunDirectory, check: CacheCheck) -> None:
    """Apply ``check``'s remedy: empty the directory, or delete the broken evaluation files.

    Call it holding the run directory's lock (the lock file itself is kept).
    """
    if check.clear:
        clear_run(run)
    for path in check.stale:
        path.unlink(missing_ok=True)
    for leftover in run.root.glob(".*.tmp"):  # a writer killed mid-write (training.checkpoint)
        leftover.unlink(missing_ok=True)


def clear_run(run: RunDirectory) -> None:
    """Empty a run directory (creating it if needed) so training can start in it from scratch.

    The lock file stays: a process holding the lock keeps it on that very file.
    """
    run.root.mkdir(parents=True, exist_ok=True)
    for entry in run.root.iterdir():
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)
