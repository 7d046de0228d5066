"""Statistics over seeds: t intervals, Welch comparisons, strength grades."""

import math

import pytest

from priormatch.diagnose.statistics import compare, strength, summarize


def test_summary_matches_hand_computed_t_interval():
    s = summarize([0.70, 0.72, 0.74])
    assert s.mean == pytest.approx(0.72)
    assert s.std == pytest.approx(0.02)
    assert s.half_width == pytest.approx(4.302653 * 0.02 / math.sqrt(3), rel=1e-5)
    assert s.format() == f"72.0 ± {100 * s.half_width:.1f}"


def test_one_value_has_no_interval_and_nan_is_dropped():
    s = summarize([0.5, float("nan")])
    assert s.n == 1 and math.isnan(s.half_width) and s.format() == "50.0"
    assert summarize([]).format() == "-"


def test_clear_difference_when_intervals_do_not_overlap():
    c = compare([0.80, 0.81, 0.82], [0.60, 0.61, 0.62])
    assert c.difference == pytest.approx(0.2)
    assert c.excludes_zero and not c.intervals_overlap
    assert strength(c) == "clear"


def test_no_difference_for_noisy_equal_means():
    c = compare([0.6, 0.7, 0.8], [0.8, 0.7, 0.6])
    assert c.difference == pytest.approx(0.0, abs=1e-12)
    assert strength(c) == "none"


def test_likely_when_difference_excludes_zero_but_intervals_overlap():
    a = [0.700, 0.740, 0.720, 0.730, 0.710, 0.725, 0.715, 0.735]
    b = [x - 0.02 for x in a]
    c = compare(a, b)
    assert c.excludes_zero and c.intervals_overlap and strength(c) == "likely"


def test_one_seed_comparison_is_never_significant():
    assert strength(compare([0.9], [0.1])) == "none"
