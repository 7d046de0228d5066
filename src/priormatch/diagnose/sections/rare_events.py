"""The rare-event table of every experiment section: event detection and few-shot tail recall
(:mod:`priormatch.evaluation.rare_events`) per condition and arm, beside the untrained encoder and
the raw inputs."""

from __future__ import annotations

import numpy as np

from priormatch.diagnose.document import Table
from priormatch.diagnose.results import BASELINE_LABELS, RunResult, arms, conditions, recorded_baselines, reference_arm

COLUMNS = ("auroc", "auprc", "tail_recall@1", "tail_recall@5")


def suite_values(result: RunResult, baseline: str = "") -> list[float | None]:
    """(AUROC, AUPRC, recall at 1 and 5 shots) of one run's trained features or of a baseline."""
    suite = result.evaluations.get("", {}).get("rare_event")
    if suite is None:
        return [None] * len(COLUMNS)
    metrics = suite[baseline] if baseline else suite
    return [metrics["auroc"], metrics["auprc"], metrics["tail_recall_at_k"].get("1"), metrics["tail_recall_at_k"].get("5")]


def mean_cell(rows: list[list[float | None]], column: int) -> str:
    """Mean (± std over seeds when more than one) of one column; "-" when undefined."""
    found = [value for value in (row[column] for row in rows) if value is not None]
    if not found:
        return "-"
    return f"{np.mean(found):.3f}" + (f" ± {np.std(found, ddof=1):.3f}" if len(found) > 1 else "")


def rare_event_table(results: list[RunResult]) -> Table | None:
    """One row per (condition, arm), then the reference arm's baselines; ``None`` when no run has the suite."""
    if not any("rare_event" in r.evaluations.get("", {}) for r in results):
        return None
    rows = []
    for condition in conditions(results):
        cell = [r for r in results if r.planned.cell.condition == condition]
        groups = {arm: [suite_values(r) for r in cell if r.planned.cell.arm == arm] for arm in arms(cell)}
        reference = [r for r in cell if r.planned.cell.arm == reference_arm(cell)]
        groups.update({BASELINE_LABELS[b]: [suite_values(r, b) for r in reference] for b in recorded_baselines(cell)})
        rows += [[condition, name, *(mean_cell(values, i) for i in range(len(COLUMNS)))] for name, values in groups.items()]
    events = next(r.evaluations[""]["rare_event"]["event_classes"] for r in results if "rare_event" in r.evaluations.get("", {}))
    caption = (
        f"Rare events: the tail classes of the pretraining data (class indices {events}) as events. AUROC / AUPRC of "
        "the kNN-distance score on the test split (AUPRC's chance level is the events' share), and the tail "
        "classes' recall of a nearest-class-mean classifier given 1 or 5 labelled samples per class; mean ± "
        "std over seeds."
    )
    return Table(["condition", "features", *COLUMNS], rows, caption)
