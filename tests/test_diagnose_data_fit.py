"""diagnose on user data (issue #14, item 3): a preset's subset that is too large shrinks to the
largest every cell can draw (fit_to_data, the default), or with fit_to_data=false one up-front error
names the exact subset and batch sizes that fit; either way before anything is written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from priormatch.cli import main
from priormatch.data.long_tail import largest_subset_size, long_tail_indices
from priormatch.diagnose.config import load_diagnose_config
from priormatch.diagnose.data_fit import check_plan_fits_data
from priormatch.diagnose.pipeline import fitted_to_data, run_diagnose
from priormatch.diagnose.planner import make_plan
from priormatch.errors import PriormatchError


def small_images(tmp_path: Path) -> Path:
    """40 train images of 8x8 in 4 classes of 10 (and 8 test images)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "mine.npz"
    np.savez(path, X=rng.random((40, 1, 8, 8)), y=np.arange(40) % 4, X_test=rng.random((8, 1, 8, 8)), y_test=np.arange(8) % 4)
    return path


def diagnose_config(path: Path, *overrides: str):
    return load_diagnose_config(
        "smoke", ["experiments=[batch_composition,prior_matching]", "base.data.name=npz", f"base.data.path={path}", *overrides]
    )


def test_subsets_too_large_for_the_data_are_one_error_naming_the_sizes_that_fit_and_nothing_is_written(tmp_path):
    config = diagnose_config(small_images(tmp_path), "fit_to_data=false")
    out = tmp_path / "diagnose"
    with pytest.raises(PriormatchError) as error:
        run_diagnose(config, out)
    message = str(error.value)
    assert "\n" not in message and message.startswith("14 of 14 diagnose runs do not fit data set 'npz'")
    assert "set base.data.subset_size=" in message and "base.train.batch_size=" in message
    assert not out.exists()


def test_the_command_prints_it_as_one_line_and_exits_2(tmp_path, capsys):
    path = small_images(tmp_path)
    code = main(
        [
            "diagnose",
            "--preset",
            "smoke",
            "experiments=[prior_matching]",
            "base.data.name=npz",
            f"base.data.path={path}",
            "fit_to_data=false",
            "--out",
            str(tmp_path / "diagnose"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("priormatch: error: ")
    assert "base.data.subset_size=" in err and not (tmp_path / "diagnose").exists()


def test_the_sizes_the_error_names_fit_every_cell(tmp_path):
    path = small_images(tmp_path)
    with pytest.raises(PriormatchError, match=r"set base\.data\.subset_size=(\d+) and base\.train\.batch_size=(\d+)") as error:
        check_plan_fits_data(make_plan(diagnose_config(path), tmp_path / "out"))
    size, batch = (int(v) for v in re.search(r"subset_size=(\d+) and base\.train\.batch_size=(\d+)", str(error.value)).groups())
    assert batch % 2 == 0 and batch <= size  # k = 2 classes per batch split it evenly
    fitted = diagnose_config(path, f"base.data.subset_size={size}", f"base.train.batch_size={batch}")
    check_plan_fits_data(make_plan(fitted, tmp_path / "out"))  # no error


def test_by_default_the_subset_and_batch_shrink_to_fit_and_the_preset_step_count_is_kept(tmp_path):
    config = diagnose_config(small_images(tmp_path))
    fitted, note = fitted_to_data(config, tmp_path / "out")  # raises if a run still did not fit
    assert not (tmp_path / "out").exists()
    data, train = fitted.base["data"], fitted.base["train"]
    assert data["subset_size"] <= 40 and train["batch_size"] <= data["subset_size"] and train["batch_size"] % 2 == 0
    assert train["steps"] == config.base["train"]["steps"] == 6
    assert note is not None and "\n" not in note and f"base.data.subset_size={data['subset_size']}" in note
    assert fitted_to_data(fitted, tmp_path / "out") == (fitted, None)  # a fitting config is left alone


def test_largest_subset_size_is_exact():
    y = np.repeat(np.arange(4), [10, 10, 10, 3])
    for ratio in (1.0, 10.0):
        size = largest_subset_size(y, 4, imbalance_ratio=ratio, seed=0)
        assert len(long_tail_indices(y, 4, imbalance_ratio=ratio, seed=0, subset_size=size)) == size
        with pytest.raises(PriormatchError, match="needs"):
            long_tail_indices(y, 4, imbalance_ratio=ratio, seed=0, subset_size=size + 1)
