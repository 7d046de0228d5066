"""The training loop and the CLI under DDP (2 local gloo ranks started by ``launch_local``):
rank 0 alone writes the run directory, every rank resumes from its checkpoint, errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from priormatch.cli import main
from priormatch.errors import PriormatchError
from priormatch.training.config import RunConfig, raw_config, resolve_config
from priormatch.training.distributed_setup import launch_local, process_group_from_env
from priormatch.training.experiment import build_model, prepare_data
from priormatch.training.loop import train
from priormatch.training.run_dir import RunDirectory

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny"
STEPS = 4


def tiny_config() -> RunConfig:
    """configs/tiny/pmsn.yaml for STEPS steps, a checkpoint every 2 steps, metrics every step."""
    return resolve_config(raw_config([TINY / "pmsn.yaml"], [f"train.steps={STEPS}"]), data_kind=lambda _: "image")


def _train_full_and_interrupted(root: str) -> None:
    """Each rank: one uninterrupted run, and one stopped at step 2 then resumed."""
    with process_group_from_env(torch.device("cpu")):
        config = tiny_config()
        train(config, RunDirectory(Path(root) / "full"))
        train(config, RunDirectory(Path(root) / "resumed"), stop_at_step=2)
        train(config, RunDirectory(Path(root) / "resumed"), resume=True)


def _fail_on_rank_one() -> None:
    with process_group_from_env(torch.device("cpu")):
        if torch.distributed.get_rank() == 1:
            raise PriormatchError("data.path=/nowhere does not exist; give an existing folder")
        torch.distributed.barrier()  # rank 0 waits here until the launcher stops it


def encoder_state(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "encoder.pt", weights_only=False)["state_dict"]


def test_two_ranks_write_one_run_directory_and_resume_exactly(tmp_path: Path) -> None:
    launch_local(2, _train_full_and_interrupted, str(tmp_path))
    full, resumed = RunDirectory(tmp_path / "full"), RunDirectory(tmp_path / "resumed")
    assert full.is_complete() and resumed.is_complete()
    assert [record["step"] for record in full.read_metrics()] == list(range(1, STEPS + 1))  # rank 0 only
    assert [record["step"] for record in resumed.read_metrics()] == list(range(1, STEPS + 1))
    expected = encoder_state(full.root)
    for key, value in encoder_state(resumed.root).items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0, msg=f"resumed run differs at {key}")
    # the checkpoint of a DDP run (GlobalBatchNorm in the heads) loads into a plain one-process model
    config = tiny_config()
    plain = build_model(config, prepare_data(config.data))
    plain.load_state_dict(torch.load(full.checkpoint, weights_only=False)["method"])


@pytest.mark.slow
def test_a_failing_rank_becomes_one_error_and_stops_the_others() -> None:
    with pytest.raises(PriormatchError, match=r"^rank 1 failed: data.path=/nowhere does not exist"):
        launch_local(2, _fail_on_rank_one)


def test_nproc_errors_before_starting_processes(tmp_path: Path, capsys, monkeypatch) -> None:
    config = str(TINY / "pmsn.yaml")
    assert main(["train", "--nproc", "0", "--config", config]) == 2
    assert "--nproc=0 must be >= 1" in capsys.readouterr().err
    assert main(["train", "--nproc", "3", "--config", config, "--out", str(tmp_path / "r")]) == 2
    assert "train.batch_size=32 (the global batch) does not split over 3 processes" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--nproc", "2", "--config", config]) == 2
    assert "under torchrun drop --nproc" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_nproc_2_run_evaluates_like_a_single_process_run(tmp_path: Path, capsys) -> None:
    """The acceptance command of issue 6, on the tiny config; the two runs differ only in their
    augmentation draws (seeded per rank), so their probes land close to each other."""
    runs = {}
    for nproc in (1, 2):
        out = tmp_path / f"nproc{nproc}"
        argv = ["train", "--nproc", str(nproc), "--config", str(TINY / "pmsn.yaml"), "train.steps=20", "--out", str(out)]
        assert main(argv) == 0
        assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)
        assert main(["evaluate", str(out)]) == 0
        runs[nproc] = json.loads((out / "eval.json").read_text())
    assert runs[1].keys() == runs[2].keys()
    for probe in runs[1]["probes"]:
        assert abs(runs[1]["probes"][probe]["accuracy"] - runs[2]["probes"][probe]["accuracy"]) < 0.1
