"""Before a diagnose writes anything: does every planned run's pretraining subset fit its data?

A preset sizes its subsets for its own data set (2,500 Fashion-MNIST images, 1,000 regime series);
on a user's data (``base.data.name=npz base.data.path=...``) a class may hold fewer samples than a
balanced or long-tailed subset of that size needs. Rather than let every worker fail after the
output directory exists, each run's subset and batch sampler are built up front (each data set
loaded once). :func:`fit_config_to_data` (diagnose's ``fit_to_data``, the default) shrinks a subset
that is too large to the largest size every cell can draw, keeping the preset's step count;
:func:`check_plan_fits_data` raises one error for what remains, naming for a subset that is too
large the exact largest ``base.data.subset_size`` and the batch size that fit every cell.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace

import numpy as np

from priormatch.data import DatasetSplits, load_dataset
from priormatch.data.groups import mechanism_labels, resolve_groups
from priormatch.data.long_tail import largest_subset_size
from priormatch.diagnose.config import DiagnoseConfig
from priormatch.diagnose.planner import Plan, PlannedRun
from priormatch.errors import PriormatchError
from priormatch.training.config import DataConfig, RunConfig
from priormatch.training.experiment import layout_request, make_sampler, pretraining_subset


@dataclass(frozen=True)
class RunFit:
    """How one planned run fits its data: the largest subset size it could use, and its problem."""

    run: PlannedRun
    largest_subset: int | None  # None: the run uses the whole train split
    problem: str | None

    @property
    def subset_too_large(self) -> bool:
        """Whether the run asks for a larger subset than its data can give."""
        return self.largest_subset is not None and self.largest_subset < (self.run.config.data.subset_size or 0)


def plan_fits(plan: Plan) -> list[RunFit]:
    """How each unique planned run fits its data (each data set loaded once)."""
    loaded: dict[tuple, DatasetSplits] = {}
    groups: dict[tuple, np.ndarray | None] = {}  # data.groups per data set and seed (k-means once, not per run)
    return [_fit(run, _splits(run.config.data, loaded), groups) for run in plan.unique_runs()]


def check_plan_fits_data(plan: Plan) -> None:
    """Raise one :class:`PriormatchError` when some planned run's subset or batches do not fit its data."""
    fits = plan_fits(plan)
    failed = [fit for fit in fits if fit.problem is not None]
    if failed:
        raise PriormatchError(_message(fits, failed))


def fit_config_to_data(config: DiagnoseConfig, plan: Plan) -> tuple[DiagnoseConfig, str | None]:
    """``config`` with its subset made to fit the data, and a note saying what changed (None: it fit).

    When some cell's subset is too large for its data: ``base.data.subset_size`` becomes the largest
    size every cell can draw, ``base.train.batch_size`` the largest batch that fits it (and splits
    into the class-imbalanced cells' k classes), and ``base.train.steps`` the step count the preset
    planned, so that its EMA momentum (chosen for that many steps) still holds. Other problems are
    left to :func:`check_plan_fits_data`.
    """
    fits = plan_fits(plan)
    too_large = [fit for fit in fits if fit.subset_too_large]
    sizes = [fit.largest_subset for fit in fits if fit.largest_subset is not None]
    if not too_large or min(sizes) < 1:
        return config, None
    largest, first = min(sizes), too_large[0].run.config
    batch = min(first.train.batch_size, _largest_batch(fits, largest))
    steps = planned_steps(first, largest)
    base = copy.deepcopy(config.base)
    base.setdefault("data", {})["subset_size"] = largest
    base.setdefault("train", {}).update(batch_size=batch, steps=steps)
    step_note = (
        f"base.train.steps={steps} (the preset's step count, for which its EMA momentum was chosen)" if steps else "the recipe's step rule"
    )
    note = (
        f"base.data.subset_size={first.data.subset_size} does not fit data set {first.data.name!r} (the largest size every "
        f"cell can draw is {largest}); this diagnosis uses base.data.subset_size={largest}, base.train.batch_size={batch} "
        f"and {step_note}; fit_to_data=false makes this an error instead"
    )
    return replace(config, base=base), note


def planned_steps(config: RunConfig, largest: int) -> int | None:
    """The step count a run config plans on its subset (``largest`` when it names no size); None when
    it leaves the count to the recipe's rule (``train.epochs`` null), which then sees the new subset."""
    if config.train.steps is not None:
        return config.train.steps
    if config.train.epochs is None:
        return None
    return config.train.epochs * max(1, (config.data.subset_size or largest) // config.train.batch_size)


def _splits(config: DataConfig, loaded: dict[tuple, DatasetSplits]) -> DatasetSplits:
    key = (config.name, config.path, config.layout, config.check_layout)
    if key not in loaded:
        loaded[key] = load_dataset(config.name, config.path, layout_request(config))
    return loaded[key]


def _groups(config: DataConfig, splits: DatasetSplits, cache: dict[tuple, np.ndarray | None]) -> np.ndarray | None:
    key = (id(splits), config.groups, config.class_order_seed)
    if key not in cache:
        cache[key] = resolve_groups(config.groups, splits.train, config.class_order_seed)
    return cache[key]


def _fit(run: PlannedRun, splits: DatasetSplits, group_cache: dict[tuple, np.ndarray | None]) -> RunFit:
    """Build the run's pretraining subset and sampler; a PriormatchError becomes the run's problem."""
    data, train = run.config.data, run.config.train
    largest = None
    try:
        groups = _groups(data, splits, group_cache)
        labels, num = mechanism_labels(splits.train, groups)
        if data.subset_size is not None:
            largest = largest_subset_size(labels, num, imbalance_ratio=data.imbalance_ratio, seed=data.class_order_seed)
        subset = pretraining_subset(data, splits, groups)
        make_sampler(data, labels[subset], batch_size=train.batch_size, seed=run.config.seed)
    except PriormatchError as error:
        return RunFit(run, largest, str(error))
    return RunFit(run, largest, None)


def _message(fits: list[RunFit], failed: list[RunFit]) -> str:
    """One line: the exact subset (and batch) size that fits every run when size is the problem,
    else the first run's own error."""
    first = failed[0]
    sizes = [fit.largest_subset for fit in fits if fit.largest_subset is not None]
    data = first.run.config.data
    where = f"{len(failed)} of {len(fits)} diagnose runs do not fit data set {data.name!r}"
    if any(fit.subset_too_large for fit in failed):
        largest = min(sizes)
        batch, batch_fit = first.run.config.train.batch_size, _largest_batch(fits, largest)
        batch_fix = f" and base.train.batch_size={batch_fit} or less (now {batch})" if batch > batch_fit else ""
        return (
            f"{where}: base.data.subset_size={data.subset_size} is too large (first {first.run.name}: {first.problem}); "
            f"the largest size every cell can draw is {largest}: set base.data.subset_size={largest}{batch_fix}"
        )
    return f"{where}; first {first.run.name}: {first.problem}"


def _largest_batch(fits: list[RunFit], limit: int) -> int:
    """The largest batch size <= ``limit`` that every class-imbalanced run can split into equal class chunks."""
    chunks = [fit.run.config.data.classes_per_batch for fit in fits if fit.run.config.data.sampler == "class_imbalanced"]
    multiple = math.lcm(*chunks) if chunks else 1
    return max(multiple, limit - limit % multiple)
