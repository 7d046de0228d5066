"""Table cells from per-seed values: 'mean ± 95% half-width' in percent."""

from __future__ import annotations

from collections.abc import Sequence

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


def reference_note(baselines: list[str], arm: str) -> str:
    """Caption sentence on the reference rows of ``baselines`` (taken from ``arm``'s runs); "" without any."""
    if not baselines:
        return ""
    return (
        f" Reference rows ({arm}'s runs, same probes and labelled rows): the untrained encoder is the evaluated "
        "encoder at its initialisation, the raw input the flattened inputs standardised with the probe's training rows."
    )


def test_split_note(records: list[dict]) -> str:
    """'test split balanced (1,000 per class)' or 'test split imbalanced (counts 12 to 1,000)', from
    eval.json's ``test_class_counts`` (absent in records older than it: says so)."""
    counts = [tuple(r["test_class_counts"]) for r in records if "test_class_counts" in r]
    if not counts:
        return "test split balance not recorded"
    low, high = min(min(c) for c in counts), max(max(c) for c in counts)
    return f"test split balanced ({high:,} per class)" if low == high else f"test split imbalanced (class counts {low:,} to {high:,})"
