"""Cells x seeds -> run configs through the ordinary config system, keyed by a config hash.

Each run's config is ``raw_config`` over dotted overrides: the preset's ``base`` sections, the
method's ``method_overrides``, the cell's overrides and the seed, then ``resolve_config`` (so a
diagnose run is exactly what ``priormatch train KEY=VALUE ...`` would train). Its key hashes the
resolved config with the execution-only settings (threads, progress bar) left out, so the same
recipe always lands in the same run directory whatever ``--workers`` is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from priormatch.diagnose.cells import Cell
from priormatch.diagnose.config import DiagnoseConfig
from priormatch.methods import METHODS
from priormatch.training.config import RunConfig, config_to_yaml, raw_config, resolve_config
from priormatch.training.experiment import config_data_kind

KEY_LENGTH = 12


@dataclass(frozen=True)
class PlannedRun:
    cell: Cell
    seed: int
    config: RunConfig
    key: str
    run_dir: Path

    @property
    def name(self) -> str:
        return f"{self.cell.experiment}/{self.cell.arm}/{self.cell.condition}/s{self.seed}"


@dataclass(frozen=True)
class Plan:
    runs: list[PlannedRun]  # one per (cell, seed), in experiment order
    missing_methods: dict[str, list[str]]  # experiment -> methods it lists that are not registered

    def unique_runs(self) -> list[PlannedRun]:
        """One planned run per key (cells that share a recipe share a run)."""
        seen: dict[str, PlannedRun] = {}
        for run in self.runs:
            seen.setdefault(run.key, run)
        return list(seen.values())

    def experiment_runs(self, experiment: str) -> list[PlannedRun]:
        return [run for run in self.runs if run.cell.experiment == experiment]


def flatten(mapping: dict[str, Any], prefix: str = "") -> list[str]:
    """Nested sections -> dotted ``key=value`` overrides (values as JSON, which YAML reads back)."""
    items = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            items.extend(flatten(value, f"{prefix}{key}."))
        else:
            items.append(f"{prefix}{key}={json.dumps(value)}")
    return items


def run_overrides(config: DiagnoseConfig, cell: Cell, seed: int) -> list[str]:
    method_settings = dict(config.method_overrides.get(cell.method) or {})
    return [
        *flatten(config.base),
        *flatten({"method": {"name": cell.method, **method_settings}}),
        *cell.overrides,
        f"seed={seed}",
        *([f"data.class_order_seed={seed}"] if config.class_order_per_seed else []),
    ]


def build_run_config(config: DiagnoseConfig, cell: Cell, seed: int) -> RunConfig:
    return resolve_config(raw_config((), run_overrides(config, cell, seed)), data_kind=config_data_kind)


def run_key(config: RunConfig) -> str:
    """Hash of the resolved config, without the settings that do not change results."""
    neutral = replace(config, train=replace(config.train, num_threads=None, progress=False))
    return hashlib.sha256(config_to_yaml(neutral).encode("utf-8")).hexdigest()[:KEY_LENGTH]


def make_plan(config: DiagnoseConfig, out: Path) -> Plan:
    """Every (cell, seed) of the selected experiments whose method is registered."""
    # Imported here: the experiment modules import results.py, which imports this module.
    from priormatch.diagnose.experiments import EXPERIMENTS

    runs, missing = [], {}
    for experiment in config.experiments:
        cells = EXPERIMENTS[experiment].cells(config)
        absent = sorted({cell.method for cell in cells if cell.method not in METHODS})
        if absent:
            missing[experiment] = absent
        for cell in cells:
            if cell.method in absent:
                continue
            for seed in range(config.first_seed, config.first_seed + config.seeds):
                run_config = build_run_config(config, cell, seed)
                key = run_key(run_config)
                runs.append(PlannedRun(cell, seed, run_config, key, out / "runs" / f"{cell.method}-{key}"))
    return Plan(runs, missing)
