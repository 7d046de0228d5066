"""Evaluate a finished run on another label set of the same images (the overlay's digit labels).

The probes, features and metrics are those of ``priormatch evaluate``; only the labels differ.
Head/medium/tail groups and the class ranking come from the label set's counts in the run's
pretraining subset. The record is written beside ``eval.json`` as ``eval_<label_set>.json`` and,
like it, carries the ``untrained`` and ``raw_input`` baselines.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from priormatch.data.arrays import DatasetSplits
from priormatch.data.overlay import overlay_label_sets
from priormatch.diagnose.cache import label_evaluation_path
from priormatch.errors import PriormatchError
from priormatch.evaluation.probe_eval import balanced_probe_indices
from priormatch.evaluation.run_evaluation import baseline_entries, feature_sets, load_run, probe_feature_sets, rare_event_entry
from priormatch.training.checkpoint import write_json_atomic
from priormatch.training.experiment import prepare_data, rank_by_frequency

# data set name -> loader(path) of {label set name: splits with the same images}
LABEL_SET_SOURCES: dict[str, Callable[[str | None], dict[str, DatasetSplits]]] = {
    "overlay": overlay_label_sets,
}


def load_label_set(data_name: str, path: str | None, label_set: str) -> DatasetSplits:
    if data_name not in LABEL_SET_SOURCES:
        raise PriormatchError(f"data set {data_name!r} has no extra label sets; extra label sets exist for: {', '.join(LABEL_SET_SOURCES)}")
    sets = LABEL_SET_SOURCES[data_name](path)
    if label_set not in sets:
        raise PriormatchError(f"data set {data_name!r} has no label set {label_set!r}; choose from {', '.join(sets)}")
    return sets[label_set]


def evaluate_label_set(path: str | Path, label_set: str) -> dict[str, Any]:
    """Probe a finished run against ``label_set``; writes and returns ``eval_<label_set>.json``."""
    run, config = load_run(path)
    data = prepare_data(config.data)
    splits = load_label_set(config.data.name, config.data.path, label_set)
    num_classes = splits.num_classes
    counts = np.bincount(splits.train.y[data.subset], minlength=num_classes)
    class_rank = rank_by_frequency(counts, np.arange(num_classes))
    per_class = config.eval.probe_samples_per_class or len(splits.train)
    rows = balanced_probe_indices(splits.train.y, per_class, config.seed)
    sets = feature_sets(run, config, data, splits.train.x[rows], splits.test.x)
    results = probe_feature_sets(
        sets,
        splits.train.y[rows],
        splits.test.y,
        num_classes=num_classes,
        class_rank=class_rank,
        probes=tuple(config.eval.probes),
        random_state=config.seed,
        evaluation=config.eval,
    )
    record = {
        "run": str(run.root),
        "data": config.data.name,
        "label_set": label_set,
        "method": config.method.name,
        "seed": config.seed,
        "num_probe_train": int(len(rows)),
        "num_test": int(len(splits.test)),
        "test_class_counts": np.bincount(splits.test.y, minlength=num_classes).tolist(),
        "class_names": list(splits.train.class_names),
        "class_counts": counts.tolist(),
        "class_rank": class_rank.tolist(),
        "probes": results["trained"],
        **baseline_entries(results),
        "rare_event": rare_event_entry(sets, splits.train.y[rows], splits.test.y, class_rank, config.seed),
    }
    write_json_atomic(record, label_evaluation_path(run, label_set))
    return record
