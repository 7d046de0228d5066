"""The command line: the happy path and one-line errors for every bad input of the foundation issue."""

import json

import numpy as np
import pytest

from cli_helpers import assert_one_line_error, run_cli


@pytest.mark.slow
def test_train_then_evaluate_digits_beats_chance(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run_cli(
        capsys, "train", "data.name=digits", "method.name=pmsn", "train.steps=20", "train.progress=false", "--out", str(out)
    )
    assert code == 0 and stdout.strip().splitlines()[-1] == str(out)
    code, stdout, _ = run_cli(capsys, "evaluate", str(out))
    assert code == 0 and "linear" in stdout
    record = json.loads((out / "eval.json").read_text())
    assert record["probes"]["linear"]["accuracy"] > 0.5  # chance is 0.1


def test_tiny_train_prints_run_directory_last_and_resume_of_complete_run(tmp_path, capsys, tiny_config):
    out = tmp_path / "run"
    code, stdout, _ = run_cli(capsys, "train", "--config", str(tiny_config("msn")), "train.steps=2", "--out", str(out))
    assert code == 0 and stdout.strip().splitlines()[-1] == str(out)
    code, stdout, _ = run_cli(capsys, "train", "--resume", str(out))
    assert code == 0 and "already complete" in stdout


def test_show_config_prints_resolved_yaml(capsys):
    code, stdout, _ = run_cli(capsys, "train", "--show-config", "data.name=digits", "method.tau=0.5")
    assert code == 0 and "tau: 0.5" in stdout and "name: pmsn" in stdout


def test_datasets_lists_sources(capsys):
    code, stdout, _ = run_cli(capsys, "datasets")
    assert code == 0 and "digits" in stdout and "fashion_mnist" in stdout


def _npz(tmp_path, *, nan=False):
    rng = np.random.default_rng(0)
    x = rng.random((40, 1, 8, 8)).astype(np.float32)
    if nan:
        x[3, 0, 2, 2] = np.nan
    path = tmp_path / ("bad.npz" if nan else "good.npz")
    np.savez(path, X=x, y=np.repeat(np.arange(4), 10))
    return path


@pytest.mark.parametrize(
    "overrides,fragments",
    [
        (["foo.bar=1"], ["foo"]),
        (["method.temprature=0.2"], ["method.temprature"]),
        (["train.steps=abc"], ["train.steps"]),
        (["data.name=cifar10"], ["cifar10", "digits"]),
        (["method.name=byol"], ["byol", "pmsn"]),
        (["data.name=fashion_mnist", "data.path=/nonexistent/fmnist"], ["dataset-fashion-mnist"]),
        (["data.sampler=class_imbalanced", "data.classes_per_batch=11"], ["classes_per_batch"]),
        (["data.sampler=round_robin"], ["data.sampler"]),
        (["method.prior_values=[0.5,0.5]"], ["2 entries", "16 prototypes"]),
        (["method.tau=-1"], ["tau"]),
        (["method.temperature=-0.1"], ["method.temperature"]),
        (["method.mask_ratio=1.0"], ["method.mask_ratio"]),
        (["data.imbalance_ratio=1000", "data.subset_size=300"], ["class"]),
        (["train.batch_size=100000"], ["train.batch_size"]),
        (["noequals"], ["key=value"]),
    ],
)
def test_bad_input_is_one_line_error_and_leaves_no_run_directory(tmp_path, capsys, tiny_config, overrides, fragments):
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--config", str(tiny_config("pmsn")), *overrides, "--out", str(out))
    assert_one_line_error(code, err, *fragments)
    assert not out.exists()


def test_nan_in_user_data_is_rejected(tmp_path, capsys, tiny_config):
    path = _npz(tmp_path, nan=True)
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--config", str(tiny_config("pmsn")), "data.name=npz", f"data.path={path}", "--out", str(out))
    assert_one_line_error(code, err, str(path), "NaN")
    assert not out.exists()


def test_user_npz_trains(tmp_path, capsys, tiny_config):
    path = _npz(tmp_path)
    out = tmp_path / "run"
    code, _, _ = run_cli(
        capsys,
        "train",
        "--config",
        str(tiny_config("pmsn")),
        "data.name=npz",
        f"data.path={path}",
        "train.batch_size=16",
        "train.steps=2",
        "--out",
        str(out),
    )
    assert code == 0 and (out / "encoder.pt").is_file()


def test_missing_config_file_and_existing_out(tmp_path, capsys, tiny_config):
    code, _, err = run_cli(capsys, "train", "--config", str(tmp_path / "nope.yaml"))
    assert_one_line_error(code, err, "nope.yaml")
    out = tmp_path / "taken"
    out.mkdir()
    (out / "something").write_text("x")
    code, _, err = run_cli(capsys, "train", "--config", str(tiny_config("pmsn")), "--out", str(out))
    assert_one_line_error(code, err, "already exists")


def test_corrupt_checkpoint_and_encoder_are_one_line_errors(tmp_path, capsys, tiny_config):
    out = tmp_path / "run"
    assert run_cli(capsys, "train", "--config", str(tiny_config("pmsn")), "train.steps=2", "--out", str(out))[0] == 0
    (out / "encoder.pt").write_bytes(b"garbage")
    code, _, err = run_cli(capsys, "evaluate", str(out))
    assert_one_line_error(code, err, "encoder.pt", "corrupt")
    (out / "status.json").write_text(json.dumps({"status": "running"}))
    (out / "checkpoint.pt").write_bytes(b"garbage")
    code, _, err = run_cli(capsys, "train", "--resume", str(out))
    assert_one_line_error(code, err, "checkpoint.pt", "corrupt")


def test_evaluate_rejects_unfinished_or_foreign_directories(tmp_path, capsys):
    code, _, err = run_cli(capsys, "evaluate", str(tmp_path))
    assert_one_line_error(code, err, "not a priormatch run directory")
