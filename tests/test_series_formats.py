from pathlib import Path

import numpy as np
import pytest

from priormatch.data.series_formats import encode_labels, load_series_npy, load_series_table, load_ts_file
from priormatch.errors import PriormatchError

nan = np.nan

HEADER = "# a comment\n@problemName Toy\n@timeStamps false\n@missing true\n"


def _write(tmp_path: Path, text: str, name: str = "toy.ts") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_univariate_ts_with_missing_values(tmp_path):
    text = HEADER + "@univariate true\n@equalLength true\n@seriesLength 3\n@classLabel true a b\n@data\n"
    text += "1,2,3:a\n\n4,?,6:b\n"
    x, labels = load_ts_file(_write(tmp_path, text))
    assert x.dtype == np.float32 and x.shape == (2, 1, 3)
    np.testing.assert_array_equal(x[:, 0], [[1, 2, 3], [4, nan, 6]])
    assert labels.tolist() == ["a", "b"]


def test_multivariate_unequal_length_ts_is_padded_with_nan(tmp_path):
    text = HEADER + "@univariate false\n@dimensions 2\n@equalLength false\n@classLabel true walk run\n@data\n"
    text += "1,2,3,4:5,6:walk\n7:8,9,10:run\n"
    x, labels = load_ts_file(_write(tmp_path, text))
    assert x.shape == (2, 2, 4)
    np.testing.assert_array_equal(x[0], [[1, 2, 3, 4], [5, 6, nan, nan]])
    np.testing.assert_array_equal(x[1], [[7, nan, nan, nan], [8, 9, 10, nan]])
    assert labels.tolist() == ["walk", "run"]


@pytest.mark.parametrize(
    "data,match",
    [
        ("1,2,3:a\n1,x,3:a\n", r"toy\.ts:11 \(channel 0\): value 'x' is not a number"),
        ("1,2,3:a\n1,2,3:c\n", r"toy\.ts:11: label 'c' is not declared"),
        ("1,2,3:a\n1,2:3,4:a\n", r"toy\.ts:11: 2 channels but expected 1"),
        ("1,2,3:a\n1,2:a\n", r"toy\.ts:11: series length \[2\] but @seriesLength is 3"),
        ("1,2,3:a\n1,2,3\n", r"toy\.ts:11: expected 'values"),
    ],
)
def test_malformed_ts_lines_name_file_and_line(tmp_path, data, match):
    text = HEADER + "@univariate true\n@equalLength true\n@seriesLength 3\n@classLabel true a b\n@data\n" + data
    with pytest.raises(PriormatchError, match=match) as error:
        load_ts_file(_write(tmp_path, text))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "text,match",
    [
        (HEADER.replace("false", "true") + "@data\n(2007-01-01 00:00:00,1.5):a\n", "@timeStamps true"),
        (HEADER + "@classLabel false\n@data\n1,2\n", "@classLabel false"),
        (HEADER + "@classLabel true a\n", "no '@data' line"),
        (HEADER + "1,2:a\n@data\n", r"toy\.ts:5: data before the @data line"),
    ],
)
def test_unsupported_or_incomplete_ts_headers(tmp_path, text, match):
    with pytest.raises(PriormatchError, match=match):
        load_ts_file(_write(tmp_path, text))


def test_ucr_style_tsv_and_ragged_csv(tmp_path):
    x, labels = load_series_table(_write(tmp_path, "1\t0.5\t1.5\tNaN\n-1\t2.0\t\t3.0\n", "toy.tsv"))
    assert x.shape == (2, 1, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 0], [[0.5, 1.5, nan], [2.0, nan, 3.0]])
    assert labels.tolist() == ["1", "-1"]
    x, labels = load_series_table(_write(tmp_path, "label,t0,t1,t2\ncat,1,2,3\n\ndog,4\n", "toy.csv"), header=True)
    np.testing.assert_array_equal(x[:, 0], [[1, 2, 3], [4, nan, nan]])
    assert labels.tolist() == ["cat", "dog"]


def test_table_errors_name_line_and_column(tmp_path):
    with pytest.raises(PriormatchError, match=r"toy\.csv:3: column 3 holds 'oops', not a number"):
        load_series_table(_write(tmp_path, "a,1,2\n\nb,3,oops\n", "toy.csv"))
    with pytest.raises(PriormatchError, match=r"toy\.csv:2: missing class label"):
        load_series_table(_write(tmp_path, "a,1,2\n,3,4\n", "toy.csv"))
    with pytest.raises(PriormatchError, match=r"toy\.csv:1: column 2 holds 't0'.*header=True"):
        load_series_table(_write(tmp_path, "label,t0\na,1\n", "toy.csv"))


def test_npy_pair_and_wrong_dimensionality(tmp_path):
    np.save(tmp_path / "X.npy", np.arange(12, dtype=np.float64).reshape(3, 4))
    np.save(tmp_path / "y.npy", np.array([2, 0, 2]))
    x, labels = load_series_npy(tmp_path / "X.npy", tmp_path / "y.npy")
    assert x.shape == (3, 1, 4) and x.dtype == np.float32 and labels.tolist() == ["2", "0", "2"]
    np.save(tmp_path / "X4.npy", np.zeros((3, 1, 2, 2)))
    with pytest.raises(PriormatchError, match=r"X4\.npy: array has shape \(3, 1, 2, 2\)"):
        load_series_npy(tmp_path / "X4.npy", tmp_path / "y.npy")
    np.save(tmp_path / "y2.npy", np.array([0, 1]))
    with pytest.raises(PriormatchError, match=r"y2\.npy: labels have shape \(2,\); expected \(3,\)"):
        load_series_npy(tmp_path / "X.npy", tmp_path / "y2.npy")


def test_encode_labels_sorts_numerically_and_shares_one_coding():
    y_train, y_test, names = encode_labels(np.array(["10", "2", "-1", "2.0"]), np.array(["1.0e+01", "-1"]), "toy")
    assert names == ("-1", "2", "10")
    assert y_train.tolist() == [2, 1, 0, 1] and y_test.tolist() == [2, 0] and y_train.dtype == np.int64
    with pytest.raises(PriormatchError, match=r"toy: test label 'c' never occurs in the training split"):
        encode_labels(np.array(["a", "b"]), np.array(["c"]), "toy")
