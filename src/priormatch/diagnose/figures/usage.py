"""Prototype usage sorted by rank against the prior, on log-log axes (one line per run)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priormatch.diagnose.figures.png import new_figure, to_png


@dataclass(frozen=True)
class UsageCurve:
    label: str
    usage: np.ndarray  # (K,) mean assignment probability per prototype
    prior: np.ndarray  # (K,)


def usage_figure(curves: list[UsageCurve], title: str = "") -> bytes:
    """Usage p_bar (solid) and the prior (dashed, same colour), both sorted in decreasing order."""
    figure = new_figure(6.0, 4.2)
    axes = figure.add_subplot(1, 1, 1)
    for index, curve in enumerate(curves):
        color = f"C{index % 10}"
        ranks = np.arange(1, len(curve.usage) + 1)
        axes.loglog(ranks, np.sort(curve.usage)[::-1], color=color, label=f"{curve.label}: usage")
        axes.loglog(ranks, np.sort(curve.prior)[::-1], color=color, linestyle="--", alpha=0.7, label=f"{curve.label}: prior")
    axes.set_xlabel("prototype rank (most used first)")
    axes.set_ylabel("mean assignment probability")
    axes.set_title(title or "prototype usage vs prior")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    return to_png(figure)
