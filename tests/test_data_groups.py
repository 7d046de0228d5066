"""``data.groups``: metadata or clusters instead of labels for the long-tailed subset, the
class-imbalanced sampler and the class_counts prior; labels optional."""

import json

import numpy as np
import pytest

from cli_helpers import assert_one_line_error, run_cli
from priormatch.data.groups import kmeans_groups, resolve_groups
from priormatch.data.user_arrays import load_npz
from priormatch.errors import PriormatchError
from priormatch.training.config import DataConfig
from priormatch.training.experiment import prepare_data


def sensor_file(tmp_path, *, labels=True, name="sensors.npz"):
    """Series of 4 activities (label = the waveform) recorded from 3 subjects (group), 40 / 20 / 10 each."""
    rng = np.random.default_rng(0)
    subject = np.repeat(np.array(["anna", "ben", "cleo"]), [40, 20, 10])
    activity = np.tile(np.arange(4), 18)[: len(subject)]
    t = np.linspace(0, 1, 32)
    x = np.sin(2 * np.pi * (activity[:, None] + 1) * t) + 0.1 * rng.standard_normal((len(subject), 32))
    entries = {"X": x[:, None, :].astype(np.float32), "groups": subject, "kind": "series"}
    if labels:
        entries["y"] = activity
    path = tmp_path / name
    np.savez(path, **entries)
    return path


def test_file_groups_are_read_and_follow_the_train_split(tmp_path):
    splits = load_npz(sensor_file(tmp_path))
    assert splits.train.groups is not None and len(splits.train.groups) == len(splits.train)
    assert set(splits.train.groups.tolist()) == {0, 1, 2} and splits.test.groups is None
    assert splits.train.subset(np.arange(5)).groups.tolist() == splits.train.groups[:5].tolist()


def test_without_labels_the_groups_are_the_labels(tmp_path):
    splits = load_npz(sensor_file(tmp_path, labels=False))
    assert splits.train.class_names == ("anna", "ben", "cleo")
    np.testing.assert_array_equal(splits.train.y, splits.train.groups)


def test_the_long_tailed_subset_and_the_class_counts_prior_follow_the_groups(tmp_path):
    path = sensor_file(tmp_path)
    config = DataConfig(name="npz", path=str(path), groups="file", imbalance_ratio=2.0, subset_size=16)
    data = prepare_data(config)
    group_counts = data.mechanism_counts()
    assert sorted(group_counts.tolist(), reverse=True)[0] / sorted(group_counts.tolist())[0] == pytest.approx(2.0, rel=0.3)
    assert group_counts.sum() == 16 and data.summary()["group_counts"] == group_counts.tolist()
    by_labels = prepare_data(DataConfig(name="npz", path=str(path), imbalance_ratio=2.0, subset_size=16))
    assert by_labels.groups is None and len(by_labels.mechanism_counts()) == 4  # without data.groups: the 4 activities


def test_kmeans_groups_find_planted_clusters_numbered_by_size():
    rng = np.random.default_rng(1)
    centres = np.array([0.0, 8.0, 16.0])
    truth = np.repeat([0, 1, 2], [30, 20, 10])
    x = (centres[truth][:, None] + rng.standard_normal((60, 5)))[:, None, :]
    codes = kmeans_groups(x, 3, seed=0)
    assert np.bincount(codes).tolist() == [30, 20, 10]
    assert (codes == truth).all()


@pytest.mark.parametrize(
    "spec,fragment",
    [("kmeans:1", "C must be an integer from 2"), ("kmeans:x", "C must be an integer"), ("subject", "is not one of: file, kmeans:C")],
)
def test_bad_group_specs_are_one_line_errors(tmp_path, spec, fragment):
    splits = load_npz(sensor_file(tmp_path))
    with pytest.raises(PriormatchError, match=fragment) as error:
        resolve_groups(spec, splits.train, seed=0)
    assert "\n" not in str(error.value)


def test_file_groups_without_a_groups_entry_say_how_to_add_one(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "plain.npz"
    np.savez(path, X=rng.standard_normal((20, 16)).astype(np.float32), y=np.repeat([0, 1], 10))
    with pytest.raises(PriormatchError, match="needs a 'groups' entry"):
        resolve_groups("file", load_npz(path).train, seed=0)


def test_train_and_evaluate_with_groups_and_the_class_imbalanced_sampler(tmp_path, capsys):
    path, out = sensor_file(tmp_path), tmp_path / "run"
    code, _, _ = run_cli(
        capsys,
        "train",
        "data.name=npz",
        f"data.path={path}",
        "data.groups=kmeans:3",
        "data.sampler=class_imbalanced",
        "data.classes_per_batch=2",
        "method.name=simclr",
        "encoder.hidden=8",
        "encoder.depth=1",
        "encoder.embed_dim=8",
        "train.steps=2",
        "train.batch_size=8",
        "train.progress=false",
        "train.num_threads=1",
        "--out",
        str(out),
    )
    assert code == 0
    summary = json.loads((out / "data.json").read_text())
    assert len(summary["group_counts"]) == 3 and summary["class_names"] == ["0", "1", "2", "3"]
    code, _, _ = run_cli(capsys, "evaluate", str(out))
    assert code == 0 and "linear" in json.loads((out / "eval.json").read_text())["probes"]


def test_a_bad_group_spec_on_the_command_line_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "data.name=npz", f"data.path={sensor_file(tmp_path)}", "data.groups=kmeans:0", "--out", out)
    assert_one_line_error(code, err, "data.groups", "kmeans")
    assert not out.exists()


def test_diagnose_on_data_without_labels_judges_usage_against_the_groups(tmp_path):
    from priormatch.cli import main
    from test_diagnose_series import TINY_SERIES

    rng = np.random.default_rng(3)
    subject = np.repeat([0, 1, 2, 3], [120, 80, 60, 40])
    t = np.linspace(0, 1, 32)
    x = np.sin(2 * np.pi * (subject[:, None] + 1) * t) + 0.2 * rng.standard_normal((len(subject), 32))
    path = tmp_path / "unlabelled.npz"
    np.savez(path, X=x[:, None, :].astype(np.float32), groups=subject, kind="series")
    overrides = [o for o in TINY_SERIES if not o.startswith(("base.data.name", "base.data.subset_size"))]
    out = tmp_path / "diag"
    argv = [
        "diagnose",
        "--preset",
        "series",
        "--out",
        str(out),
        "--workers",
        "1",
        *overrides,
        "base.data.name=npz",
        f"base.data.path={path}",
        "base.data.groups=file",
        "base.data.subset_size=100",
    ]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["experiments"]) == {"batch_composition", "prior_matching"}
