"""Table cells from per-seed values: 'mean ± 95% half-width' in percent."""

from __future__ import annotations

from typing import Sequence

from priormatch.diagnose.statistics import compare, summarize


def cell(values: Sequence[float]) -> str:
    return summarize(values).format()


def difference_cell(before: Sequence[float], after: Sequence[float]) -> str:
    """after - before in percentage points, with the Welch 95% half-width."""
    comparison = compare(after, before)
    if comparison.low != comparison.low:  # NaN: fewer than two seeds on a side
        return f"{100 * comparison.difference:+.1f}"
    return f"{100 * comparison.difference:+.1f} ± {100 * (comparison.high - comparison.difference):.1f}"


def relative_cell(before: Sequence[float], after: Sequence[float]) -> str:
    """Relative change of the means, in percent."""
    b, a = summarize(before).mean, summarize(after).mean
    return "-" if not b else f"{100 * (a - b) / b:+.1f}%"


def seeds_note(counts: set[int]) -> str:
    shown = ", ".join(str(n) for n in sorted(counts))
    return f"mean ± 95% CI half-width (Student t) over {shown} seed(s), in %; differences in percentage points (Welch)."
