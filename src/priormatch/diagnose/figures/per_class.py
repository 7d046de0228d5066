"""Per-class accuracy against the class's frequency in the pretraining data (log x axis)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priormatch.diagnose.figures.png import new_figure, to_png


@dataclass(frozen=True)
class PerClassSeries:
    label: str
    counts: np.ndarray  # (C,) pretraining images per class
    accuracy: np.ndarray  # (C,) mean per-class test accuracy (NaN where absent)


def per_class_figure(panels: dict[str, list[PerClassSeries]], ylabel: str = "linear-probe accuracy per class") -> bytes:
    """One panel per key (e.g. per imbalance ratio), one marker series per arm."""
    figure = new_figure(4.6 * max(len(panels), 1), 3.8)
    for column, (title, series) in enumerate(panels.items()):
        axes = figure.add_subplot(1, max(len(panels), 1), column + 1)
        for index, item in enumerate(series):
            order = np.argsort(item.counts)
            axes.plot(item.counts[order], item.accuracy[order], marker="o", markersize=4, color=f"C{index % 10}", label=item.label)
        axes.set_xscale("log")
        axes.set_xlabel("pretraining images of the class")
        axes.set_ylabel(ylabel)
        axes.set_title(title)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7)
    return to_png(figure)
