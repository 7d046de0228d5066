"""A cell = one (arm, condition) pretraining recipe, the unit every experiment's plan is made of.

A cell names its method and the dotted run-config overrides that make it differ from the shared
``base`` config; the planner turns each cell into one run per seed. ``arm`` is what a table row
compares (a method, or a method with a prior) and ``condition`` what its columns compare (shuffled
vs class-imbalanced batches, balanced vs long-tailed data). Each experiment's cells are built in
its module under :mod:`priormatch.diagnose.experiments`.
"""

from __future__ import annotations

from dataclasses import dataclass

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
