"""The run directory: the interface between ``train``, ``evaluate`` and ``report``.

    config.yaml      resolved config (every key, with defaults)
    metrics.jsonl    one JSON record per logged step
    checkpoint.pt    latest training state (atomic), for --resume
    encoder.pt       final evaluation encoder (written at the end)
    data.json        pretraining subset summary: class counts and class ranking
    status.json      {"status": "running" | "complete", ...}: complete only after encoder.pt
    eval.json        written by `priormatch evaluate`
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from priormatch.errors import PriormatchError
from priormatch.training.checkpoint import write_json_atomic


@dataclass(frozen=True)
class RunDirectory:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint.pt"

    @property
    def encoder(self) -> Path:
        return self.root / "encoder.pt"

    @property
    def data_summary(self) -> Path:
        return self.root / "data.json"

    @property
    def status_file(self) -> Path:
        return self.root / "status.json"

    @property
    def evaluation(self) -> Path:
        return self.root / "eval.json"

    def status(self) -> dict[str, Any]:
        if not self.status_file.is_file():
            return {"status": "missing"}
        return json.loads(self.status_file.read_text())

    def is_complete(self) -> bool:
        return self.status().get("status") == "complete" and self.encoder.is_file()

    def mark(self, status: str, **fields: Any) -> None:
        write_json_atomic({"status": status, **fields}, self.status_file)

    def read_data_summary(self) -> dict[str, Any]:
        if not self.data_summary.is_file():
            raise PriormatchError(f"{self.data_summary} is missing; {self.root} is not a priormatch run directory")
        return json.loads(self.data_summary.read_text())

    def append_metrics(self, record: dict[str, Any]) -> None:
        with self.metrics.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics.is_file():
            return []
        return [json.loads(line) for line in self.metrics.read_text().splitlines() if line.strip()]


def existing_run(path: str | Path) -> RunDirectory:
    """A run directory that must exist and hold a config; one-line error otherwise."""
    run = RunDirectory(Path(path))
    if not run.config.is_file():
        raise PriormatchError(f"{run.root} is not a priormatch run directory (no config.yaml); give the path `priormatch train` printed")
    return run


def completed_run(path: str | Path) -> RunDirectory:
    run = existing_run(path)
    if not run.is_complete():
        raise PriormatchError(f"run {run.root} has not finished training; finish it with `priormatch train --resume {run.root}`")
    return run
