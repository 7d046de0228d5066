"""Evaluation records of finished runs, gathered per cell for tables, plots and verdicts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from priormatch.diagnose.cache import label_evaluation_path
from priormatch.diagnose.planner import PlannedRun
from priormatch.training.run_dir import RunDirectory


@dataclass(frozen=True)
class RunResult:
    planned: PlannedRun
    evaluations: dict[str, dict[str, Any]]  # label set ("" = the data's own labels) -> eval record

    def metric(self, metric: str = "accuracy", *, probe: str = "linear", label_set: str = "") -> Optional[float]:
        """One number of one probe, e.g. ``metric("tail_accuracy", probe="knn")``; None if absent."""
        record = self.evaluations.get(label_set, {})
        return record.get("probes", {}).get(probe, {}).get(metric)


def load_result(planned: PlannedRun) -> RunResult:
    run = RunDirectory(planned.run_dir)
    evaluations = {"": json.loads(run.evaluation.read_text())}
    for label_set in planned.cell.label_sets:
        evaluations[label_set] = json.loads(label_evaluation_path(run, label_set).read_text())
    return RunResult(planned, evaluations)


def values(results: list[RunResult], arm: str, condition: str, metric: str = "accuracy", **where: str) -> list[float]:
    """The metric over seeds of one cell (missing values left out)."""
    found = [r.metric(metric, **where) for r in results if r.planned.cell.arm == arm and r.planned.cell.condition == condition]
    return [v for v in found if v is not None]


def ordered_unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def arms(results: list[RunResult]) -> list[str]:
    return ordered_unique([r.planned.cell.arm for r in results])


def conditions(results: list[RunResult]) -> list[str]:
    return ordered_unique([r.planned.cell.condition for r in results])
