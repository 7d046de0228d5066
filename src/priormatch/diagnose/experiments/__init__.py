"""The paper's experiments, one module each, behind one small interface.

Each module (:mod:`.batch_composition`, :mod:`.prior_matching`, :mod:`.overlay`) holds, in
order, the claim(s) it tests and its decision rule (its docstring), ``NAME`` and ``TITLE``, its
plan (``cells(config)``: one :class:`~priormatch.diagnose.cells.Cell` per (arm, condition)
recipe), its tables and figures, its verdict functions and ``build_section(config, results,
cache)``, which turns the finished runs into the report section and the verdicts by claim. The
shared machinery stays behind: the planner and cache run the cells, :mod:`..statistics` and
:mod:`..verdicts` test them, the writers print the sections.

``EXPERIMENTS`` (name -> :class:`Experiment`) is the registry the config, planner and pipeline
use; ``TITLES`` is derived from it. The experiment modules never import this package's
``__init__`` (they import :mod:`priormatch.diagnose.cells`), so it can import them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from priormatch.diagnose.cells import SHUFFLED, Cell, condition_for_k, condition_for_ratio, pmsn_arm
from priormatch.diagnose.config import DiagnoseConfig
from priormatch.diagnose.document import Section
from priormatch.diagnose.experiments import batch_composition, overlay, prior_matching
from priormatch.diagnose.prototype_cache import PrototypeCache
from priormatch.diagnose.results import RunResult
from priormatch.diagnose.verdicts import Verdict

__all__ = [
    "EXPERIMENTS",
    "SHUFFLED",
    "TITLES",
    "Cell",
    "Experiment",
    "SectionBuilder",
    "condition_for_k",
    "condition_for_ratio",
    "pmsn_arm",
]

SectionBuilder = Callable[[DiagnoseConfig, list[RunResult], PrototypeCache], tuple[Section, dict[str, Verdict]]]


@dataclass(frozen=True)
class Experiment:
    """One experiment: its name (config key), report title, plan and section builder."""

    name: str
    title: str
    cells: Callable[[DiagnoseConfig], list[Cell]]  # the plan: one cell per (arm, condition) recipe
    build_section: SectionBuilder  # finished runs -> (report section, verdicts by claim)


EXPERIMENTS: dict[str, Experiment] = {
    experiment.name: experiment
    for experiment in (
        Experiment(batch_composition.NAME, batch_composition.TITLE, batch_composition.cells, batch_composition.build_section),
        Experiment(prior_matching.NAME, prior_matching.TITLE, prior_matching.cells, prior_matching.build_section),
        Experiment(overlay.NAME, overlay.TITLE, overlay.cells, overlay.build_section),
    )
}

TITLES: dict[str, str] = {name: experiment.title for name, experiment in EXPERIMENTS.items()}
