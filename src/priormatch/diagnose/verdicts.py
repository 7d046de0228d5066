"""Plain-language verdicts, each a test with a stated false-"agrees" rate: the machinery they share.

A verdict says whether the small-scale numbers *agree* with the paper's claim, *disagree*, are
*inconclusive*, or are *not judged* because the encoders did not learn (:func:`learning_gate`).
Every verdict is a one-sided t test (:mod:`priormatch.diagnose.statistics`) at level ``alpha``
shared out over the comparisons it looks at (Bonferroni), with the right unit. This module holds
what the verdicts share (:class:`Verdict`, the sentences, the gate); each claim's decision rule and
its unit live in its experiment's module under :mod:`priormatch.diagnose.experiments`.

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

from priormatch.diagnose.statistics import OneSidedTest, paired_test

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
