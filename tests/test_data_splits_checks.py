"""Train / test split checks of user data (issue #14, item 6): warnings, not refusals.

A test split missing a class loads (one warning; metrics over the classes present) and test rows
that copy train rows are counted in one warning.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import SMALL_SERIES_MODEL
from priormatch.cli import main
from priormatch.data.arrays import DatasetSplits, LabeledArrays
from priormatch.data.split_checks import count_test_rows_in_train, missing_test_classes, warn_about_splits
from priormatch.data.user_arrays import load_npz
from priormatch.evaluation.metrics import classification_metrics

ONE_STEP = ["train.steps=1", "train.batch_size=8", "train.progress=false", "train.num_threads=1"]


def labelled_series(n: int, seed: int, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(n, 1, 16) float32 series with labels cycling through ``classes`` names 'a', 'b', ..."""
    x = np.random.default_rng(seed).standard_normal((n, 1, 16)).astype(np.float32)
    return x, np.array(list("abcdefgh"[:classes]))[np.arange(n) % classes]


def test_test_split_missing_a_class_loads_and_warns_once_in_one_line(tmp_path: Path, capsys):
    x, y = labelled_series(24, seed=0)
    x_test, y_test = labelled_series(8, seed=1, classes=2)  # no 'c' in the test split
    path = tmp_path / "rare.npz"
    np.savez(path, X=x, y=y, X_test=x_test, y_test=y_test, kind="series")
    splits = load_npz(path)
    assert splits.test.class_counts().tolist() == [4, 4, 0] and missing_test_classes(splits) == ["c"]
    code = main(["train", "data.name=npz", f"data.path={path}", *SMALL_SERIES_MODEL, *ONE_STEP, "--out", str(tmp_path / "run")])
    warning_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("priormatch: warning:")]
    assert code == 0
    assert warning_lines == ["priormatch: warning: rare: 1 of 3 classes have no test samples ('c'); test metrics cover the classes present"]


def test_metrics_cover_the_classes_present_in_the_test_split():
    metrics = classification_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), num_classes=3, class_rank=np.array([0, 1, 2]))
    assert metrics["per_class_accuracy"] == [0.5, 1.0, None] and metrics["balanced_accuracy"] == 0.75


def test_test_rows_copying_train_rows_are_counted_in_a_warning():
    x, y = labelled_series(20, seed=0)
    x_test, y_test = labelled_series(6, seed=1)
    x_test[[1, 4]] = x[[3, 7]]  # two leaked rows
    names = ("a", "b", "c")
    codes = {name: k for k, name in enumerate(names)}
    splits = DatasetSplits(
        "leaky",
        LabeledArrays(x, np.array([codes[v] for v in y]), names),
        LabeledArrays(x_test, np.array([codes[v] for v in y_test]), names),
    )
    assert count_test_rows_in_train(splits) == 2
    with pytest.warns(UserWarning, match=r"^leaky: 2 of 6 test samples are exact copies of train samples"):
        warn_about_splits(splits)


def test_clean_splits_give_no_warning():
    x, y = labelled_series(12, seed=0)
    codes = np.arange(12) % 3
    splits = DatasetSplits("clean", LabeledArrays(x[:9], codes[:9], ("a", "b", "c")), LabeledArrays(x[9:], codes[9:], ("a", "b", "c")))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_about_splits(splits)
