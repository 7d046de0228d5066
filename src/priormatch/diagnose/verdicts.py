"""Plain-language verdicts per experiment, generated from per-seed numbers.

Each verdict says whether the small-scale numbers *agree* with the paper's claim, *disagree*, or
are *inconclusive*, and why, in a few sentences. Differences are judged with
:func:`priormatch.diagnose.statistics.compare` (Welch 95% interval of the difference) and graded
by :func:`~priormatch.diagnose.statistics.strength`: a difference counts only when its interval
excludes zero, and it is called *clear* only when the two cells' own intervals do not overlap.
All accuracies are fractions; the text reports percentage points (pp).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from priormatch.diagnose.statistics import Comparison, compare, strength

Outcome = Literal["agrees", "disagrees", "inconclusive"]

HEADLINES = {"agrees": "Agrees with the paper.", "disagrees": "Disagrees with the paper.", "inconclusive": "Inconclusive."}
WORDS = {"clear": "clearly", "likely": "probably (the per-cell intervals overlap)", "none": "not detectably"}


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    text: str

    def __str__(self) -> str:
        return f"{HEADLINES[self.outcome]} {self.text}"


def pp(value: float) -> str:
    return f"{100 * value:+.1f} pp"


def interval(comparison: Comparison) -> str:
    if np.isnan(comparison.low):
        return "(one seed: no interval)"
    return f"(95% CI {100 * comparison.low:+.1f} to {100 * comparison.high:+.1f})"


def describe(comparison: Comparison) -> str:
    return f"{pp(comparison.difference)} {interval(comparison)}, {WORDS[strength(comparison)]} different from zero"


def signed_outcome(comparison: Comparison, expected_positive: bool = True) -> Outcome:
    if strength(comparison) == "none":
        return "inconclusive"
    return "agrees" if (comparison.difference > 0) == expected_positive else "disagrees"


def paired_drops(before: Sequence[float], after: Sequence[float]) -> list[float]:
    """Per-seed drop before - after (paired by seed order; unpaired mean difference otherwise)."""
    if len(before) == len(after):
        return [b - a for b, a in zip(before, after)]
    return [b - float(np.mean(after)) for b in before]


def batch_composition_verdict(
    shuffled: dict[str, list[float]], imbalanced: dict[str, list[float]], reference: set[str], condition: str
) -> Verdict:
    """Claim 2: the drop under class-imbalanced batches is larger with a batch regulariser."""
    methods = [m for m in shuffled if m in imbalanced]
    drops = {m: paired_drops(shuffled[m], imbalanced[m]) for m in methods}
    regularised = [m for m in methods if m not in reference]
    unregularised = [m for m in methods if m in reference]
    per_method = "; ".join(f"{m} {pp(-compare(shuffled[m], imbalanced[m]).difference)}" for m in methods)
    head = f"Accuracy change from shuffled to {condition} batches: {per_method}."
    if not regularised or not unregularised:
        missing = "without" if not unregularised else "with"
        return Verdict("inconclusive", f"{head} No method {missing} a batch regulariser ran, so the groups cannot be compared.")
    pooled_with = [d for m in regularised for d in drops[m]]
    pooled_without = [d for m in unregularised for d in drops[m]]
    gap = compare(pooled_with, pooled_without)
    text = (
        f"{head} Mean drop with a batch regulariser ({', '.join(regularised)}): {100 * np.mean(pooled_with):.1f} pp; "
        f"without ({', '.join(unregularised)}): {100 * np.mean(pooled_without):.1f} pp. The extra drop of the "
        f"regularised methods is {describe(gap)}."
    )
    return Verdict(signed_outcome(gap), text)


def prior_matching_verdict(cells: dict[str, dict[str, list[float]]], baseline: str, balanced: str = "balanced") -> Verdict:
    """Claim 4: a power-law prior helps on long-tailed data and not on balanced data.

    ``cells[condition][arm]`` are per-seed accuracies; ``balanced`` names the balanced condition.
    """
    sentences, helps_tail, helps_balanced, any_difference = [], False, False, False
    for condition, by_arm in cells.items():
        if baseline not in by_arm:
            continue
        comparisons = {arm: compare(v, by_arm[baseline]) for arm, v in by_arm.items() if arm != baseline}
        if not comparisons:
            continue
        best = max(comparisons, key=lambda arm: comparisons[arm].difference)
        better = [arm for arm, c in comparisons.items() if strength(c) != "none" and c.difference > 0]
        any_difference |= any(strength(c) != "none" for c in comparisons.values())
        if condition == balanced:
            helps_balanced |= bool(better)
        else:
            helps_tail |= bool(better)
        sentences.append(f"{condition}: best {best} vs {baseline} {describe(comparisons[best])}")
    text = "; ".join(sentences) + "."
    if not sentences:
        return Verdict("inconclusive", "No condition has both the baseline and a prior-matched arm.")
    if helps_tail and not helps_balanced:
        outcome: Outcome = "agrees"
    elif not any_difference:
        outcome = "inconclusive"
    else:
        outcome = "disagrees"
    note = " (The best tau is picked on the test numbers shown, so it flatters PMSN slightly.)"
    return Verdict(outcome, text + note)


def overlay_verdict(
    digit: dict[str, list[float]], clothing: dict[str, list[float]], baseline: str, candidate: str
) -> Verdict:
    """Claim 5: the uniform prior loses the power-law digit; the matched power-law prior keeps it."""
    digits = compare(digit[candidate], digit[baseline])
    clothes = compare(clothing[candidate], clothing[baseline])
    text = (
        f"Digit accuracy of {candidate} minus {baseline}: {describe(digits)}; "
        f"clothing accuracy: {describe(clothes)}."
    )
    return Verdict(signed_outcome(digits), text)


def prototype_verdict(purity: dict[str, list[float]], balanced: str, imbalanced: str, method: str) -> Verdict:
    """Claim 3: prototypes look like classes with balanced batches, less so with imbalanced ones.

    ``purity[condition]`` are per-seed majority-class shares of the top images of the most used
    prototypes (a number for "looks like a class").
    """
    gap = compare(purity[balanced], purity[imbalanced])
    text = (
        f"{method} prototype purity (share of the majority class among each top prototype's top images): "
        f"{100 * np.mean(purity[balanced]):.0f}% with {balanced} batches vs {100 * np.mean(purity[imbalanced]):.0f}% "
        f"with {imbalanced} batches, a difference of {describe(gap)}."
    )
    return Verdict(signed_outcome(gap), text)


def uniform_usage_verdict(method: str, usage_entropy: list[float], class_entropy: float, condition: str) -> Verdict:
    """Claim 1 (as far as data can show it): a uniform-prior method spreads usage evenly whatever the data.

    ``usage_entropy``: per-seed H(p_bar) / log K at the end of training; ``class_entropy``: the
    pretraining classes' H / log C. Agrees when usage stays closer to uniform than the data are.
    """
    mean = float(np.mean(usage_entropy))
    text = (
        f"On {condition} data (class entropy {class_entropy:.2f} of its maximum), {method}'s prototype usage has "
        f"entropy {mean:.2f} of log K at the end of training."
    )
    if mean >= 0.95 and class_entropy < mean:
        return Verdict("agrees", text + " Usage stays near uniform although the classes are not: the hidden uniform prior.")
    return Verdict("disagrees", text + " Usage is not near uniform, so the uniform prior is not visible here.")
