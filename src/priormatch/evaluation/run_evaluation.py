"""Evaluate a finished run directory: frozen features -> probes -> per-class metrics -> eval.json.

Probes are fitted on a class-balanced labelled subset of the *full* training split (the same for
every run of a data set, so balanced and long-tailed pretraining are compared on equal terms) and
scored on the test split. Head/medium/tail groups come from the pretraining subset's class counts.
Series runs default to the TS2Vec / T-Loss protocol instead (``training.config.KIND_DEFAULTS``): an
RBF SVM and the linear probe fitted on the whole train split (``eval.probe_samples_per_class=null``),
scored on the test split as published (UCR test splits are not balanced).

Beside the trained encoder the same probes score two references on the same rows
(:mod:`priormatch.evaluation.baselines`): the encoder at its initialisation (``untrained``) and the
standardised raw inputs (``raw_input``); eval.json holds their accuracies as top-level keys.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from priormatch.encoders import build_encoder
from priormatch.evaluation import rare_events
from priormatch.evaluation.baselines import (
    BASELINES,
    PROBE_PARAMS,
    accuracies,
    baseline_probe_names,
    initial_evaluation_encoder,
    raw_input_features,
)
from priormatch.evaluation.features import extract_features
from priormatch.evaluation.probe_eval import (
    ProbeProgress,
    balanced_probe_indices,
    check_probe_names,
    evaluate_features,
    format_results_table,
    probe_protocols,
)
from priormatch.evaluation.rare_events import rare_event_metrics
from priormatch.training.checkpoint import checkpoint_entry, load_checkpoint, load_weights, write_json_atomic
from priormatch.training.config import EvalConfig, RunConfig, load_run_config
from priormatch.training.experiment import PretrainingData, config_data_kind, prepare_data
from priormatch.training.run_dir import RunDirectory, completed_run
from priormatch.training.views import make_views


def load_run(path: str | Path) -> tuple[RunDirectory, RunConfig]:
    run = completed_run(path)
    return run, load_run_config(run.config, data_kind=config_data_kind)


def load_evaluation_encoder(run: RunDirectory, config: RunConfig, input_shape: tuple[int, ...]) -> nn.Module:
    """The run's trained evaluation encoder (the EMA target encoder for MSN/PMSN), in eval mode."""
    state = load_checkpoint(run.encoder)
    encoder = build_encoder(config.encoder, input_shape)
    fix = "evaluate the run that wrote this encoder.pt, or re-train this run into a new --out directory"
    load_weights(encoder, checkpoint_entry(state, "state_dict", run.encoder), path=run.encoder, fix=fix)
    return encoder.eval()


def run_features(run: RunDirectory, config: RunConfig, data: PretrainingData, x: np.ndarray) -> np.ndarray:
    """(n, D) frozen features of ``x`` under the run's trained encoder and evaluation normalisation."""
    return encoder_features(config, data, load_evaluation_encoder(run, config, data.splits.train.input_shape), x)


def encoder_features(config: RunConfig, data: PretrainingData, encoder: nn.Module, x: np.ndarray) -> np.ndarray:
    """(n, D) frozen features of ``x`` (n, *sample_shape) under ``encoder`` and the run's evaluation normalisation."""
    views = make_views(config, data.train, encoder)
    device = "cuda" if torch.cuda.is_available() and config.train.device != "cpu" else "cpu"
    return extract_features(encoder.to(device), x, batch_size=config.eval.batch_size, transform=views.evaluation_view, device=device)


FeatureSets = dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (train (n, D), test (m, D)) features


def feature_sets(run: RunDirectory, config: RunConfig, data: PretrainingData, train_x: np.ndarray, test_x: np.ndarray) -> FeatureSets:
    """Train and test features of ``trained`` (the run's encoder) and of each of ``BASELINES``.

    train_x: (n, *sample_shape) the probe's labelled inputs; test_x: (m, *sample_shape).
    """
    trained = load_evaluation_encoder(run, config, data.splits.train.input_shape)
    untrained = initial_evaluation_encoder(config, data)
    sets = {
        name: (encoder_features(config, data, encoder, train_x), encoder_features(config, data, encoder, test_x))
        for name, encoder in (("trained", trained), ("untrained", untrained))
    }
    sets["raw_input"] = raw_input_features(train_x, test_x)
    return sets


def probe_feature_sets(
    sets: FeatureSets,
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    *,
    num_classes: int,
    class_rank: np.ndarray,
    probes: Sequence[str],
    random_state: int,
    evaluation: EvalConfig,
    progress: ProbeProgress | None = None,
) -> dict[str, dict[str, dict]]:
    """{feature set: {probe: metrics}}: ``probes`` fitted and scored on every feature set (the
    ``BASELINES`` also with linear and kNN if not among them), with the probe settings of
    ``evaluation`` (:func:`configured_probe_params`) and, per feature set, of ``PROBE_PARAMS``;
    ``progress`` gets a line per probe, labelled with its feature set."""
    configured = configured_probe_params(evaluation)
    return {
        name: evaluate_features(
            train,
            train_labels,
            test,
            test_labels,
            num_classes=num_classes,
            class_rank=class_rank,
            probes=baseline_probe_names(probes) if name in BASELINES else tuple(probes),
            random_state=random_state,
            probe_params={**configured, **PROBE_PARAMS.get(name, {})},
            progress=progress,
            label=name,
        )
        for name, (train, test) in sets.items()
    }


def configured_probe_params(evaluation: EvalConfig) -> dict[str, dict[str, Any]]:
    """{probe: constructor arguments} set by the ``eval`` section: the SVM's C-search cap."""
    return {"svm": {"max_search_samples": evaluation.svm_search_samples}}


def rare_event_entry(
    sets: FeatureSets, train_labels: np.ndarray, test_labels: np.ndarray, class_rank: np.ndarray, seed: int
) -> dict[str, Any]:
    """eval.json's ``rare_event``: the suite on the trained features at the top level, the same on
    each of ``BASELINES`` under its name, and the suite's ``protocol``."""
    suite = {
        name: rare_event_metrics(train, train_labels, test, test_labels, class_rank=class_rank, seed=seed)
        for name, (train, test) in sets.items()
    }
    return {**suite.pop("trained"), **suite, "protocol": rare_events.protocol()}


def format_rare_event_table(entry: dict[str, Any], class_names: Sequence[str]) -> str:
    """Plain-text rows of the rare-event suite: trained, then the baselines."""
    events = ", ".join(str(class_names[c]) for c in entry["event_classes"])
    rows = [["features", "AUROC", "AUPRC", *(f"tail_recall@{k}" for k in entry["tail_recall_at_k"])]]
    for name, metrics in [("trained", entry), *((b, entry[b]) for b in BASELINES)]:
        values = [metrics["auroc"], metrics["auprc"], *metrics["tail_recall_at_k"].values()]
        rows.append([name, *("-" if v is None else f"{v:.3f}" for v in values)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    return "\n".join([f"rare events (tail classes {events}; AUPRC chance {entry['event_rate']:.3f}):", *lines])


def baseline_entries(results: dict[str, dict[str, dict]]) -> dict[str, Any]:
    """The record's baseline keys: ``untrained`` / ``raw_input`` {probe: accuracy} and their full
    metrics under ``baseline_probes``."""
    entries: dict[str, Any] = {name: accuracies(results[name]) for name in BASELINES}
    entries["baseline_probes"] = {name: results[name] for name in BASELINES}
    return entries


def evaluate_run(path: str | Path, *, probes: Sequence[str] | None = None, verbose: bool = True) -> dict[str, Any]:
    """Probe a finished run and its baselines; writes ``eval.json`` in it and returns the same record.

    ``verbose``: print the results table (stdout), a line per fitted probe (stderr) and one warning
    summing up the probe fits that did not converge."""
    run, config = load_run(path)
    data = prepare_data(config.data)
    train_split, test_split = data.splits.train, data.splits.test
    per_class = config.eval.probe_samples_per_class or len(train_split)
    probe_rows = balanced_probe_indices(train_split.y, per_class, config.seed)
    probe_names = tuple(probes or config.eval.probes)
    check_probe_names(probe_names)  # before the features are extracted
    progress = ProbeProgress() if verbose else None
    start = time.perf_counter()
    sets = feature_sets(run, config, data, train_split.x[probe_rows], test_split.x)
    if progress is not None:
        progress.write(
            f"evaluate: features of {len(probe_rows)} probe-training and {len(test_split)} test samples "
            f"(trained and untrained encoder, raw inputs) in {time.perf_counter() - start:.1f} s"
        )
    results = probe_feature_sets(
        sets,
        train_split.y[probe_rows],
        test_split.y,
        num_classes=data.splits.num_classes,
        class_rank=data.class_rank,
        probes=probe_names,
        random_state=config.seed,
        evaluation=config.eval,
        progress=progress,
    )
    summary = progress.convergence_summary() if progress is not None else None
    if summary is not None:
        warnings.warn(summary, stacklevel=2)
    record = {
        "run": str(run.root),
        "data": config.data.name,
        "method": config.method.name,
        "seed": config.seed,
        "num_probe_train": int(len(probe_rows)),
        "num_test": int(len(test_split)),
        "test_class_counts": np.bincount(test_split.y, minlength=data.splits.num_classes).tolist(),
        "class_names": list(train_split.class_names),
        "class_counts": data.summary()["class_counts"],
        "class_rank": data.class_rank.tolist(),
        "probes": results["trained"],
        "protocol": probe_protocols(baseline_probe_names(probe_names), configured_probe_params(config.eval)),
        **baseline_entries(results),
        "rare_event": rare_event_entry(sets, train_split.y[probe_rows], test_split.y, data.class_rank, config.seed),
    }
    write_json_atomic(record, run.evaluation)
    if verbose:
        baselines = {name: results[name] for name in BASELINES}
        print(format_results_table(results["trained"], list(train_split.class_names), baselines=baselines))
        print("\n".join(f"{name}: {line}" for name, line in record["protocol"].items()))
        print(format_rare_event_table(record["rare_event"], list(train_split.class_names)))
    return record
