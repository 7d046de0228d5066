"""IDX reader, Fashion-MNIST, digits and user .npz loaders, and the data set registry."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from priormatch.data import fashion_mnist
from priormatch.data.digits import load_digits
from priormatch.data.fashion_mnist import CLASS_NAMES, load_fashion_mnist
from priormatch.data.idx import read_idx
from priormatch.data.registry import DATASET_FAMILIES, DATASETS, dataset_status, load_dataset
from priormatch.data.user_arrays import load_npz, stratified_split
from priormatch.errors import PriormatchError

IDX_CODES = {np.dtype("u1"): 0x08, np.dtype("i4"): 0x0C, np.dtype("f4"): 0x0D}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` in the IDX format (big-endian header and values)."""
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gzipped: bool = False) -> Path:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gzipped else data)
    return path


# --- IDX -------------------------------------------------------------------------------------


@pytest.mark.parametrize("gzipped", [False, True])
@pytest.mark.parametrize("dtype", ["u1", "i4", "f4"])
def test_read_idx_round_trip(tmp_path: Path, gzipped: bool, dtype: str) -> None:
    array = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype) if dtype != "u1" else (np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    out = read_idx(write_idx(tmp_path / "a.idx", array, gzipped=gzipped))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b[:-3], "truncated"),
        (lambda b: b + b"\x00", "after the data"),
        (lambda b: b[:6], "header is truncated"),
        (lambda b: b"\x01" + b[1:], "not an IDX file"),
        (lambda b: b[:2] + b"\x42" + b[3:], "unknown IDX dtype"),
        (lambda b: b"", "not an IDX file"),
    ],
)
def test_read_idx_rejects_corrupt_files(tmp_path: Path, mutate, message: str) -> None:
    path = tmp_path / "bad.idx"
    path.write_bytes(mutate(idx_bytes(np.zeros((4, 3), dtype=np.uint8))))
    with pytest.raises(PriormatchError, match=message):
        read_idx(path)


def test_read_idx_rejects_truncated_gzip_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((50, 7), dtype=np.uint8)))[:-10])
    with pytest.raises(PriormatchError, match="gzip data is truncated or corrupt"):
        read_idx(path)
    with pytest.raises(PriormatchError, match="not found"):
        read_idx(tmp_path / "absent")


# --- Fashion-MNIST ---------------------------------------------------------------------------


def fake_fashion_mnist(directory: Path, n_train: int = 20, n_test: int = 10) -> Path:
    """Write the four Fashion-MNIST files (gzipped train, plain test) with tiny contents."""
    rng = np.random.default_rng(0)
    for split, n, gzipped in (("train", n_train, True), ("t10k", n_test, False)):
        suffix = ".gz" if gzipped else ""
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        write_idx(directory / f"{split}-images-idx3-ubyte{suffix}", images, gzipped=gzipped)
        write_idx(directory / f"{split}-labels-idx1-ubyte{suffix}", np.arange(n, dtype=np.uint8) % 10, gzipped=gzipped)
    return directory


def test_fashion_mnist_from_fake_files(tmp_path: Path) -> None:
    splits = load_fashion_mnist(str(fake_fashion_mnist(tmp_path)))
    assert splits.train.x.shape == (20, 1, 28, 28) and splits.test.x.shape == (10, 1, 28, 28)
    assert splits.train.x.dtype == np.float32
    assert 0 <= splits.train.x.min() and splits.train.x.max() <= 1
    raw = read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    np.testing.assert_allclose(splits.train.x[:, 0] * 255, raw, atol=1e-4)
    assert splits.train.class_names == CLASS_NAMES and splits.train.class_names[0] == "T-shirt/top"
    np.testing.assert_array_equal(splits.test.y, np.arange(10))
    assert fashion_mnist.is_available(str(tmp_path))


def test_fashion_mnist_missing_files_say_how_to_get_them(tmp_path: Path) -> None:
    fake_fashion_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    assert not fashion_mnist.is_available(str(tmp_path))
    with pytest.raises(PriormatchError, match="t10k-labels-idx1-ubyte") as error:
        load_fashion_mnist(str(tmp_path))
    message = str(error.value)
    assert "apt-get install -y dataset-fashion-mnist" in message and "data.path=DIR" in message
    assert "\n" not in message


def test_fashion_mnist_rejects_mismatched_labels(tmp_path: Path) -> None:
    fake_fashion_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(PriormatchError, match="expected 10 labels"):
        load_fashion_mnist(str(tmp_path))


@pytest.mark.skipif(not fashion_mnist.is_available(), reason="Fashion-MNIST not installed (apt-get install -y dataset-fashion-mnist)")
def test_real_fashion_mnist() -> None:
    splits = load_dataset("fashion_mnist")
    assert splits.train.x.shape == (60000, 1, 28, 28) and splits.test.x.shape == (10000, 1, 28, 28)
    np.testing.assert_array_equal(splits.train.class_counts(), np.full(10, 6000))
    np.testing.assert_array_equal(splits.test.class_counts(), np.full(10, 1000))
    assert 0 <= splits.test.x.min() and splits.test.x.max() == 1


# --- digits ----------------------------------------------------------------------------------


def test_digits_split_is_stratified_and_deterministic() -> None:
    first, second = load_digits(), load_digits()
    assert first.train.x.shape[1:] == (1, 8, 8) and len(first.train) + len(first.test) == 1797
    assert first.train.x.max() == 1 and first.train.x.min() == 0
    all_counts = first.train.class_counts() + first.test.class_counts()
    np.testing.assert_array_equal(first.test.class_counts(), np.round(0.2 * all_counts))
    np.testing.assert_array_equal(first.train.x, second.train.x)
    assert first.train.class_names == tuple(str(d) for d in range(10))
    with pytest.raises(PriormatchError, match="takes no data.path"):
        load_digits("/somewhere")


def test_stratified_split_partitions_each_class() -> None:
    y = np.repeat([0, 1, 2], [10, 5, 2])
    train, test = stratified_split(y, test_fraction=0.2, seed=0)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(y)))
    np.testing.assert_array_equal(np.bincount(y[test]), [2, 1, 1])
    with pytest.raises(PriormatchError, match="class 3 has 1 sample"):
        stratified_split(np.array([0, 0, 3]), test_fraction=0.2, seed=0)


# --- user .npz -------------------------------------------------------------------------------


def test_npz_uint8_images_with_string_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(40, 6, 5), dtype=np.uint8)
    y = np.array(["zebra", "cat", "dog", "ant"] * 10)
    path = tmp_path / "pets.npz"
    np.savez(path, X=x, y=y, kind="image")
    splits = load_npz(path)
    assert splits.name == "pets" and splits.kind == "image"
    assert splits.train.class_names == ("ant", "cat", "dog", "zebra")
    assert splits.train.x.shape == (32, 1, 6, 5) and splits.test.x.shape == (8, 1, 6, 5)
    np.testing.assert_array_equal(splits.test.class_counts(), [2, 2, 2, 2])
    # Every sample lands in exactly one split, scaled by 1/255, with its label.
    rows = {x_i.tobytes(): label for x_i, label in zip(x, y)}
    for part in (splits.train, splits.test):
        for image, code in zip(part.x, part.y):
            original = np.round(image[0] * 255).astype(np.uint8)
            assert rows[original.tobytes()] == part.class_names[code]


def test_npz_float_images_scaled_by_max_and_explicit_test_split(tmp_path: Path) -> None:
    x = np.full((6, 3, 4, 4), 1000.0)
    x[0, 0, 0, 0] = 4000.0
    path = tmp_path / "raw.npz"
    np.savez(path, X=x, y=np.array([5, 7, 5, 7, 5, 7]), X_test=x[:2] / 2, y_test=np.array([7, 5]))
    splits = load_npz(path)
    assert splits.train.x.max() == 1.0 and splits.train.x[1].max() == pytest.approx(0.25)
    assert splits.test.x.max() == pytest.approx(0.5)
    assert splits.train.class_names == ("5", "7")
    np.testing.assert_array_equal(splits.test.y, [1, 0])


def test_npz_series_keep_values_and_nan(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(20, 30)) * 5
    x[3, -4:] = np.nan
    path = tmp_path / "series.npz"
    np.savez(path, X=x, y=np.arange(20) % 2)
    splits = load_npz(path)
    assert splits.kind == "series" and splits.train.x.shape == (16, 1, 30)
    merged = np.concatenate([splits.train.x, splits.test.x])[:, 0]
    assert np.isnan(merged).sum() == 4 and np.nanmax(np.abs(merged)) == pytest.approx(np.nanmax(np.abs(x)), rel=1e-6)


@pytest.mark.parametrize(
    "entries, message",
    [
        ({"X": np.zeros((4, 3, 3)), "y": np.arange(4) % 2}, "add kind='image' or kind='series'"),
        ({"X": np.zeros((4, 2, 3, 3)), "y": np.arange(4) % 2, "X_test": np.zeros((2, 2, 3, 3))}, "together"),
        ({"X": np.zeros((4, 1, 3, 3)), "y": np.arange(3)}, "one label per sample"),
        ({"X": np.zeros((4, 8)), "y": np.array([0, 0, 0, 1])}, "class '1' has 1 sample"),
        ({"X": np.zeros((4, 1, 2, 2)), "y": np.array([0.5, 1, 0, 1])}, "non-integer"),
        ({"y": np.zeros(3)}, "missing X"),
        ({"X": -np.ones((4, 1, 3, 3)), "y": np.arange(4) % 2}, "negative values"),
        (
            {"X": np.zeros((4, 1, 3, 3)), "y": np.arange(4) % 2, "X_test": np.zeros((2, 1, 3, 3)), "y_test": [0, 2]},
            "test label '2' never occurs in y \\(the train split\\)",
        ),
    ],
)
def test_npz_errors(tmp_path: Path, entries: dict, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **entries)
    with pytest.raises(PriormatchError, match=message) as error:
        load_npz(path)
    assert "\n" not in str(error.value)


def test_npz_nan_image_error_names_the_file(tmp_path: Path) -> None:
    x = np.ones((4, 1, 3, 3))
    x[2, 0, 1, 1] = np.nan
    path = tmp_path / "holes.npz"
    np.savez(path, X=x, y=np.arange(4) % 2)
    with pytest.raises(PriormatchError, match=r"holes\.npz.*NaN"):
        load_npz(path)


# --- registry --------------------------------------------------------------------------------


def test_registry_loads_digits_and_user_npz(tmp_path: Path) -> None:
    assert load_dataset("digits").name == "digits"
    path = tmp_path / "mine.npz"
    np.savez(path, X=np.zeros((10, 1, 4, 4)), y=np.arange(10) % 2)
    assert len(load_dataset("npz", str(path)).train) == 8
    with pytest.raises(PriormatchError, match="needs a file"):
        load_dataset("npz")


def test_registry_unknown_name_lists_names_and_families(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DATASET_FAMILIES, "fake", lambda member, path: None)
    with pytest.raises(PriormatchError, match="cifar") as error:
        load_dataset("cifar")
    for name in [*DATASETS, "fake:NAME"]:
        assert name in str(error.value)
    with pytest.raises(PriormatchError, match="unknown data set 'nope:X'"):
        load_dataset("nope:X")


def test_registry_family_receives_member_and_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    digits = load_digits()

    def fake_family(member: str, path: str | None):
        calls.append((member, path))
        return digits

    monkeypatch.setitem(DATASET_FAMILIES, "fake", fake_family)
    assert load_dataset("fake:ECG:5000", "/data") is digits
    assert calls == [("ECG:5000", "/data")]


def test_dataset_status_covers_every_source(tmp_path: Path) -> None:
    status = {name: (available, how) for name, available, how in dataset_status()}
    assert set(status) == set(DATASETS)
    assert status["digits"][0] and not status["npz"][0]
    assert "apt-get install -y dataset-fashion-mnist" in status["fashion_mnist"][1]
    path = tmp_path / "f.npz"
    np.savez(path, X=np.zeros((2, 3)), y=np.arange(2))
    assert dict((n, a) for n, a, _ in dataset_status(str(path)))["npz"]
