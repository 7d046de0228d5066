"""p_bar entropy and KL(p_bar || prior) over training, from metrics.jsonl."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from priormatch.diagnose.figures.png import new_figure, to_png

CURVE_METRICS = ("pbar_entropy", "kl_to_prior")


@dataclass(frozen=True)
class TrainingCurve:
    label: str
    steps: np.ndarray  # (T,)
    entropy: np.ndarray  # (T,) H(p_bar) of the batch, nats
    kl: np.ndarray  # (T,) KL(p_bar || prior) of the batch, nats
    num_prototypes: int


def curve_from_metrics(label: str, records: list[dict], num_prototypes: int) -> TrainingCurve | None:
    """A curve from metrics.jsonl records, or None when the method logs no p_bar statistics."""
    rows = [r for r in records if all(m in r for m in CURVE_METRICS)]
    if not rows:
        return None
    column = lambda key: np.array([r[key] for r in rows], dtype=np.float64)  # noqa: E731
    return TrainingCurve(label, column("step"), column("pbar_entropy"), column("kl_to_prior"), num_prototypes)


def training_curves_figure(curves: list[TrainingCurve]) -> bytes:
    """Left: H(p_bar) with log K dotted; right: KL(p_bar || prior) on a log axis."""
    figure = new_figure(10.0, 3.8)
    entropy_axes, kl_axes = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    for index, curve in enumerate(curves):
        color = f"C{index % 10}"
        entropy_axes.plot(curve.steps, curve.entropy, color=color, label=curve.label)
        kl_axes.plot(curve.steps, np.maximum(curve.kl, 1e-6), color=color, label=curve.label)
    for k in sorted({c.num_prototypes for c in curves}):
        entropy_axes.axhline(math.log(k), color="grey", linestyle=":", linewidth=1)
    entropy_axes.set_title("H(p_bar) per batch (dotted: log K, uniform usage)")
    kl_axes.set_title("KL(p_bar || prior) per batch")
    kl_axes.set_yscale("log")
    for axes in (entropy_axes, kl_axes):
        axes.set_xlabel("step")
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=7)
    return to_png(figure)
