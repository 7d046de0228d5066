"""What a planned run still needs: its run directory is the cache entry.

A run directory (named by the config hash, :func:`priormatch.diagnose.planner.run_key`) moves
through ``new -> resume -> evaluate -> done``: finished runs (status complete plus every
evaluation file) are reused as they are; a complete run lacking an evaluation is only evaluated;
an interrupted run continues from its checkpoint (exact resume, see the training loop); anything
else starts afresh.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

from priormatch.training.run_dir import RunDirectory

RunState = Literal["new", "resume", "evaluate", "done"]


def label_evaluation_path(run: RunDirectory, label_set: str) -> Path:
    """Where the evaluation on an extra label set is written: ``eval_<label_set>.json``."""
    return run.root / f"eval_{label_set}.json"


def run_state(run: RunDirectory, label_sets: tuple[str, ...] = ()) -> RunState:
    if run.is_complete():
        evaluated = run.evaluation.is_file() and all(label_evaluation_path(run, name).is_file() for name in label_sets)
        return "done" if evaluated else "evaluate"
    if run.config.is_file() and run.checkpoint.is_file():
        return "resume"
    return "new"


def clear_run(run: RunDirectory) -> None:
    """Empty a run directory left without a checkpoint, so training can start in it."""
    if run.root.exists():
        shutil.rmtree(run.root)
    run.root.mkdir(parents=True)
