"""Prior matching (claims 4 and 1): MSN vs PMSN over a tau grid on balanced and long-tailed subsets."""

from __future__ import annotations

import math

import numpy as np

from priormatch.diagnose.config import DiagnoseConfig
from priormatch.diagnose.document import Figure, Section, Table
from priormatch.diagnose.experiments import TITLES, condition_for_ratio
from priormatch.diagnose.figures.per_class import PerClassSeries, per_class_figure
from priormatch.diagnose.figures.training_curves import curve_from_metrics, training_curves_figure
from priormatch.diagnose.figures.usage import UsageCurve, usage_figure
from priormatch.diagnose.prototype_cache import PrototypeCache
from priormatch.diagnose.results import (
    BASELINE_LABELS,
    RunResult,
    arms,
    by_seed,
    conditions,
    recorded_baselines,
    reference_arm,
    untrained_gains,
    values,
)
from priormatch.diagnose.statistics import summarize
from priormatch.diagnose.tables import cell, reference_note, seeds_note, test_split_note
from priormatch.diagnose.verdicts import Verdict, learning_gate, not_judged, prior_matching_verdict, uniform_usage_verdict
from priormatch.priors import prior_from_class_counts
from priormatch.training.run_dir import RunDirectory

EXPERIMENT = "prior_matching"
METRICS = (
    ("accuracy", "linear"),
    ("head_accuracy", "linear"),
    ("medium_accuracy", "linear"),
    ("tail_accuracy", "linear"),
    ("accuracy", "knn"),
)


def accuracy_table(results: list[RunResult]) -> Table:
    columns = ["data", "arm", "linear acc", "head", "medium", "tail", "kNN acc"]
    baselines = recorded_baselines(results)
    # Per condition: every arm, then the reference rows (label, arm whose runs give them, baseline).
    labelled = [(arm, arm, "") for arm in arms(results)] + [(BASELINE_LABELS[b], reference_arm(results), b) for b in baselines]
    rows = [
        [condition, label] + [cell(values(results, arm, condition, metric, probe=probe, baseline=baseline)) for metric, probe in METRICS]
        for condition in conditions(results)
        for label, arm, baseline in labelled
    ]
    seeds = {len(values(results, a, c)) for a in arms(results) for c in conditions(results)}
    caption = (
        f"Linear probe on a class-balanced labelled set, {test_split_note([r.evaluations[''] for r in results])}; "
        "head/medium/tail: thirds of the classes "
        "by pretraining frequency (class-balanced accuracy within each). " + seeds_note(seeds)
    )
    return Table(columns, rows, caption + reference_note(baselines, reference_arm(results)))


def winners_table(results: list[RunResult]) -> Table:
    rows = []
    for condition in conditions(results):
        best = {}
        for metric in ("accuracy", "tail_accuracy"):
            means = {arm: summarize(values(results, arm, condition, metric)).mean for arm in arms(results)}
            best[metric] = max(means, key=lambda arm: -math.inf if math.isnan(means[arm]) else means[arm])
        rows.append([condition, best["accuracy"], best["tail_accuracy"]])
    return Table(["data", "best arm: linear acc", "best arm: tail acc"], rows, "Which prior wins on which data (by the mean over seeds).")


def _first_seed(results: list[RunResult], arm: str, condition: str) -> RunResult | None:
    runs = sorted((r for r in results if r.planned.cell.arm == arm and r.planned.cell.condition == condition), key=lambda r: r.planned.seed)
    return runs[0] if runs else None


def per_class_panels(results: list[RunResult]) -> dict[str, list[PerClassSeries]]:
    panels = {}
    for condition in conditions(results):
        series = []
        for arm in arms(results):
            runs = [r for r in results if r.planned.cell.arm == arm and r.planned.cell.condition == condition]
            if not runs:
                continue
            counts = np.asarray(runs[0].evaluations[""]["class_counts"], dtype=float)
            per_class = [[np.nan if a is None else a for a in r.evaluations[""]["probes"]["linear"]["per_class_accuracy"]] for r in runs]
            series.append(PerClassSeries(arm, counts, np.nanmean(np.asarray(per_class, dtype=float), axis=0)))
        panels[condition] = series
    return panels


def normalised_entropy(shares: np.ndarray) -> float:
    """H(shares) / log len(shares), shares summing to 1."""
    p = shares[shares > 0]
    return float(-(p * np.log(p)).sum() / np.log(len(shares)))


def claim_one(config: DiagnoseConfig, results: list[RunResult], condition: str, cache: PrototypeCache) -> Verdict | None:
    """Claim 1 on ``condition``: the baseline's argmax usage of unaugmented pretraining images against the classes."""
    baseline = config.prior_matching.baseline
    runs = [r for r in results if r.planned.cell.arm == baseline and r.planned.cell.condition == condition]
    if not runs:
        return None
    gate = learning_gate({baseline: untrained_gains(results, baseline, [condition])})
    if gate:
        return not_judged(gate)
    usage = {}
    for run in runs:
        counts = cache.get(run.planned.run_dir, held_out=True).hard_counts
        usage[run.planned.seed] = normalised_entropy(counts / counts.sum())
    k = runs[0].planned.config.method.num_prototypes
    classes = prior_from_class_counts(runs[0].evaluations[""]["class_counts"], k).double().numpy()
    return uniform_usage_verdict(baseline, usage, normalised_entropy(classes), condition)


def build_section(config: DiagnoseConfig, results: list[RunResult], cache: PrototypeCache) -> tuple[Section, dict[str, Verdict]]:
    experiment = config.prior_matching
    section = Section(TITLES[EXPERIMENT])
    section.paragraphs.append(
        f"{experiment.baseline} (uniform prior) and {experiment.method} with a power-law prior pi_k ~ k^-tau "
        f"(tau in {', '.join(f'{t:g}' for t in experiment.taus)}) pretrain on subsets of the same size with imbalance "
        f"ratios {', '.join(f'{r:g}' for r in experiment.imbalance_ratios)} (1 = balanced)."
    )
    section.tables += [accuracy_table(results), winners_table(results)]
    cells = {c: {a: by_seed(results, a, c) for a in arms(results)} for c in conditions(results)}
    gate = learning_gate({a: untrained_gains(results, a, conditions(results)) for a in arms(results)})
    claims = {
        "claim 4": not_judged(gate) if gate else prior_matching_verdict(cells, experiment.baseline, balanced=condition_for_ratio(1.0))
    }
    section.figures.append(
        Figure(
            "per-class-accuracy",
            per_class_figure(per_class_panels(results)),
            "Per-class linear-probe accuracy (mean over seeds) against the class's pretraining frequency.",
        )
    )
    most_imbalanced = condition_for_ratio(max(experiment.imbalance_ratios))
    first = [r for r in (_first_seed(results, arm, most_imbalanced) for arm in arms(results)) if r is not None]
    analyses = [(r.planned.cell.arm, cache.get(r.planned.run_dir)) for r in first]
    section.figures.append(
        Figure(
            "usage-prior-matching",
            usage_figure(
                [UsageCurve(arm, a.usage, a.prior) for arm, a in analyses], f"usage vs prior on {most_imbalanced} data (first seed)"
            ),
            "Prototype usage sorted by rank against each run's prior (dashed), log-log.",
        )
    )
    found = [
        curve_from_metrics(r.planned.cell.arm, RunDirectory(r.planned.run_dir).read_metrics(), r.planned.config.method.num_prototypes)
        for r in first
    ]
    curves = [c for c in found if c is not None]
    if curves:
        section.figures.append(
            Figure(
                "pbar-training",
                training_curves_figure(curves),
                f"Batch p_bar entropy and KL(p_bar || prior) over training on {most_imbalanced} data (first seed).",
            )
        )
    uniform = claim_one(config, results, most_imbalanced, cache)
    if uniform is not None:
        claims["claim 1"] = uniform
    section.verdict = " ".join(f"[{name}] {verdict}" for name, verdict in claims.items())
    return section, claims
