"""The run directory: the interface between ``train``, ``evaluate`` and ``report``.

    config.yaml      resolved config (every key, with defaults)
    metrics.jsonl    one JSON record per logged step
    checkpoint.pt    latest training state (atomic), for --resume
    encoder.pt       final evaluation encoder (written at the end)
    data.json        pretraining subset summary: class counts and class ranking
    status.json      {"status": "running" | "complete", ...}: complete only after encoder.pt
    eval.json        written by `priormatch evaluate`
    .lock            the writer's lock (:mod:`priormatch.training.run_lock`)

metrics.jsonl is appended one whole line per write; a process killed mid-write can leave a torn
last line (no newline), which readers skip and ``--resume`` removes (:meth:`RunDirectory.repair_metrics`).
status.json is derived: an unreadable one counts as ``"unreadable"``, i.e. not complete.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from priormatch.errors import PriormatchError
from priormatch.training.checkpoint import write_json_atomic, write_text_atomic


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
        """status.json's record; ``{"status": "missing"}`` without one and ``{"status": "unreadable"}``
        for a truncated or foreign one (it is rewritten by the next ``train --resume``)."""
        if not self.status_file.is_file():
            return {"status": "missing"}
        try:
            record = json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {"status": "unreadable"}
        return record if isinstance(record, dict) else {"status": "unreadable"}

    def is_complete(self) -> bool:
        return self.status().get("status") == "complete" and self.encoder.is_file()

    def mark(self, status: str, **fields: Any) -> None:
        write_json_atomic({"status": status, **fields}, self.status_file)

    def read_data_summary(self) -> dict[str, Any]:
        if not self.data_summary.is_file():
            raise PriormatchError(f"{self.data_summary} is missing; {self.root} is not a priormatch run directory")
        try:
            summary = json.loads(self.data_summary.read_text())
        except (OSError, ValueError):
            summary = None
        if not isinstance(summary, dict):
            raise PriormatchError(f"{self.data_summary} is unreadable or not a JSON object; re-train the run into a new --out directory")
        return summary

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append ``record`` as one line with a single ``write`` (O_APPEND), so a kill leaves at most
        one torn last line."""
        line = (json.dumps(record) + "\n").encode("utf-8")
        descriptor = os.open(self.metrics, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)

    def read_metrics(self) -> list[dict[str, Any]]:
        """The logged records; a torn last line (a write cut short by a kill) is skipped."""
        if not self.metrics.is_file():
            return []
        return _parse_metrics(self.metrics, self.metrics.read_text(encoding="utf-8", errors="replace"))

    def repair_metrics(self, *, through_step: int) -> None:
        """Keep the records of steps up to ``through_step`` (a resumed run re-runs the later ones)
        and drop a torn last line; rewrites metrics.jsonl atomically."""
        if not self.metrics.is_file():
            return
        kept = [record for record in self.read_metrics() if not _after(record, through_step)]
        write_text_atomic("".join(json.dumps(record) + "\n" for record in kept), self.metrics)


def _parse_metrics(path: Path, text: str) -> list[dict[str, Any]]:
    """Records of a metrics.jsonl text; a torn last line is dropped, a bad complete line is an error."""
    lines = text.split("\n")
    torn = lines.pop()  # "" when the file ends with a newline
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = _metrics_record(line)
        if record is None:
            raise PriormatchError(f"{path} line {number} is not a JSON record; delete that line (or the file) and retry")
        records.append(record)
    last = _metrics_record(torn) if torn.strip() else None
    return records + ([last] if last is not None else [])


def _after(record: dict[str, Any], step: int) -> bool:
    value = record.get("step")
    return isinstance(value, (int, float)) and value > step


def _metrics_record(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


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
