"""Data at scale: memory-mapped ``.npy`` folders (``data.name=npy``) load, validate in chunks and
train without being copied whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from priormatch.data import load_dataset, memmap_arrays
from priormatch.errors import PriormatchError
from priormatch.training.config import raw_config, resolve_config
from priormatch.training.experiment import config_data_kind, prepare_data
from priormatch.training.loop import read_batch, train
from priormatch.training.run_dir import RunDirectory


def write_folder(folder: Path, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(memmap_arrays.FILES, (x_train, y_train, x_test, y_test), strict=True):
        np.save(folder / name, array)
    return folder


def series_folder(folder: Path, n: int = 64, length: int = 32, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 4 * 10  # classes 0, 10, 20, 30
    x = (rng.normal(size=(n, 1, length)) + labels[:, None, None] / 10).astype(np.float32)
    return write_folder(folder, x, labels, x[:16].copy(), labels[:16].copy())


def test_inputs_stay_memory_mapped_and_labels_are_encoded(tmp_path: Path) -> None:
    splits = load_dataset("npy", str(series_folder(tmp_path / "s")))
    assert isinstance(splits.train.x, np.memmap) and not splits.train.x.flags.writeable
    assert splits.kind == "series" and splits.train.input_shape == (1, 32)
    assert splits.train.class_names == ("0", "10", "20", "30")
    np.testing.assert_array_equal(splits.train.y[:5], [0, 1, 2, 3, 0])
    assert load_dataset("npy", str(tmp_path / "s")) is splits  # checked once per process


def test_two_dimensional_series_get_a_channel_axis_without_a_copy(tmp_path: Path) -> None:
    x = np.zeros((10, 20), dtype=np.float32)
    y = np.arange(10) % 2
    splits = load_dataset("npy", str(write_folder(tmp_path, x, y, x, y)))
    assert splits.train.x.shape == (10, 1, 20) and isinstance(splits.train.x, np.memmap)


def test_images_are_four_dimensional(tmp_path: Path) -> None:
    x = np.full((6, 1, 4, 4), 0.5, dtype=np.float32)
    y = np.arange(6) % 2
    assert load_dataset("npy", str(write_folder(tmp_path, x, y, x, y))).kind == "image"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: {**a, "X_train.npy": a["X_train.npy"].astype(np.float64)}, "must be float32"),
        (lambda a: {**a, "y_train.npy": a["y_train.npy"][:-1]}, r"expected \(64,\) integers"),
        (lambda a: {**a, "y_test.npy": a["y_test.npy"].astype(np.float32)}, "dtype float32"),
        (lambda a: {**a, "X_test.npy": a["X_test.npy"][:, :, :16]}, "same size"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, change, message: str) -> None:
    source = series_folder(tmp_path / "good")
    arrays = change({name: np.load(source / name) for name in memmap_arrays.FILES})
    folder = write_folder(tmp_path / "bad", *(arrays[name] for name in memmap_arrays.FILES))
    with pytest.raises(PriormatchError, match=message):
        load_dataset("npy", str(folder))


def test_missing_files_and_path_are_errors(tmp_path: Path) -> None:
    with pytest.raises(PriormatchError, match="needs a folder"):
        load_dataset("npy", None)
    with pytest.raises(PriormatchError, match="missing X_train.npy"):
        load_dataset("npy", str(tmp_path))


def test_values_are_checked_chunk_by_chunk_naming_the_global_row(monkeypatch) -> None:
    monkeypatch.setattr(memmap_arrays, "CHUNK_BYTES", 3 * 4 * 8)  # 3 rows of 8 float32 per chunk
    x = np.zeros((10, 1, 8), dtype=np.float32)
    x[7, 0, 2] = np.inf
    with pytest.raises(PriormatchError, match="row 7 contains Inf"):
        memmap_arrays.check_values_in_chunks(x, "series", "x")
    x[7] = np.nan
    with pytest.raises(PriormatchError, match="series 7 is entirely NaN"):
        memmap_arrays.check_values_in_chunks(x, "series", "x")
    images = np.full((5, 1, 2, 2), 0.5, dtype=np.float32)
    images[4, 0, 1, 1] = 2.0
    with pytest.raises(PriormatchError, match=r"image 4 has values outside \[0, 1\]"):
        memmap_arrays.check_values_in_chunks(images, "image", "x")


def test_pretraining_set_and_batches_read_rows_without_copying_the_memmap(tmp_path: Path) -> None:
    config = resolve_config(raw_config([], ["data.name=npy", f"data.path={series_folder(tmp_path / 's')}"]), data_kind=config_data_kind)
    data = prepare_data(config.data)
    assert data.train.x is data.splits.train.x  # the whole split: the memmap itself
    batch = read_batch(data.train.x, np.array([5, 1, 3]), torch.device("cpu"))
    np.testing.assert_array_equal(batch.numpy(), data.splits.train.x[[5, 1, 3]])


def test_training_runs_on_a_memory_mapped_folder(tmp_path: Path) -> None:
    folder = series_folder(tmp_path / "s")
    overrides = [
        "data.name=npy",
        f"data.path={folder}",
        "encoder.name=conv1d",
        "encoder.hidden=8",
        "encoder.depth=1",
        "encoder.embed_dim=16",
        "method.name=pmsn",
        "method.num_prototypes=8",
        "method.projection_dim=8",
        "method.projection_hidden=16",
        "method.focal_views=1",
        "train.steps=2",
        "train.batch_size=16",
        "train.progress=false",
    ]
    config = resolve_config(raw_config([], overrides), data_kind=config_data_kind)
    run = train(config, RunDirectory(tmp_path / "run"))
    assert run.is_complete()
