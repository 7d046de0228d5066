"""Evaluation of frozen representations: feature extraction, probes, and long-tail metrics."""

from priormatch.evaluation.features import extract_features
from priormatch.evaluation.metrics import classification_metrics, split_groups
from priormatch.evaluation.probe_eval import balanced_probe_indices, evaluate_features, format_results_table
from priormatch.evaluation.probes import PROBES, KNNProbe, LinearProbe, SVMProbe

__all__ = [
    "PROBES",
    "KNNProbe",
    "LinearProbe",
    "SVMProbe",
    "balanced_probe_indices",
    "classification_metrics",
    "evaluate_features",
    "extract_features",
    "format_results_table",
    "split_groups",
]
