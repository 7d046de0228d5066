"""Mean, spread and 95% confidence intervals over seeds; comparisons of two cells.

Intervals are Student-t intervals of the mean (few seeds: t with n - 1 degrees of freedom, 4.30
for 3 seeds). A comparison reports the difference of means with a Welch interval (unequal
variances), and whether the two cells' own intervals overlap. :func:`strength` grades it:
``clear`` (the intervals do not even overlap), ``likely`` (the difference's interval excludes 0
although the cells' intervals overlap) or ``none`` (no detectable difference at this scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

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
