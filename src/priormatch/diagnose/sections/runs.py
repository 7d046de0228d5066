"""A comparison of arbitrary finished runs (``priormatch report``): table, per-class, curves, prototypes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from priormatch.diagnose.document import Figure, Section, Table
from priormatch.diagnose.figures.gallery import gallery_figure
from priormatch.diagnose.figures.per_class import PerClassSeries, per_class_figure
from priormatch.diagnose.figures.training_curves import curve_from_metrics, training_curves_figure
from priormatch.diagnose.figures.usage import UsageCurve, usage_figure
from priormatch.diagnose.prototype_cache import PrototypeCache
from priormatch.diagnose.results import BASELINE_LABELS
from priormatch.evaluation.run_evaluation import evaluate_run, load_run
from priormatch.training.run_dir import RunDirectory

MAX_GALLERY_PANELS = 4
METRICS = ("accuracy", "balanced_accuracy", "head_accuracy", "medium_accuracy", "tail_accuracy")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def run_label(run: RunDirectory, names: list[str]) -> str:
    """The run's directory name, or its parent/name when two runs share a name."""
    return run.root.name if names.count(run.root.name) == 1 else f"{run.root.parent.name}/{run.root.name}"


def runs_table(runs: list[RunDirectory], labels: list[str]) -> Table:
    """One row per run, each followed by its reference rows (untrained encoder, raw input) where eval.json has them."""
    columns = ["run", "method", "data", "rho", "batches", "seed"] + [f"linear {m.replace('_accuracy', '')}" for m in METRICS] + ["kNN acc"]
    rows = []
    for run, label in zip(runs, labels):
        _, config = load_run(run.root)
        record = json.loads(run.evaluation.read_text())
        batches = "shuffled" if config.data.sampler == "shuffle" else f"k={config.data.classes_per_batch}"
        settings = [config.method.name, config.data.name, f"{config.data.imbalance_ratio:g}", batches, str(config.seed)]
        probed = {label: record["probes"]}
        probed.update({f"{label}: {BASELINE_LABELS[name]}": probes for name, probes in record.get("baseline_probes", {}).items()})
        for row_label, probes in probed.items():
            linear, knn = probes.get("linear", {}), probes.get("knn", {})
            rows.append([row_label, *settings] + [_percent(linear.get(m)) for m in METRICS] + [_percent(knn.get("accuracy"))])
    caption = (
        "Test accuracy in % (probes of `priormatch evaluate`); below each run, the same probes on its encoder at "
        "initialisation and on its standardised raw inputs."
    )
    return Table(columns, rows, caption)


def per_class_series(run: RunDirectory, label: str) -> PerClassSeries | None:
    record = json.loads(run.evaluation.read_text())
    if "linear" not in record["probes"]:
        return None
    accuracy = [np.nan if a is None else a for a in record["probes"]["linear"]["per_class_accuracy"]]
    return PerClassSeries(label, np.asarray(record["class_counts"], dtype=float), np.asarray(accuracy, dtype=float))


def comparison_section(runs: list[RunDirectory], cache: PrototypeCache, *, prototypes: int, images: int) -> Section:
    names = [r.root.name for r in runs]
    labels = [run_label(r, names) for r in runs]
    section = Section("Runs compared")
    section.tables.append(runs_table(runs, labels))
    series = [s for s in (per_class_series(r, label) for r, label in zip(runs, labels)) if s is not None]
    if series:
        section.figures.append(
            Figure(
                "per-class-accuracy",
                per_class_figure({"per-class accuracy": series}),
                "Per-class linear-probe accuracy against the class's pretraining frequency.",
            )
        )
    curves = []
    for run, label in zip(runs, labels):
        _, config = load_run(run.root)
        curve = curve_from_metrics(label, run.read_metrics(), getattr(config.method, "num_prototypes", 1))
        if curve is not None:
            curves.append(curve)
    if curves:
        section.figures.append(
            Figure("pbar-training", training_curves_figure(curves), "Batch p_bar entropy and KL(p_bar || prior) over training.")
        )
    analysed = [(label, cache.get(run.root)) for run, label in zip(runs, labels) if _has_prototypes(run)]
    if analysed:
        section.figures.append(
            Figure(
                "usage",
                usage_figure([UsageCurve(label, a.usage, a.prior) for label, a in analysed]),
                "Prototype usage sorted by rank against each run's prior (dashed).",
            )
        )
        section.figures.append(
            Figure(
                "gallery",
                gallery_figure(analysed[:MAX_GALLERY_PANELS], prototypes=prototypes, images=images),
                "Most used prototypes and their most probable training images, runs side by side.",
            )
        )
    return section


def _has_prototypes(run: RunDirectory) -> bool:
    _, config = load_run(run.root)
    return hasattr(config.method, "num_prototypes") and run.checkpoint.is_file()


def ensure_evaluated(paths: list[Path], log=print) -> list[RunDirectory]:
    """Finished run directories, evaluated first where eval.json is missing."""
    runs = []
    for path in paths:
        run, _ = load_run(path)
        if not run.evaluation.is_file():
            log(f"report: evaluating {run.root} (no eval.json yet)")
            evaluate_run(run.root, verbose=False)
        runs.append(run)
    return runs
