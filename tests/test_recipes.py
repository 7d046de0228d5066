"""The series recipe is written once (priormatch.recipes); the command line's recipe file, the
series diagnose preset (tests/test_diagnose_series.py) and SSLEncoder (tests/test_estimator.py)
must say the same."""

from pathlib import Path

import numpy as np

from priormatch.recipes import RECIPES, TS2VEC_VALUES_LIMIT, ts2vec_iterations
from priormatch.training.config import raw_config, resolve_config

RECIPE_FILE = Path(__file__).resolve().parents[1] / "configs" / "series" / "recipe.yaml"


def test_the_command_line_recipe_file_is_the_series_recipe():
    config = resolve_config(raw_config([RECIPE_FILE], ["data.name=ucr:ECG5000"]), data_kind=lambda _: "series")
    recipe = RECIPES["series"]
    assert config.method.name == recipe.method and config.encoder.name == "conv1d"
    assert {key: getattr(config.encoder, key) for key in recipe.conv1d} == recipe.conv1d
    assert config.train.batch_size == recipe.batch_size
    assert config.train.steps == recipe.steps(np.zeros((500, 1, 140)))  # ECG5000's train split: 70,000 values


def test_ts2vec_iterations_follow_the_values_in_the_train_split():
    assert ts2vec_iterations(np.zeros((1, 1, TS2VEC_VALUES_LIMIT))) == 200
    assert ts2vec_iterations(np.zeros((1, 1, TS2VEC_VALUES_LIMIT + 1))) == 600
