"""Evaluation records of finished runs, gathered per cell for tables, plots and verdicts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from priormatch.diagnose.cache import label_evaluation_path
from priormatch.diagnose.planner import PlannedRun
from priormatch.evaluation.baselines import BASELINES
from priormatch.training.run_dir import RunDirectory

# How reference rows name the baselines ``priormatch evaluate`` records beside the trained encoder.
BASELINE_LABELS = {"untrained": "untrained encoder", "raw_input": "raw input"}


@dataclass(frozen=True)
class RunResult:
    planned: PlannedRun
    evaluations: dict[str, dict[str, Any]]  # label set ("" = the data's own labels) -> eval record

    def metric(self, metric: str = "accuracy", *, probe: str = "linear", label_set: str = "", baseline: str = "") -> float | None:
        """One number of one probe, e.g. ``metric("tail_accuracy", probe="knn")``; None if absent.

        baseline: "" for the trained encoder, or one of ``BASELINES`` for the same probe on the
        run's untrained encoder / raw inputs.
        """
        record = self.evaluations.get(label_set, {})
        probes = record.get("baseline_probes", {}).get(baseline, {}) if baseline else record.get("probes", {})
        return probes.get(probe, {}).get(metric)


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


def recorded_baselines(results: list[RunResult]) -> list[str]:
    """The ``BASELINES`` some run's evaluation recorded (none for eval.json files older than them)."""
    return [b for b in BASELINES if any(b in r.evaluations.get("", {}).get("baseline_probes", {}) for r in results)]


def reference_arm(results: list[RunResult]) -> str:
    """The arm whose runs' baselines a table's reference rows show: the first. Every arm of a condition
    probes the same labelled rows, and the diagnose arms share one encoder config and seed, so the
    untrained encoder and the raw inputs are the same for all of them."""
    return arms(results)[0]


def ordered_unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def arms(results: list[RunResult]) -> list[str]:
    return ordered_unique([r.planned.cell.arm for r in results])


def conditions(results: list[RunResult]) -> list[str]:
    return ordered_unique([r.planned.cell.condition for r in results])


def by_seed(results: list[RunResult], arm: str, condition: str, metric: str = "accuracy", **where: str) -> dict[int, float]:
    """seed -> the metric of one cell's runs (missing values left out): the unit of paired tests."""
    found = {
        r.planned.seed: r.metric(metric, **where) for r in results if r.planned.cell.arm == arm and r.planned.cell.condition == condition
    }
    return {seed: value for seed, value in sorted(found.items()) if value is not None}


def untrained_gains(results: list[RunResult], arm: str, conditions: list[str], probe: str = "linear") -> list[float]:
    """Per run of ``arm`` in ``conditions``: trained minus untrained-encoder accuracy (runs without the baseline left out)."""
    gains = []
    for r in results:
        if r.planned.cell.arm != arm or r.planned.cell.condition not in conditions:
            continue
        trained, untrained = r.metric(probe=probe), r.metric(probe=probe, baseline="untrained")
        if trained is not None and untrained is not None:
            gains.append(trained - untrained)
    return gains
