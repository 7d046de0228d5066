"""Prior matching (claims 4 and 1): MSN vs PMSN over a tau grid on balanced and long-tailed subsets.

Plan: MSN and PMSN at each tau and each Sinkhorn target balancing (uniform marginals, MSN's, or
the prior's own), on subsets of one size with each imbalance ratio (1 = balanced). With ratio 1
and shuffled batches MSN's cell equals the batch-composition MSN cell, so the cache trains it once.

Claim 4 (a non-uniform prior helps on long-tailed data and not on balanced data): the unit is a
seed (paired differences to the baseline); every (prior arm, long-tailed condition) pair is a
one-sided paired t test at alpha / pairs. Agrees when one helps and no arm helps on balanced data
(tested at alpha / arms); disagrees when an arm hurts on long-tailed data or helps on balanced
data; else inconclusive.

Claim 1 (a uniform-prior method spreads its usage more evenly than the data's classes are
spread), on the most imbalanced condition: the unit is a seed (the baseline's argmax usage
entropy of held-out unaugmented images minus the entropy of the classes spread over the K
prototypes), agrees when it is larger at alpha.

Neither is judged when an arm compared did not beat its untrained encoder (the learning gate).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from priormatch.diagnose.cells import Cell, condition_for_ratio, pmsn_arm
from priormatch.diagnose.config import DiagnoseConfig
from priormatch.diagnose.document import Figure, Section, Table
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
from priormatch.diagnose.statistics import paired_test, summarize
from priormatch.diagnose.tables import cell, reference_note, seeds_note, test_split_note
from priormatch.diagnose.verdicts import (
    ALPHA,
    BySeed,
    Outcome,
    Verdict,
    describe,
    directional_outcome,
    from_test,
    learning_gate,
    not_judged,
    paired_differences,
)
from priormatch.priors import prior_from_class_counts
from priormatch.training.run_dir import RunDirectory

NAME = "prior_matching"
TITLE = "Prior matching on balanced vs long-tailed data (claim 4)"


# ---- plan --------------------------------------------------------------------------------------


def cells(config: DiagnoseConfig) -> list[Cell]:
    experiment = config.prior_matching
    cells = []
    for ratio in experiment.imbalance_ratios:
        data = ("data.sampler=shuffle", f"data.imbalance_ratio={float(ratio)}")
        condition = condition_for_ratio(ratio)
        baseline_prior = () if experiment.baseline_prior is None else (f"method.prior={experiment.baseline_prior}",)
        cells.append(Cell(NAME, experiment.baseline_arm, condition, experiment.baseline, data + baseline_prior))
        for tau in experiment.taus:
            prior = ("method.prior=power_law", f"method.tau={float(tau)}")
            for marginals in experiment.sinkhorn_marginals:
                targets = (f"method.sinkhorn_marginals={marginals}",)
                arm = pmsn_arm(experiment.method, tau, marginals if len(experiment.sinkhorn_marginals) > 1 else None)
                cells.append(Cell(NAME, arm, condition, experiment.method, data + prior + targets))
    return cells


# ---- tables and figures ------------------------------------------------------------------------


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


# ---- verdicts ----------------------------------------------------------------------------------


def prior_matching_verdict(
    cells: Mapping[str, Mapping[str, BySeed]], baseline: str, balanced: str = "balanced", *, alpha: float = ALPHA
) -> Verdict:
    """Claim 4: a non-uniform prior helps on long-tailed data and not on balanced data.

    ``cells[condition][arm]``: per-seed accuracies. Every (prior arm, long-tailed condition) pair is
    a paired test against ``baseline`` at ``alpha / pairs``; "agrees" when one is positive and no
    arm helps on balanced data (tested at ``alpha / arms``); "disagrees" when an arm hurts on
    long-tailed data or helps on balanced data; else inconclusive.
    """
    tails = {c: arms for c, arms in cells.items() if c != balanced and baseline in arms}
    pairs = [(c, arm) for c, arms in tails.items() for arm in arms if arm != baseline]
    if not pairs:
        return Verdict("inconclusive", "No long-tailed condition has both the baseline and a prior arm.", alpha)
    tail_level = alpha / len(pairs)
    tests = {(c, arm): paired_test(paired_differences(cells[c][arm], cells[c][baseline]), tail_level) for c, arm in pairs}
    balanced_arms = [arm for arm in cells.get(balanced, {}) if arm != baseline and baseline in cells[balanced]]
    balanced_tests = {
        arm: paired_test(paired_differences(cells[balanced][arm], cells[balanced][baseline]), alpha / max(1, len(balanced_arms)))
        for arm in balanced_arms
    }
    sentences = [f"{c}: {arm} vs {baseline} {describe(tests[(c, arm)])}" for c, arm in pairs]
    sentences += [f"{balanced}: {arm} vs {baseline} {describe(t)}" for arm, t in balanced_tests.items()]
    helping = [t for t in tests.values() if t.greater]
    against = [t for t in tests.values() if t.less] + [t for t in balanced_tests.values() if t.greater]
    if helping and not against:
        outcome: Outcome = "agrees"
        deciding = max(helping, key=lambda t: t.low)
    elif against:
        outcome, deciding = "disagrees", against[0]
    else:
        outcome = "inconclusive"
        deciding = max(tests.values(), key=lambda t: t.effect if not math.isnan(t.effect) else -math.inf)
    note = (
        f" Every arm is tested (Bonferroni over {len(pairs)} long-tailed comparisons), so no arm is picked on the "
        "test numbers; the effect recorded is the comparison that decides the verdict."
    )
    return from_test(outcome, "; ".join(sentences) + "." + note, deciding, alpha)


def uniform_usage_verdict(method: str, usage_entropy: BySeed, class_entropy: float, condition: str, *, alpha: float = ALPHA) -> Verdict:
    """Claim 1: a uniform-prior method spreads its usage more evenly than the data's classes are spread.

    ``usage_entropy[seed]``: H / log K of the shares of held-out unaugmented images (the
    pretraining class profile, images the run never saw) whose most probable prototype is k
    (argmax, not the batch p_bar that me-max maximises, so a collapsed model fails it); ``class_entropy``: H / log K of the class frequencies spread over the K
    prototypes (:func:`priormatch.priors.prior_from_class_counts`), the usage a prior matched to
    the classes would give. Agrees when usage entropy is larger at level ``alpha``.
    """
    test = paired_test([value - class_entropy for value in usage_entropy.values()], alpha)
    mean = float(np.mean(list(usage_entropy.values())))
    text = (
        f"On {condition} data, {method}'s prototype usage (argmax shares of held-out unaugmented images) has entropy {mean:.2f} of log K; "
        f"the classes spread over the K prototypes would give {class_entropy:.2f}. Usage minus classes: "
        f"{test.effect:+.3f} (interval {test.low:+.3f} to {test.high:+.3f}, one-sided level {alpha:g})."
    )
    outcome = directional_outcome(test)
    tail = {
        "agrees": " Usage is spread more evenly than the classes: the hidden uniform prior.",
        "disagrees": " Usage is less even than the classes: the uniform prior is not visible here.",
        "inconclusive": "",
    }[outcome]
    return from_test(outcome, text + tail, test, alpha)


def claim_one(config: DiagnoseConfig, results: list[RunResult], condition: str, cache: PrototypeCache) -> Verdict | None:
    """Claim 1 on ``condition``: the baseline's argmax usage of unaugmented pretraining images against the classes."""
    baseline = config.prior_matching.baseline_arm
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


# ---- the section --------------------------------------------------------------------------------


def build_section(config: DiagnoseConfig, results: list[RunResult], cache: PrototypeCache) -> tuple[Section, dict[str, Verdict]]:
    experiment = config.prior_matching
    section = Section(TITLE)
    section.paragraphs.append(
        f"{experiment.baseline_arm} (uniform prior) and {experiment.method} with a power-law prior pi_k ~ k^-tau "
        f"(tau in {', '.join(f'{t:g}' for t in experiment.taus)}) pretrain on subsets of the same size with imbalance "
        f"ratios {', '.join(f'{r:g}' for r in experiment.imbalance_ratios)} (1 = balanced)."
    )
    section.tables += [accuracy_table(results), winners_table(results)]
    cells = {c: {a: by_seed(results, a, c) for a in arms(results)} for c in conditions(results)}
    gate = learning_gate({a: untrained_gains(results, a, conditions(results)) for a in arms(results)})
    claims = {
        "claim 4": not_judged(gate) if gate else prior_matching_verdict(cells, experiment.baseline_arm, balanced=condition_for_ratio(1.0))
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
