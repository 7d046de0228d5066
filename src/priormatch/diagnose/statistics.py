"""Mean, spread and 95% confidence intervals over seeds; comparisons of two cells.

Intervals are Student-t intervals of the mean (few seeds: t with n - 1 degrees of freedom, 4.30
for 3 seeds). A comparison reports the difference of means with a Welch interval (unequal
variances), and whether the two cells' own intervals overlap. :func:`strength` grades it:
``clear`` (the intervals do not even overlap), ``likely`` (the difference's interval excludes 0
although the cells' intervals overlap) or ``none`` (no detectable difference at this scale).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
Strength = Literal["clear", "likely", "none"]


@dataclass(frozen=True)
class Summary:
    mean: float
    std: float  # sample standard deviation (n - 1); NaN for one value
    n: int
    half_width: float  # of the 95% interval; NaN for one value

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def format(self, scale: float = 100.0, digits: int = 1) -> str:
        """'71.2 ± 1.3' (mean ± 95% half-width, times ``scale``), or '71.2' for one seed."""
        if math.isnan(self.mean):
            return "-"
        if math.isnan(self.half_width):
            return f"{self.mean * scale:.{digits}f}"
        return f"{self.mean * scale:.{digits}f} ± {self.half_width * scale:.{digits}f}"


@dataclass(frozen=True)
class Comparison:
    difference: float  # mean(a) - mean(b)
    low: float  # 95% Welch interval of the difference
    high: float
    intervals_overlap: bool  # do the two cells' own 95% intervals overlap?

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def t_quantile(degrees_of_freedom: float) -> float:
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, degrees_of_freedom))


def summarize(values: Sequence[float]) -> Summary:
    """Mean, standard deviation and 95% interval half-width of ``values`` (NaN entries dropped)."""
    array = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if array.size == 0:
        return Summary(math.nan, math.nan, 0, math.nan)
    if array.size == 1:
        return Summary(float(array[0]), math.nan, 1, math.nan)
    std = float(array.std(ddof=1))
    return Summary(float(array.mean()), std, int(array.size), t_quantile(array.size - 1) * std / math.sqrt(array.size))


def compare(a: Sequence[float], b: Sequence[float]) -> Comparison:
    """mean(a) - mean(b) with a Welch 95% interval (NaN bounds when either side has one value)."""
    sa, sb = summarize(a), summarize(b)
    difference = sa.mean - sb.mean
    if sa.n < 2 or sb.n < 2:
        return Comparison(difference, math.nan, math.nan, True)
    va, vb = sa.std**2 / sa.n, sb.std**2 / sb.n
    se = math.sqrt(va + vb)
    if se == 0:
        return Comparison(difference, difference, difference, difference == 0)
    dof = (va + vb) ** 2 / (va**2 / (sa.n - 1) + vb**2 / (sb.n - 1))
    half = t_quantile(dof) * se
    overlap = sa.low <= sb.high and sb.low <= sa.high
    return Comparison(difference, difference - half, difference + half, overlap)


def strength(comparison: Comparison) -> Strength:
    if not comparison.excludes_zero:
        return "none"
    return "likely" if comparison.intervals_overlap else "clear"


# ---- one-sided tests with a stated error rate --------------------------------------------------

POWER = 0.8  # for the smallest detectable effect


@dataclass(frozen=True)
class OneSidedTest:
    """A t test of ``effect`` at level ``alpha`` in each direction (e.g. alpha / m after Bonferroni).

    ``low`` / ``high`` bound the ``1 - 2 alpha`` interval, so ``low > 0`` is the one-sided test of
    "effect > 0" at level alpha and ``high < 0`` that of "effect < 0". ``detectable`` is the
    smallest true effect found with probability ``POWER`` at this standard error and these degrees
    of freedom (NaN where there is no interval: fewer than two units).
    """

    effect: float
    low: float
    high: float
    alpha: float
    detectable: float
    units: int

    @property
    def greater(self) -> bool:
        return self.low > 0

    @property
    def less(self) -> bool:
        return self.high < 0


@lru_cache(maxsize=1024)
def t_quantile_at(probability: float, degrees_of_freedom: float) -> float:
    """Student-t quantile (cached: verdicts and their simulations ask for few distinct ones)."""
    return float(stats.t.ppf(probability, degrees_of_freedom))


def _t_test(effect: float, standard_error: float, dof: float, alpha: float, units: int) -> OneSidedTest:
    if not dof >= 1 or math.isnan(standard_error):
        return OneSidedTest(effect, math.nan, math.nan, alpha, math.nan, units)
    critical = t_quantile_at(1 - alpha, dof)
    detectable = (critical + t_quantile_at(POWER, dof)) * standard_error
    return OneSidedTest(effect, effect - critical * standard_error, effect + critical * standard_error, alpha, detectable, units)


def paired_test(differences: Sequence[float], alpha: float) -> OneSidedTest:
    """One-sample t test of the mean of per-unit ``differences`` (e.g. per-seed paired differences)."""
    array = np.asarray(differences, dtype=np.float64)
    if array.size < 2:
        return _t_test(float(array.mean()) if array.size else math.nan, math.nan, 0, alpha, int(array.size))
    return _t_test(float(array.mean()), float(array.std(ddof=1)) / math.sqrt(array.size), array.size - 1, alpha, int(array.size))


def two_sample_test(a: Sequence[float], b: Sequence[float], alpha: float) -> OneSidedTest:
    """Pooled-variance (Student) t test of mean(a) - mean(b), units exchangeable under the null."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    effect = float(x.mean() - y.mean()) if x.size and y.size else math.nan
    dof = x.size + y.size - 2
    if x.size < 1 or y.size < 1 or dof < 1:
        return _t_test(effect, math.nan, 0, alpha, int(x.size + y.size))
    pooled = (((x - x.mean()) ** 2).sum() + ((y - y.mean()) ** 2).sum()) / dof
    return _t_test(effect, math.sqrt(pooled * (1 / x.size + 1 / y.size)), dof, alpha, int(x.size + y.size))
