"""The paper's experiments as grids of cells: one cell = one (arm, condition) pretraining recipe.

A cell names its method and the dotted run-config overrides that make it differ from the shared
``base`` config; the planner turns each cell into one run per seed. ``arm`` is what a table row
compares (a method, or a method with a prior) and ``condition`` what its columns compare (shuffled
vs class-imbalanced batches, balanced vs long-tailed data).

* ``batch_composition`` (claim 2): every listed method on the balanced subset, with shuffled
  batches and with batches of only k classes (equal marginals: ``data.sampler=class_imbalanced``).
* ``prior_matching`` (claim 4): MSN and PMSN at each tau and each Sinkhorn target balancing
  (uniform marginals, MSN's, or the prior's own), on subsets of one size with each imbalance
  ratio (1 = balanced). With ratio 1 and shuffled batches MSN's cell equals the
  batch-composition MSN cell, so the cache trains it once.
* ``overlay`` (claim 5): MSN and PMSN with a power-law prior on the overlay toy, evaluated on
  the clothing labels and on the digit labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from priormatch.diagnose.config import DiagnoseConfig

SHUFFLED = "shuffled"


@dataclass(frozen=True)
class Cell:
    experiment: str
    arm: str  # table row: "msn", "pmsn tau=0.25", ...
    condition: str  # table column / group: "shuffled", "k=2", "rho=100", ...
    method: str
    overrides: tuple[str, ...] = ()  # dotted run-config overrides on top of base + method settings
    label_sets: tuple[str, ...] = ()  # extra label sets evaluated beside the data's own labels


def condition_for_k(k: int) -> str:
    return f"k={k}"


def condition_for_ratio(ratio: float) -> str:
    return "balanced" if ratio == 1 else f"rho={ratio:g}"


def pmsn_arm(method: str, tau: float, marginals: str | None = None) -> str:
    """'pmsn tau=1', or 'pmsn tau=1 prior targets' when the arm names its Sinkhorn marginals."""
    return f"{method} tau={tau:g}" + (f" {marginals} targets" if marginals else "")


def batch_composition_cells(config: DiagnoseConfig) -> list[Cell]:
    experiment = config.batch_composition
    cells = []
    for method in experiment.methods:
        cells.append(Cell("batch_composition", method, SHUFFLED, method, ("data.sampler=shuffle",)))
        for k in experiment.classes_per_batch:
            overrides = ("data.sampler=class_imbalanced", f"data.classes_per_batch={k}")
            cells.append(Cell("batch_composition", method, condition_for_k(k), method, overrides))
    return cells


def prior_matching_cells(config: DiagnoseConfig) -> list[Cell]:
    experiment = config.prior_matching
    cells = []
    for ratio in experiment.imbalance_ratios:
        data = ("data.sampler=shuffle", f"data.imbalance_ratio={float(ratio)}")
        condition = condition_for_ratio(ratio)
        cells.append(Cell("prior_matching", experiment.baseline, condition, experiment.baseline, data))
        for tau in experiment.taus:
            prior = ("method.prior=power_law", f"method.tau={float(tau)}")
            for marginals in experiment.sinkhorn_marginals:
                targets = (f"method.sinkhorn_marginals={marginals}",)
                arm = pmsn_arm(experiment.method, tau, marginals if len(experiment.sinkhorn_marginals) > 1 else None)
                cells.append(Cell("prior_matching", arm, condition, experiment.method, data + prior + targets))
    return cells


def overlay_cells(config: DiagnoseConfig) -> list[Cell]:
    experiment = config.overlay
    data = (f"data.name={experiment.data}", "data.sampler=shuffle", "data.imbalance_ratio=1.0")
    labels = tuple(experiment.extra_label_sets)
    prior = ("method.prior=power_law", f"method.tau={float(experiment.tau)}")
    return [
        Cell("overlay", experiment.baseline, experiment.data, experiment.baseline, data, labels),
        Cell("overlay", pmsn_arm(experiment.method, experiment.tau), experiment.data, experiment.method, data + prior, labels),
    ]


EXPERIMENTS: dict[str, Callable[[DiagnoseConfig], list[Cell]]] = {
    "batch_composition": batch_composition_cells,
    "prior_matching": prior_matching_cells,
    "overlay": overlay_cells,
}

TITLES: dict[str, str] = {
    "batch_composition": "Batch composition (claim 2)",
    "prior_matching": "Prior matching on balanced vs long-tailed data (claim 4)",
    "overlay": "Overlay toy: balanced clothing, power-law digits (claim 5)",
}
