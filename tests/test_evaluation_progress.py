"""evaluate reports progress (a line per probe) and sums up convergence warnings in one line."""

from __future__ import annotations

import warnings

import numpy as np

from priormatch.evaluation.probe_eval import ProbeProgress, evaluate_features


def blobs(n: int = 60, dim: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, dim) features of 3 overlapping classes and their (n,) labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    return rng.standard_normal((n, dim)) + labels[:, None], labels


def test_each_probe_reports_one_line_and_convergence_warnings_are_counted_not_shown():
    (train, train_labels), (test, test_labels) = blobs(), blobs(seed=1)
    lines: list[str] = []
    progress = ProbeProgress(write=lines.append)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning escaping would fail here
        results = evaluate_features(
            train,
            train_labels,
            test,
            test_labels,
            num_classes=3,
            class_rank=np.arange(3),
            probes=("linear", "knn"),
            probe_params={"linear": {"max_iter": 1, "C": 1.0}},
            progress=progress,
            label="trained",
        )
    assert set(results) == {"linear", "knn"} and len(lines) == 2
    assert lines[0].startswith("evaluate: trained linear probe: accuracy ") and "fitted on 60 x 8 features" in lines[0]
    assert lines[0].endswith("1 fits did not converge)") and lines[1].startswith("evaluate: trained knn probe:")
    summary = progress.convergence_summary()
    assert summary is not None and "\n" not in summary
    assert summary.startswith("1 probe solver fits stopped at their iteration limit before converging: trained linear (1)")


def test_without_progress_nothing_is_reported_and_converged_fits_give_no_summary():
    (train, train_labels), (test, test_labels) = blobs(), blobs(seed=1)
    progress = ProbeProgress(write=lambda line: None)
    evaluate_features(train, train_labels, test, test_labels, num_classes=3, class_rank=np.arange(3), probes=("knn",), progress=progress)
    assert progress.convergence_summary() is None
