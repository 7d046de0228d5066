"""p_bar entropy and KL(p_bar || prior) over training, from metrics.jsonl; and the estimated
power-law exponent of runs whose prior is re-estimated during training (``method.prior=adaptive``)."""

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
    prior_tau: np.ndarray | None = None  # (T,) the adaptive prior's exponent; None for a fixed prior


def curve_from_metrics(label: str, records: list[dict], num_prototypes: int) -> TrainingCurve | None:
    """A curve from metrics.jsonl records, or None when the method logs no p_bar statistics."""
    rows = [r for r in records if all(m in r for m in CURVE_METRICS)]
    if not rows:
        return None
    column = lambda key: np.array([r[key] for r in rows], dtype=np.float64)  # noqa: E731
    tau = column("prior_tau") if all("prior_tau" in r for r in rows) else None
    return TrainingCurve(label, column("step"), column("pbar_entropy"), column("kl_to_prior"), num_prototypes, tau)


def training_curves_figure(curves: list[TrainingCurve]) -> bytes:
    """Left: H(p_bar) with log K dotted; middle: KL(p_bar || prior) on a log axis; right, when some
    run re-estimates its prior: the estimated power-law exponent tau."""
    adaptive = [c for c in curves if c.prior_tau is not None]
    panels = 3 if adaptive else 2
    figure = new_figure(5.0 * panels, 3.8)
    entropy_axes, kl_axes = figure.add_subplot(1, panels, 1), figure.add_subplot(1, panels, 2)
    all_axes = [entropy_axes, kl_axes]
    for index, curve in enumerate(curves):
        color = f"C{index % 10}"
        entropy_axes.plot(curve.steps, curve.entropy, color=color, label=curve.label)
        kl_axes.plot(curve.steps, np.maximum(curve.kl, 1e-6), color=color, label=curve.label)
    if adaptive:
        tau_axes = figure.add_subplot(1, panels, 3)
        for index, curve in enumerate(curves):
            if curve.prior_tau is not None:
                tau_axes.plot(curve.steps, curve.prior_tau, color=f"C{index % 10}", label=curve.label)
        tau_axes.set_title("estimated prior tau (method.prior=adaptive)")
        all_axes.append(tau_axes)
    for k in sorted({c.num_prototypes for c in curves}):
        entropy_axes.axhline(math.log(k), color="grey", linestyle=":", linewidth=1)
    entropy_axes.set_title("H(p_bar) per batch (dotted: log K, uniform usage)")
    kl_axes.set_title("KL(p_bar || prior) per batch")
    kl_axes.set_yscale("log")
    for axes in all_axes:
        axes.set_xlabel("step")
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=7)
    return to_png(figure)
