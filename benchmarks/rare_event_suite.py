"""The rare-event suite of ``priormatch evaluate`` over data sets and arms, beside the untrained encoder
and the raw inputs: AUROC / AUPRC of the kNN-distance score for the tail classes, and few-shot tail recall.

Each (data set, arm, seed) is ``priormatch train DATA ARM --out RUN`` then ``priormatch evaluate RUN``
(the series defaults: SVM + linear probe on the whole train split; the suite uses the same rows),
with ``train.steps``, ``train.batch_size`` and the EMA start momentum 1 - 10 / steps set here; the
record is the run's eval.json ``rare_event`` entry, cached one JSON line per run in ``--results``.

    nice python benchmarks/rare_event_suite.py --data ucr:ECG5000 regimes --steps 300
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from priormatch.training.schedules import short_run_momentum

HERE = Path(__file__).resolve().parent
ARMS = {
    "msn": ["method.name=msn"],
    "pmsn tau=0.25": ["method.name=pmsn"],
    "pmsn tau=1": ["method.name=pmsn", "method.tau=1.0"],
    "pmsn adaptive": ["method.name=pmsn", "method.prior=adaptive"],
    "simclr": ["method.name=simclr"],
    "ts2vec": ["method.name=ts2vec"],
}
EMA_METHODS = ("msn", "pmsn")
# The conv net the cached records were trained with (the CLI's series default until 2026-12-01, when
# the default became TS2Vec's size): pinned, so new records match the cache.
ENCODER = ["encoder.name=conv1d", "encoder.hidden=32", "encoder.depth=6", "encoder.embed_dim=128"]


def run_arm(data: str, arm: str, seed: int, steps: int, batch_size: int) -> dict:
    """Train and evaluate one run in a temporary directory; its rare_event entry and class counts."""
    overrides = [
        f"data.name={data}",
        *ARMS[arm],
        *ENCODER,
        f"seed={seed}",
        f"train.steps={steps}",
        f"train.batch_size={batch_size}",
        "train.progress=false",
        "train.num_threads=1",
    ]
    if any(f"method.name={m}" in overrides for m in EMA_METHODS):
        overrides.append(f"method.ema_momentum={short_run_momentum(steps):.6f}")
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        for command in (["train", *overrides, "--out", str(run)], ["evaluate", str(run)]):
            done = subprocess.run([sys.executable, "-m", "priormatch", *command], capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{data} {arm}: {done.stderr.strip().splitlines()[-1]}")
        record = json.loads((run / "eval.json").read_text())
    return {
        "data": data,
        "arm": arm,
        "seed": seed,
        "steps": steps,
        "batch_size": batch_size,
        "class_counts": record["class_counts"],
        "rare_event": record["rare_event"],
    }


def table(records: list[dict]) -> str:
    """Markdown: per data set, one row per arm, then the untrained encoder and raw inputs of the first arm."""
    lines = ["| data | features | AUROC | AUPRC (chance) | tail recall @1 | tail recall @5 |", "| --- | --- | --- | --- | --- | --- |"]
    for data in dict.fromkeys(r["data"] for r in records):
        rows = [r for r in records if r["data"] == data]
        entries = [(r["arm"], r["rare_event"]) for r in rows]
        entries += [(f"{name} ({rows[0]['arm']}'s)", rows[0]["rare_event"][name]) for name in ("untrained", "raw_input")]
        chance = rows[0]["rare_event"]["event_rate"]
        for name, suite in entries:
            recall = suite["tail_recall_at_k"]
            lines.append(
                f"| {data} | {name} | {_cell(suite['auroc'])} | {_cell(suite['auprc'])} ({chance:.3f}) | "
                f"{_cell(recall['1'])} | {_cell(recall['5'])} |"
            )
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["ucr:ECG5000", "regimes"])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--results", type=Path, default=HERE / "results" / "rare_event_suite.jsonl")
    parser.add_argument("--report", action="store_true", help="only print the table from the cache")
    args = parser.parse_args()
    cached = [json.loads(line) for line in args.results.read_text().splitlines()] if args.results.is_file() else []
    key = lambda r: (r["data"], r["arm"], r["seed"], r["steps"], r["batch_size"])  # noqa: E731
    done = {key(r) for r in cached}
    for data in args.data:
        for arm in args.arms:
            for seed in args.seeds:
                if args.report or (data, arm, seed, args.steps, args.batch_size) in done:
                    continue
                record = run_arm(data, arm, seed, args.steps, args.batch_size)
                cached.append(record)
                with args.results.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
                print(f"{data} {arm} seed {seed}: AUROC {_cell(record['rare_event']['auroc'])}", flush=True)
    wanted = [
        r for r in cached if r["data"] in args.data and r["arm"] in args.arms and r["seed"] in args.seeds and r["steps"] == args.steps
    ]
    print(table(wanted))


if __name__ == "__main__":
    main()
