"""The report's recommendation: which prior to use on this data, from the prior-matching runs.

Rule (fixed before any run; ``recommend``): per data condition, every arm is compared with the
uniform-prior baseline (MSN) by the paired per-seed difference in linear-probe accuracy and in
tail accuracy, each with its 95% Student-t interval. An arm is *recommended* when its accuracy
interval lies above 0 and its tail interval does not lie below 0; among several, the one with the
largest mean accuracy gain. Otherwise the baseline stays and the report says "no difference
detected at this budget", naming the best mean and its interval. When the encoders did not beat
their untrained initialisation (:func:`priormatch.diagnose.verdicts.learning_gate`) there is no
recommendation at all: a prior chosen on random features means nothing.
"""

from __future__ import annotations

import math

from priormatch.diagnose.document import Section, Table
from priormatch.diagnose.results import RunResult, arms, by_seed, conditions, untrained_gains
from priormatch.diagnose.statistics import Summary, summarize
from priormatch.diagnose.verdicts import learning_gate


def paired_difference(results: list[RunResult], arm: str, baseline: str, condition: str, metric: str) -> Summary:
    """Mean and 95% interval of (arm - baseline) ``metric`` of the linear probe over the seeds both ran."""
    mine, theirs = by_seed(results, arm, condition, metric), by_seed(results, baseline, condition, metric)
    return summarize([mine[seed] - theirs[seed] for seed in mine if seed in theirs])


def recommend(results: list[RunResult], baseline: str, condition: str) -> tuple[str, list[list[str]]]:
    """(one sentence, table rows) for one data condition."""
    differences = {
        arm: (
            paired_difference(results, arm, baseline, condition, "accuracy"),
            paired_difference(results, arm, baseline, condition, "tail_accuracy"),
        )
        for arm in arms(results)
        if arm != baseline
    }
    rows = [[condition, arm, _interval(accuracy), _interval(tail), str(accuracy.n)] for arm, (accuracy, tail) in differences.items()]
    helpful = [(accuracy.mean, arm) for arm, (accuracy, tail) in differences.items() if accuracy.low > 0 and not tail.high < 0]
    if helpful:
        gain, arm = max(helpful)
        return f"On {condition}: use **{arm}**: {_pp(gain)} linear accuracy over {baseline} (interval above 0).", rows
    best = max(differences.items(), key=lambda item: -math.inf if math.isnan(item[1][0].mean) else item[1][0].mean, default=None)
    detail = f" (best mean: {best[0]}, {_interval(best[1][0])})" if best is not None else ""
    return f"On {condition}: no difference detected at this budget; keep {baseline}{detail}.", rows


def recommendation_section(results: list[RunResult], baseline: str) -> tuple[Section, list[str]]:
    """The section and its sentences (also written to summary.json)."""
    section = Section("Recommendation")
    gate = learning_gate({a: untrained_gains(results, a, conditions(results)) for a in arms(results)})
    if gate:
        sentences = [f"No recommendation: {gate}"]
        section.paragraphs += sentences
        return section, sentences
    sentences, rows = [], []
    for condition in conditions(results):
        sentence, condition_rows = recommend(results, baseline, condition)
        sentences.append(sentence)
        rows += condition_rows
    section.paragraphs += sentences
    caption = (
        f"Paired differences to {baseline} (same seed), linear probe, in points: mean [95% interval]. An arm is "
        "recommended when its accuracy interval lies above 0 and its tail interval not below 0."
    )
    section.tables.append(Table(["data", "arm", "accuracy", "tail accuracy", "seeds"], rows, caption))
    return section, sentences


def _pp(value: float) -> str:
    return f"{100 * value:+.1f} pp"


def _interval(summary: Summary) -> str:
    if math.isnan(summary.mean):
        return "-"
    if math.isnan(summary.half_width):
        return f"{_pp(summary.mean)} (one seed)"
    return f"{_pp(summary.mean)} [{100 * summary.low:+.1f}, {100 * summary.high:+.1f}]"
