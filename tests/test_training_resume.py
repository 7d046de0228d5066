"""Training writes a complete run directory, and an interrupted run resumed ends with identical weights."""

import json

import pytest
import torch

from priormatch.errors import PriormatchError
from priormatch.methods import METHODS
from priormatch.training.checkpoint import load_checkpoint, save_atomic
from priormatch.training.config import raw_config, resolve_config
from priormatch.training.experiment import config_data_kind
from priormatch.training.loop import train
from priormatch.training.run_dir import RunDirectory

METRIC_KEYS = {"loss", "cross_entropy", "regularizer", "prototypes_in_use", "pbar_entropy", "kl_to_prior", "lr", "samples_per_s"}


def tiny(tiny_config, *overrides, method="pmsn"):
    return resolve_config(raw_config([tiny_config(method)], list(overrides)), data_kind=config_data_kind)


def test_run_directory_is_complete_and_logs_diagnostics(tmp_path, tiny_config):
    run = train(tiny(tiny_config, "train.steps=4"), RunDirectory(tmp_path / "run"))
    assert run.is_complete()
    records = run.read_metrics()
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert METRIC_KEYS <= set(records[-1])
    assert 1 <= records[-1]["prototypes_in_use"] <= 16
    summary = json.loads(run.data_summary.read_text())
    assert sum(summary["class_counts"]) == summary["num_pretrain"]
    assert not list(run.root.glob(".*.tmp")), "temporary checkpoint files left behind"


@pytest.mark.parametrize("method, extra", [*((name, ()) for name in sorted(METHODS)), ("swav", ("method.queue_length=40",))])
def test_interrupted_and_resumed_run_matches_uninterrupted(tmp_path, tiny_config, method, extra):
    """Every method, and SwAV with its queue on (a buffer that fills across the interruption)."""
    config = tiny(tiny_config, "train.steps=6", "train.checkpoint_every=2", *extra, method=method)
    full = train(config, RunDirectory(tmp_path / "full"))
    partial = train(config, RunDirectory(tmp_path / "partial"), stop_at_step=3)
    assert not partial.is_complete()
    assert load_checkpoint(partial.checkpoint)["step"] == 3
    resumed = train(config, partial, resume=True)
    assert resumed.is_complete()
    a = load_checkpoint(full.encoder)["state_dict"]
    b = load_checkpoint(resumed.encoder)["state_dict"]
    for key in a:
        assert torch.equal(a[key], b[key]), key
    full_state = load_checkpoint(full.checkpoint)["method"]
    resumed_state = load_checkpoint(resumed.checkpoint)["method"]
    for key in full_state:
        assert torch.equal(full_state[key], resumed_state[key]), key
    assert [r["loss"] for r in full.read_metrics()] == [r["loss"] for r in resumed.read_metrics()]


def test_save_atomic_replaces_and_corrupt_checkpoint_is_one_line_error(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_atomic({"step": 1}, path)
    save_atomic({"step": 2}, path)
    assert load_checkpoint(path)["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(PriormatchError, match="corrupt") as error:
        load_checkpoint(path)
    assert "\n" not in str(error.value)
