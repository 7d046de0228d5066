"""Planner (cells x seeds -> hashed run configs) and cache (finished runs reused, interrupted ones resumed)."""

from dataclasses import replace

import pytest

from priormatch.diagnose import worker
from priormatch.diagnose.cache import run_state
from priormatch.diagnose.config import load_diagnose_config
from priormatch.diagnose.executor import execute_plan
from priormatch.diagnose.experiments import EXPERIMENTS
from priormatch.diagnose.pipeline import missing_method_notes
from priormatch.diagnose.planner import make_plan, run_key
from priormatch.training.loop import train
from priormatch.training.run_dir import RunDirectory

TINY = [
    "experiments=[prior_matching]",
    "prior_matching.taus=[1.0]",
    "prior_matching.imbalance_ratios=[1.0]",
    "prior_matching.sinkhorn_marginals=[prior]",
    "seeds=1",
    "base.train.steps=2",
    "base.eval.probes=[knn]",
]


def test_cells_per_experiment_follow_the_grids():
    config = load_diagnose_config("quick")
    assert len(EXPERIMENTS["batch_composition"].cells(config)) == 7 * 2
    assert len(EXPERIMENTS["prior_matching"].cells(config)) == 2 * (1 + 2 * 2)  # baseline + 2 taus x 2 target balancings
    arms = {cell.arm for cell in EXPERIMENTS["prior_matching"].cells(config)}
    assert {"msn", "pmsn tau=1 uniform targets", "pmsn tau=1 prior targets"} <= arms
    assert len(EXPERIMENTS["overlay"].cells(config)) == 2


def test_plan_has_one_run_per_cell_and_seed_and_shares_identical_recipes(tmp_path):
    config = load_diagnose_config("smoke")
    plan = make_plan(config, tmp_path)
    cells = sum(len(EXPERIMENTS[e].cells(config)) for e in config.experiments)
    assert len(plan.runs) == cells * config.seeds
    # MSN with shuffled batches on the balanced subset is a cell of both the batch and the prior experiment.
    assert len(plan.unique_runs()) == len(plan.runs) - config.seeds
    run = plan.runs[0]
    assert run.run_dir == tmp_path / "runs" / f"{run.cell.method}-{run.key}"
    assert run.config.data.name == "digits" and run.config.method.name == "msn"


def test_key_ignores_execution_settings_but_not_the_recipe(tmp_path):
    config = make_plan(load_diagnose_config("smoke"), tmp_path).runs[0].config
    assert run_key(replace(config, train=replace(config.train, num_threads=7, progress=True))) == run_key(config)
    assert run_key(replace(config, seed=config.seed + 1)) != run_key(config)


def test_unregistered_methods_are_reported_not_silently_dropped(tmp_path):
    config = load_diagnose_config("smoke", ["batch_composition.methods=[msn,byol]"])
    plan = make_plan(config, tmp_path)
    assert plan.missing_methods == {"batch_composition": ["byol"]}
    assert "byol" in missing_method_notes(plan)[0] and "not registered" in missing_method_notes(plan)[0]
    assert all(run.cell.method != "byol" for run in plan.runs)


def test_second_execution_reuses_runs_without_training(tmp_path, monkeypatch):
    plan = make_plan(load_diagnose_config("smoke", TINY), tmp_path)
    runs = plan.unique_runs()
    first = execute_plan(runs, workers=1, log=lambda _: None)
    assert sorted(o.action for o in first) == ["trained", "trained"]
    assert all(run_state(RunDirectory(r.run_dir)) == "done" for r in runs)

    def forbidden(*args, **kwargs):
        raise AssertionError("a cached run was trained or evaluated again")

    monkeypatch.setattr(worker, "train", forbidden)
    monkeypatch.setattr(worker, "evaluate_run", forbidden)
    second = execute_plan(runs, workers=1, log=lambda _: None)
    assert [o.action for o in second] == ["reused", "reused"]


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    planned = make_plan(load_diagnose_config("smoke", TINY + ["base.train.checkpoint_every=1"]), tmp_path).runs[0]
    run = RunDirectory(planned.run_dir)
    run.root.mkdir(parents=True)
    train(replace(planned.config, train=replace(planned.config.train, progress=False)), run, stop_at_step=1)
    assert run_state(run) == "resume"
    outcome = execute_plan([planned], workers=1, log=lambda _: None)[0]
    assert outcome.action == "resumed" and run_state(run) == "done"
    assert run.status()["step"] == planned.config.train.steps


@pytest.mark.parametrize("state_files, expected", [((), "new"), (("config.yaml",), "new"), (("config.yaml", "checkpoint.pt"), "resume")])
def test_run_state_of_partial_directories(tmp_path, state_files, expected):
    for name in state_files:
        (tmp_path / name).write_text("x")
    assert run_state(RunDirectory(tmp_path)) == expected


def test_class_order_can_vary_with_the_seed(tmp_path):
    fixed = make_plan(load_diagnose_config("smoke"), tmp_path).runs
    varied = make_plan(load_diagnose_config("smoke", ["class_order_per_seed=true"]), tmp_path).runs
    assert {r.config.data.class_order_seed for r in fixed} == {0}
    assert all(r.config.data.class_order_seed == r.seed for r in varied) and len({r.seed for r in varied}) > 1
