"""Fit probes on frozen train features, score them on test features, and print the results.

Pure functions, no I/O: the caller extracts features (:mod:`priormatch.evaluation.features`) and
writes the returned dict (JSON-serialisable) wherever the run directory says.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from priormatch.errors import PriormatchError
from priormatch.evaluation.metrics import GROUP_NAMES, classification_metrics
from priormatch.evaluation.probes import PROBES


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class ProbeProgress:
    """Where :func:`evaluate_features` reports: one line per fitted probe (``write``, stderr by
    default), and per "features probe" the number of solver fits that stopped before converging
    (scikit-learn's ConvergenceWarning, counted instead of printed)."""

    write: Callable[[str], None] = _to_stderr
    unconverged: dict[str, int] = field(default_factory=dict)

    def convergence_summary(self) -> str | None:
        """One line for all the fits that did not converge, or None when every fit converged."""
        if not self.unconverged:
            return None
        where = ", ".join(f"{name} ({count})" for name, count in self.unconverged.items())
        return (
            f"{sum(self.unconverged.values())} probe solver fits stopped at their iteration limit before converging: "
            f"{where}; their scores are those of the last iterate (the linear probe's limit is LinearProbe(max_iter=...))"
        )


def evaluate_features(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    *,
    num_classes: int,
    class_rank: np.ndarray,
    probes: Sequence[str] = ("linear", "knn"),
    random_state: int = 0,
    probe_params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProbeProgress | None = None,
    label: str = "",
) -> dict[str, dict]:
    """{probe name: :func:`classification_metrics` dict} for each probe in ``probes``.

    train_features: (n, D), train_labels: (n,) in [0, num_classes); test_features: (m, D),
    test_labels: (m,). class_rank: (num_classes,) pretraining frequency rank (0 = most frequent).
    Probes that take a ``random_state`` get this one. probe_params: {probe name: constructor
    arguments} on top of the probe's defaults, e.g. ``{"linear": {"max_search_samples": 2000}}``.
    progress: given, each probe reports one line (``label``, probe, accuracy, size, seconds) and its
    convergence warnings are counted there instead of printed.
    """
    check_probe_names(probes)
    _check_label_range(train_labels, num_classes, "train_labels")
    results = {}
    for name in probes:
        start = time.perf_counter()
        # Small dense problems: one BLAS thread is fastest, and several threads competing with
        # torch's OpenMP pool made lbfgs 40x slower on a busy 2-core machine.
        with threadpool_limits(limits=1, user_api="blas"), counting_convergence(progress is not None) as unconverged:
            probe = _make_probe(name, random_state, (probe_params or {}).get(name, {})).fit(train_features, train_labels)
            predictions = probe.predict(test_features)
        results[name] = classification_metrics(test_labels, predictions, num_classes=num_classes, class_rank=class_rank)
        if progress is not None:
            _report_probe(progress, f"{label} {name}".strip(), results[name], train_features.shape, unconverged[0], start)
    return results


@contextmanager
def counting_convergence(active: bool) -> Iterator[list[int]]:
    """While open (when ``active``), scikit-learn ConvergenceWarnings are counted into the yielded
    one-element list instead of shown; other warnings are re-issued as they were."""
    count = [0]
    if not active:
        yield count
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        yield count
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            count[0] += 1
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def _report_probe(progress: ProbeProgress, name: str, metrics: dict, train_shape: tuple[int, ...], unconverged: int, start: float) -> None:
    """One progress line for a fitted probe; its unconverged fits are added to ``progress``."""
    note = ""
    if unconverged:
        progress.unconverged[name] = progress.unconverged.get(name, 0) + unconverged
        note = f", {unconverged} fits did not converge"
    progress.write(
        f"evaluate: {name} probe: accuracy {100 * metrics['accuracy']:.1f}% "
        f"(fitted on {train_shape[0]} x {train_shape[1]} features, {time.perf_counter() - start:.1f} s{note})"
    )


def check_probe_names(probes: Sequence[str]) -> None:
    """Raise for a name that is not one of :data:`PROBES`."""
    unknown = [name for name in probes if name not in PROBES]
    if unknown:
        raise PriormatchError(f"unknown probe(s) {unknown}; choose from {sorted(PROBES)}")


def balanced_probe_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Sorted (m,) int64 indices of a class-balanced subset: min(per_class, available) per class.

    labels: (n,) class labels. The same (labels, per_class, seed) always gives the same subset.
    """
    if per_class < 1:
        raise PriormatchError(f"per_class={per_class}; pass a positive number of labelled samples per class")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise PriormatchError(f"labels have shape {labels.shape}; pass a 1-D label vector")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        chosen.append(rng.choice(members, size=min(per_class, members.size), replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.empty(0, dtype=np.int64)


def format_results_table(
    results: dict[str, dict],
    class_names: Sequence[str] | None = None,
    *,
    baselines: dict[str, dict[str, dict]] | None = None,
) -> str:
    """Plain-text table: one row per probe (accuracy, balanced acc, macro-F1, head/medium/tail, in %),
    then one row per class (grouped head, medium, tail; most frequent first) with each probe's accuracy.

    results: output of :func:`evaluate_features`. class_names: K names; ``None`` uses the indices.
    baselines: {name: results of the same probes on other features}, e.g. ``untrained`` and
      ``raw_input``; given, the summary gains a first ``features`` column and their rows follow the
      ``trained`` ones (the per-class rows stay those of ``results``).
    """
    if not results:
        raise PriormatchError("results is empty; pass the dict returned by evaluate_features")
    first = next(iter(results.values()))
    num_classes = len(first["per_class_accuracy"])
    names = [str(c) for c in range(num_classes)] if class_names is None else [str(n) for n in class_names]
    if len(names) != num_classes:
        raise PriormatchError(f"class_names has {len(names)} names for {num_classes} classes; pass one name per class")
    summary = _summary_lines({"trained": results, **baselines} if baselines else {"": results})
    return "\n".join(summary + [""] + _per_class_lines(results, names, first["groups"]))


def _summary_lines(feature_sets: dict[str, dict[str, dict]]) -> list[str]:
    """One row per (feature set, probe); a leading ``features`` column unless the only set is named ""."""
    columns = ["accuracy", "balanced_accuracy", "macro_f1"] + [f"{g}_accuracy" for g in GROUP_NAMES]
    named = list(feature_sets) != [""]
    headers = (["features"] if named else []) + ["probe", "acc", "bal_acc", "macro_f1", "head", "medium", "tail"]
    rows = [
        ([features] if named else []) + [probe] + [_percent(metrics[c]) for c in columns]
        for features, results in feature_sets.items()
        for probe, metrics in results.items()
    ]
    return _aligned([headers] + rows, left=2 if named else 1)


def _per_class_lines(results: dict[str, dict], names: list[str], groups: dict[str, list[int]]) -> list[str]:
    headers = ["class", "group"] + [f"{probe}_acc" for probe in results]
    rows = [
        [names[c], group] + [_percent(metrics["per_class_accuracy"][c]) for metrics in results.values()]
        for group in GROUP_NAMES
        for c in groups[group]
    ]
    return _aligned([headers] + rows)


def _aligned(rows: list[list[str]], left: int = 1) -> list[str]:
    """Left-align the first ``left`` columns, right-align the others, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) if i < left else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def probe_protocols(probes: Sequence[str], probe_params: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, str]:
    """{probe: one line naming how it is fitted} for ``probes`` built with ``probe_params``."""
    return {name: _make_probe(name, 0, (probe_params or {}).get(name, {})).protocol() for name in probes}


def _make_probe(name: str, random_state: int, params: Mapping[str, Any]) -> BaseEstimator:
    probe = PROBES[name](**params)
    if "random_state" in probe.get_params():
        probe.set_params(random_state=random_state)
    return probe


def _check_label_range(labels: np.ndarray, num_classes: int, name: str) -> None:
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise PriormatchError(
            f"{name} has labels in [{labels.min()}, {labels.max()}] outside [0, {num_classes}); check num_classes or remap the labels"
        )
