"""Plain-language verdicts per claim, each a test with a stated false-"agrees" rate.

A verdict says whether the small-scale numbers *agree* with the paper's claim, *disagree*, are
*inconclusive*, or are *not judged* because the encoders did not learn (:func:`learning_gate`).
Every verdict is a one-sided t test (:mod:`priormatch.diagnose.statistics`) at level ``alpha``
shared out over the comparisons it looks at (Bonferroni), with the right unit:

* claim 1: seeds (usage entropy of unaugmented images against the classes' entropy);
* claim 2: *methods* (each method's mean per-seed drop; methods with and without a batch
  regulariser compared by a pooled t test), so the method-to-method spread is part of the noise;
* claim 3: seeds (paired purity differences), over the gallery methods;
* claim 4: seeds (paired differences to the baseline), over every prior arm and long-tailed
  condition; "agrees" also needs no arm to help on balanced data;
* claim 5: seeds (paired digit-accuracy differences).

So, under the null of no effect, "agrees" is said at most ``alpha`` of the time for each verdict
(``tests/test_diagnose_null_rates.py`` simulates it on the quick and full grids). Each verdict
states the smallest effect it could have detected at its seeds (80% power). Accuracies are
fractions; the text reports percentage points (pp).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from priormatch.diagnose.statistics import OneSidedTest, paired_test, two_sample_test

Outcome = Literal["agrees", "disagrees", "inconclusive", "not_judged"]
OUTCOMES: tuple[Outcome, ...] = ("agrees", "disagrees", "inconclusive", "not_judged")
ALPHA = 0.05

HEADLINES = {
    "agrees": "Agrees with the paper.",
    "disagrees": "Disagrees with the paper.",
    "inconclusive": "Inconclusive.",
    "not_judged": "Not judged: the encoders did not learn enough.",
}

BySeed = Mapping[int, float]  # seed -> value of one cell


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    text: str
    alpha: float = ALPHA
    effect: float = math.nan  # the tested difference (fraction), NaN when there is none
    ci_low: float = math.nan  # its 1 - 2 alpha' interval (alpha' = alpha / comparisons)
    ci_high: float = math.nan

    def __str__(self) -> str:
        return f"{HEADLINES[self.outcome]} {self.text}"

    def record(self, claim: str) -> dict[str, Any]:
        """The machine-readable form in summary.json (NaN as null)."""
        number = lambda value: None if math.isnan(value) else float(value)  # noqa: E731
        return {
            "claim": claim,
            "verdict": self.outcome,
            "alpha": self.alpha,
            "effect": number(self.effect),
            "ci_low": number(self.ci_low),
            "ci_high": number(self.ci_high),
            "text": self.text,
        }


def from_test(outcome: Outcome, text: str, test: OneSidedTest, alpha: float) -> Verdict:
    return Verdict(outcome, text, alpha, test.effect, test.low, test.high)


def not_judged(reason: str, alpha: float = ALPHA) -> Verdict:
    return Verdict("not_judged", reason, alpha)


def pp(value: float) -> str:
    return f"{100 * value:+.1f} pp"


def describe(test: OneSidedTest) -> str:
    """'+2.4 pp (one-sided 95% bounds -0.4 to +5.2 at alpha 0.05; detectable: 3.1 pp, 3 units)'."""
    if math.isnan(test.low):
        return f"{pp(test.effect)} (fewer than two units: no test)"
    level = 100 * (1 - 2 * test.alpha)
    return (
        f"{pp(test.effect)} ({level:.4g}% interval {100 * test.low:+.1f} to {100 * test.high:+.1f}, one-sided level "
        f"{test.alpha:.3g}; smallest effect detectable at 80% power: {100 * test.detectable:.1f} pp over {test.units} units)"
    )


def directional_outcome(test: OneSidedTest) -> Outcome:
    """agrees when the effect is positive at the test's level, disagrees when negative, else inconclusive."""
    if test.greater:
        return "agrees"
    return "disagrees" if test.less else "inconclusive"


def paired_differences(a: BySeed, b: BySeed) -> list[float]:
    """a - b on the seeds both cells have."""
    return [a[seed] - b[seed] for seed in sorted(a) if seed in b]


# ---- the gate ----------------------------------------------------------------------------------


def learning_gate(gains: Mapping[str, Sequence[float]], alpha: float = ALPHA) -> str | None:
    """None when every arm learned; else why the verdict is not judged.

    ``gains[arm]``: per-run (trained - untrained) linear-probe accuracy of the arm's runs that a
    verdict compares. An arm learned when the one-sided lower bound of its mean gain at level
    ``alpha`` is above zero; with fewer than two runs, or no untrained baseline recorded, it has
    not shown it.
    """
    failed = []
    for arm, values in gains.items():
        test = paired_test(values, alpha)
        if not values:
            failed.append(f"{arm} (no untrained-encoder baseline in eval.json; rerun `priormatch evaluate`)")
        elif not test.greater:
            failed.append(
                f"{arm} ({pp(test.effect)} over the untrained encoder, lower bound {pp(test.low)})"
                if not math.isnan(test.low)
                else f"{arm} (one run: no interval)"
            )
    if not failed:
        return None
    return (
        "Pretraining did not beat the untrained encoder by a margin whose one-sided "
        f"{100 * (1 - alpha):.0f}% lower bound is above zero for: {'; '.join(failed)}. No claim is judged on such features."
    )


# ---- claims ------------------------------------------------------------------------------------


def batch_composition_verdict(
    shuffled: Mapping[str, BySeed],
    imbalanced: Mapping[str, BySeed],
    reference: set[str],
    condition: str,
    *,
    comparisons: int = 1,
    alpha: float = ALPHA,
) -> Verdict:
    """Claim 2: the drop under class-imbalanced batches is larger with a batch regulariser.

    Unit: a method (its mean per-seed paired drop shuffled - imbalanced); the two groups of methods
    are compared by a pooled t test at ``alpha / comparisons`` (one comparison per condition).
    """
    methods = [m for m in shuffled if m in imbalanced]
    drops = {m: float(np.mean(d)) for m in methods if (d := paired_differences(shuffled[m], imbalanced[m]))}
    head = "Accuracy change from shuffled to " + condition + " batches: " + "; ".join(f"{m} {pp(-d)}" for m, d in drops.items()) + "."
    regularised = [m for m in drops if m not in reference]
    unregularised = [m for m in drops if m in reference]
    level = alpha / comparisons
    if len(regularised) < 1 or len(unregularised) < 1 or len(drops) < 3:
        return Verdict("inconclusive", f"{head} Needs methods with and without a batch regulariser (3 or more in all) to compare.", alpha)
    test = two_sample_test([drops[m] for m in regularised], [drops[m] for m in unregularised], level)
    text = (
        f"{head} Mean drop with a batch regulariser ({', '.join(regularised)}): {100 * np.mean([drops[m] for m in regularised]):.1f} pp; "
        f"without ({', '.join(unregularised)}): {100 * np.mean([drops[m] for m in unregularised]):.1f} pp. The extra drop of the "
        f"regularised methods, methods as units: {describe(test)}."
    )
    return from_test(directional_outcome(test), text, test, alpha)


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


def overlay_verdict(
    digit: Mapping[str, BySeed], clothing: Mapping[str, BySeed], baseline: str, candidate: str, *, alpha: float = ALPHA
) -> Verdict:
    """Claim 5: the uniform prior loses the power-law digit; the matched power-law prior keeps it."""
    digits = paired_test(paired_differences(digit[candidate], digit[baseline]), alpha)
    clothes = paired_test(paired_differences(clothing[candidate], clothing[baseline]), alpha)
    text = f"Digit accuracy of {candidate} minus {baseline}: {describe(digits)}; clothing accuracy: {describe(clothes)}."
    return from_test(directional_outcome(digits), text, digits, alpha)


def prototype_verdict(
    purity: Mapping[str, BySeed], balanced: str, imbalanced: str, method: str, *, comparisons: int = 1, alpha: float = ALPHA
) -> Verdict:
    """Claim 3: prototypes look like classes with shuffled batches, less so with class-imbalanced ones.

    ``purity[condition]``: per-seed majority-class share of the top images of the most used
    prototypes; paired by seed, at ``alpha / comparisons`` (one comparison per gallery method).
    """
    test = paired_test(paired_differences(purity[balanced], purity[imbalanced]), alpha / comparisons)
    text = (
        f"{method} prototype purity (share of the majority class among each top prototype's top images): "
        f"{100 * np.mean(list(purity[balanced].values())):.0f}% with {balanced} batches vs "
        f"{100 * np.mean(list(purity[imbalanced].values())):.0f}% with {imbalanced} batches, a difference of {describe(test)}."
    )
    return from_test(directional_outcome(test), text, test, alpha)


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
