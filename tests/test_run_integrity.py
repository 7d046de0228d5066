"""Run-directory integrity: safe checkpoint loading, one writer per run, resume that needs a
checkpoint, graceful SIGINT/SIGTERM, crash-safe metrics and architecture mismatches as one-line errors."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from cli_helpers import assert_one_line_error, run_cli
from priormatch.encoders import build_encoder
from priormatch.training.checkpoint import load_checkpoint, save_atomic
from priormatch.training.config import raw_config, resolve_config
from priormatch.training.experiment import config_data_kind
from priormatch.training.interruption import StopRequest, TrainingInterrupted
from priormatch.training.loop import train
from priormatch.training.run_dir import RunDirectory
from priormatch.training.run_lock import run_lock

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # the short-run EMA warning of tiny configs

TINY_MSN = Path(__file__).resolve().parents[1] / "configs" / "tiny" / "msn.yaml"
FAST = ("train.steps=4", "train.checkpoint_every=2", "method.ema_momentum=0.9")


def tiny(tiny_config, *overrides, method="msn"):
    return resolve_config(raw_config([tiny_config(method)], [*FAST, *overrides]), data_kind=config_data_kind)


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    """A complete tiny run and one stopped at step 3 (checkpoint at 3), trained once per module."""
    config = resolve_config(raw_config([TINY_MSN], list(FAST)), data_kind=config_data_kind)
    root = tmp_path_factory.mktemp("runs")
    complete = train(config, RunDirectory(root / "complete"))
    partial = train(config, RunDirectory(root / "partial"), stop_at_step=3)
    return complete, partial


@pytest.fixture
def complete_run(trained_runs, tmp_path):
    return RunDirectory(Path(shutil.copytree(trained_runs[0].root, tmp_path / "complete")))


@pytest.fixture
def partial_run(trained_runs, tmp_path):
    return RunDirectory(Path(shutil.copytree(trained_runs[1].root, tmp_path / "partial")))


class CodeOnLoad:
    """Unpickling this creates ``marker``: what a malicious checkpoint could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


# 1. weights_only loading


def test_crafted_checkpoint_and_encoder_are_refused_without_running_code(tmp_path, capsys, complete_run, partial_run):
    marker = tmp_path / "payload-ran"
    probe = tmp_path / "probe.pt"
    torch.save({"step": 3, "method": CodeOnLoad(marker)}, probe)
    torch.load(probe, weights_only=False)  # the payload is real: an unsafe load runs it
    assert marker.is_file()
    marker.unlink()

    torch.save({"step": 3, "method": CodeOnLoad(marker), "optimizer": {}}, partial_run.checkpoint)
    code, _, err = run_cli(capsys, "train", "--resume", partial_run.root)
    assert_one_line_error(code, err, "checkpoint.pt", "could run code")
    torch.save({"state_dict": CodeOnLoad(marker)}, complete_run.encoder)
    code, _, err = run_cli(capsys, "evaluate", complete_run.root)
    assert_one_line_error(code, err, "encoder.pt", "could run code")
    assert not marker.exists()


def test_checkpoints_priormatch_writes_load_weights_only(trained_runs):
    complete, _ = trained_runs
    for path in (complete.checkpoint, complete.encoder):
        torch.load(path, weights_only=True)  # raises if anything but tensors and plain containers


# 2. one writer per run directory


def test_second_writer_is_refused_naming_the_holder(capsys, complete_run, partial_run):
    for run, argv in ((partial_run, ("train", "--resume")), (complete_run, ("evaluate",))):
        with run_lock(run.root, purpose="train"):
            code, _, err = run_cli(capsys, *argv, run.root)
        assert_one_line_error(code, err, "in use by priormatch train", f"pid {os.getpid()}")
    assert load_checkpoint(partial_run.checkpoint)["step"] == 3
    assert not complete_run.evaluation.exists()


def test_concurrent_new_run_into_the_same_empty_directory_is_refused(tmp_path, capsys, tiny_config):
    out = tmp_path / "empty"
    out.mkdir()
    argv = ("train", "--config", tiny_config("msn"), *FAST, "--out", out)
    with run_lock(out, purpose="train"):
        code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, str(out), "in use by priormatch train")
    assert [path.name for path in out.iterdir()] == [".lock"]
    code, stdout, _ = run_cli(capsys, *argv)  # the lock file alone does not make the directory taken
    assert code == 0 and RunDirectory(out).is_complete()


HOLDER = textwrap.dedent(
    """
    import fcntl, json, os, socket, sys, time
    descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": "train", "started": time.time()}
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, json.dumps(holder).encode(), 0)
    print("locked", flush=True)
    time.sleep(60)
    """
)


def test_lock_of_a_killed_process_is_released(capsys, partial_run):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(partial_run.root / ".lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, _, err = run_cli(capsys, "train", "--resume", partial_run.root)
        assert_one_line_error(code, err, f"pid {holder.pid}")
    finally:
        holder.kill()  # SIGKILL: no cleanup runs, the kernel drops the flock
        holder.wait()
    code, _, _ = run_cli(capsys, "train", "--resume", partial_run.root)
    assert code == 0 and partial_run.is_complete()


# 3. --resume needs a checkpoint


def test_resume_without_checkpoint_is_an_error_and_touches_nothing(capsys, partial_run):
    partial_run.checkpoint.unlink()
    metrics = partial_run.metrics.read_text()
    code, _, err = run_cli(capsys, "train", "--resume", partial_run.root)
    assert_one_line_error(code, err, "nothing to resume", "checkpoint.pt", "--out")
    assert partial_run.metrics.read_text() == metrics


# 4. SIGINT / SIGTERM


class StopBeforeStep(StopRequest):
    """Asks to stop (as a SIGINT would) once training reaches ``step`` boundary checks."""

    def __init__(self, checks: int) -> None:
        self.checks = checks

    @property
    def signal_number(self):
        self.checks -= 1
        return signal.SIGINT if self.checks < 0 else None


def test_stop_request_checkpoints_the_step_boundary_and_resume_is_exact(tmp_path, tiny_config, trained_runs):
    config = tiny(tiny_config)
    run = RunDirectory(tmp_path / "stopped")
    with pytest.raises(TrainingInterrupted) as stopped:
        train(config, run, stop=StopBeforeStep(3))
    assert stopped.value.step == 3 and stopped.value.exit_status == 130
    assert load_checkpoint(run.checkpoint)["step"] == 3 and not run.is_complete()
    train(config, run, resume=True)
    reference = load_checkpoint(trained_runs[0].encoder)["state_dict"]
    resumed = load_checkpoint(run.encoder)["state_dict"]
    assert all(torch.equal(reference[key], resumed[key]) for key in reference)
    assert [r["step"] for r in run.read_metrics()] == [1, 2, 3, 4]


def test_sigterm_writes_checkpoint_prints_resume_and_resume_is_exact(tmp_path, capsys, tiny_config):
    steps = ("train.steps=40", "train.checkpoint_every=1000", "train.log_every=1", "train.num_threads=1", "method.ema_momentum=0.9")
    out, reference = tmp_path / "interrupted", tmp_path / "reference"
    command = [sys.executable, "-m", "priormatch", "train", "--config", str(tiny_config("msn")), *steps, "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "metrics.jsonl").is_file() or not (out / "metrics.jsonl").read_text():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.005)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, err
    assert f"priormatch train --resume {out}" in err.splitlines()[-1]
    stopped_at = load_checkpoint(out / "checkpoint.pt")["step"]
    assert 1 <= stopped_at < 40 and not RunDirectory(out).is_complete()

    assert run_cli(capsys, "train", "--resume", out)[0] == 0
    assert run_cli(capsys, "train", "--config", tiny_config("msn"), *steps, "--out", reference)[0] == 0
    a = load_checkpoint(out / "encoder.pt")["state_dict"]
    b = load_checkpoint(reference / "encoder.pt")["state_dict"]
    assert all(torch.equal(a[key], b[key]) for key in b)
    assert [r["step"] for r in RunDirectory(out).read_metrics()] == list(range(1, 41))
    assert [r["loss"] for r in RunDirectory(out).read_metrics()] == [r["loss"] for r in RunDirectory(reference).read_metrics()]


# 5. crash-safe metrics and status


def test_torn_metrics_line_is_skipped_and_resume_drops_rerun_steps(capsys, partial_run):
    with partial_run.metrics.open("a") as handle:  # steps 4 logged after the checkpoint at 3, then a kill mid-write
        handle.write(json.dumps({"step": 4, "loss": 1.0}) + "\n" + '{"step": 5, "lo')
    assert [r["step"] for r in partial_run.read_metrics()] == [1, 2, 3, 4]
    code, _, _ = run_cli(capsys, "train", "--resume", partial_run.root)
    assert code == 0 and partial_run.is_complete()
    records = partial_run.read_metrics()
    assert [r["step"] for r in records] == [1, 2, 3, 4] and records[-1]["loss"] != 1.0
    assert partial_run.metrics.read_text().endswith("\n")


def test_unreadable_status_counts_as_incomplete_and_resume_repairs_it(capsys, complete_run):
    complete_run.status_file.write_text('{"status": "compl')
    assert complete_run.status() == {"status": "unreadable"} and not complete_run.is_complete()
    code, _, err = run_cli(capsys, "evaluate", complete_run.root)
    assert_one_line_error(code, err, "has not finished training", "--resume")
    code, _, _ = run_cli(capsys, "train", "--resume", complete_run.root)
    assert code == 0 and complete_run.is_complete()


# 6. another architecture


def test_resume_with_checkpoint_of_another_architecture_is_one_line_error(capsys, partial_run):
    partial_run.config.write_text(partial_run.config.read_text().replace("embed_dim: 32", "embed_dim: 48"))
    code, _, err = run_cli(capsys, "train", "--resume", partial_run.root)
    assert_one_line_error(code, err, "checkpoint.pt", "size mismatch", "config.yaml")


def test_evaluate_encoder_of_another_architecture_is_one_line_error(capsys, tiny_config, complete_run):
    other = tiny(tiny_config, "encoder.embed_dim=48")
    state = load_checkpoint(complete_run.encoder)
    state["state_dict"] = build_encoder(other.encoder, tuple(state["input_shape"])).state_dict()
    save_atomic(state, complete_run.encoder)
    code, _, err = run_cli(capsys, "evaluate", complete_run.root)
    assert_one_line_error(code, err, "encoder.pt", "size mismatch")
