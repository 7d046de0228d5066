"""The series recipe is written once (priormatch.recipes); the command line's series defaults, the
series diagnose preset (tests/test_diagnose_series.py) and SSLEncoder (tests/test_estimator.py)
follow it."""

import numpy as np

from cli_helpers import SMALL_SERIES_MODEL, run_cli
from priormatch.data.arrays import LabeledArrays
from priormatch.recipes import RECIPES, TS2VEC_VALUES_LIMIT, ts2vec_iterations
from priormatch.training.config import raw_config, resolve_config
from priormatch.training.experiment import total_steps
from priormatch.training.run_dir import RunDirectory


def series_config(*overrides: str):
    return resolve_config(raw_config([], ["data.name=ucr:ECG5000", *overrides]), data_kind=lambda _: "series")


def test_the_command_line_series_defaults_are_the_series_recipe():
    config, recipe = series_config(), RECIPES["series"]
    assert config.method.name == recipe.method and config.encoder.name == "conv1d"
    assert {key: getattr(config.encoder, key) for key in recipe.conv1d} == recipe.conv1d
    assert config.train.batch_size == recipe.batch_size and config.train.epochs is None and config.train.steps is None


def test_every_series_method_gets_the_recipe_network_and_named_keys_win():
    assert series_config("method.name=pmsn").encoder.hidden == RECIPES["series"].conv1d["hidden"]
    assert series_config("method.name=jepa").encoder.name == "conv1d"  # its per-timestamp variant
    assert series_config("method.name=mae").encoder.name == "series_transformer"  # needs tokens
    images = resolve_config(raw_config([], ["method.name=jepa"]), data_kind=lambda _: "image")
    assert images.encoder.name == "vit"
    config = series_config("encoder.hidden=16", "train.batch_size=32")
    assert config.encoder.hidden == 16 and config.encoder.depth == RECIPES["series"].conv1d["depth"] and config.train.batch_size == 32


def test_the_step_count_follows_the_recipe_rule_unless_epochs_or_steps_are_named():
    small = LabeledArrays(np.zeros((500, 1, 140), np.float32), np.zeros(500, np.int64), ("a",))  # ECG5000: 70,000 values
    large = LabeledArrays(np.zeros((800, 1, 140), np.float32), np.zeros(800, np.int64), ("a",))
    assert total_steps(series_config(), 63, small) == 200 and total_steps(series_config(), 100, large) == 600
    assert total_steps(series_config("train.epochs=2"), 63, small) == 126
    assert total_steps(series_config("train.steps=7"), 63, small) == 7


def test_ts2vec_iterations_follow_the_values_in_the_train_split():
    assert ts2vec_iterations(np.zeros((1, 1, TS2VEC_VALUES_LIMIT))) == 200
    assert ts2vec_iterations(np.zeros((1, 1, TS2VEC_VALUES_LIMIT + 1))) == 600


def test_a_series_run_without_a_budget_trains_the_rule_and_says_so(tmp_path, capsys):
    code, out, err = run_cli(
        capsys, "train", "data.name=ucr:ECG200", *SMALL_SERIES_MODEL, "train.progress=false", "--out", tmp_path / "run"
    )
    assert code == 0, err
    assert "train.epochs=null: 200 steps, the series recipe's rule for 9,600 train values" in err  # 100 series x 96 steps
    assert RunDirectory(tmp_path / "run").read_metrics()[-1]["step"] == 200
