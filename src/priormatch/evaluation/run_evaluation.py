"""Evaluate a finished run directory: frozen features -> probes -> per-class metrics -> eval.json.

Probes are fitted on a class-balanced labelled subset of the *full* training split (the same for
every run of a data set, so balanced and long-tailed pretraining are compared on equal terms) and
scored on the test split. Head/medium/tail groups come from the pretraining subset's class counts.
Series runs default to the TS2Vec / T-Loss protocol instead (``training.config.KIND_DEFAULTS``): an
RBF SVM and the linear probe fitted on the whole train split (``eval.probe_samples_per_class=null``),
scored on the test split as published (UCR test splits are not balanced).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from priormatch.encoders import build_encoder
from priormatch.evaluation.features import extract_features
from priormatch.evaluation.probe_eval import balanced_probe_indices, evaluate_features, format_results_table
from priormatch.training.checkpoint import load_checkpoint, write_json_atomic
from priormatch.training.config import RunConfig, load_run_config
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
    encoder.load_state_dict(state["state_dict"])
    return encoder.eval()


def run_features(run: RunDirectory, config: RunConfig, data: PretrainingData, x: np.ndarray) -> np.ndarray:
    """(n, D) frozen features of ``x`` under the run's encoder and evaluation normalisation."""
    encoder = load_evaluation_encoder(run, config, data.splits.train.input_shape)
    views = make_views(config, data.train, encoder)
    device = "cuda" if torch.cuda.is_available() and config.train.device != "cpu" else "cpu"
    return extract_features(encoder.to(device), x, batch_size=config.eval.batch_size, transform=views.evaluation_view, device=device)


def evaluate_run(path: str | Path, *, probes: Sequence[str] | None = None, verbose: bool = True) -> dict[str, Any]:
    """Probe a finished run; writes ``eval.json`` in it and returns the same record."""
    run, config = load_run(path)
    data = prepare_data(config.data)
    train_split, test_split = data.splits.train, data.splits.test
    per_class = config.eval.probe_samples_per_class or len(train_split)
    probe_rows = balanced_probe_indices(train_split.y, per_class, config.seed)
    train_features = run_features(run, config, data, train_split.x[probe_rows])
    test_features = run_features(run, config, data, test_split.x)
    results = evaluate_features(
        train_features,
        train_split.y[probe_rows],
        test_features,
        test_split.y,
        num_classes=data.splits.num_classes,
        class_rank=data.class_rank,
        probes=tuple(probes or config.eval.probes),
        random_state=config.seed,
    )
    record = {
        "run": str(run.root),
        "data": config.data.name,
        "method": config.method.name,
        "seed": config.seed,
        "num_probe_train": int(len(probe_rows)),
        "num_test": int(len(test_split)),
        "class_names": list(train_split.class_names),
        "class_counts": data.summary()["class_counts"],
        "class_rank": data.class_rank.tolist(),
        "probes": results,
    }
    write_json_atomic(record, run.evaluation)
    if verbose:
        print(format_results_table(results, list(train_split.class_names)))
    return record
