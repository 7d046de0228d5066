"""Benchmark: start-up time of the ``priormatch`` command against a bare Python interpreter.

Times, interleaved and repeated, fresh processes: ``python -c pass`` (the floor: the interpreter
and site packages), ``python -m priormatch --help``, an argument error (``python -m priormatch
train --nproc x``, exit 2), the imports the command did eagerly before its sub-commands imported
their dependencies lazily (for reference) and, when on PATH, the installed ``priormatch --help``. Prints the median wall time of each, its ratio
to the floor and the machine load, so the numbers of one run compare with each other.

    python benchmarks/cli_startup.py                 # 15 repetitions
    python benchmarks/cli_startup.py --repeats 31
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -m priormatch --help": [sys.executable, "-m", "priormatch", "--help"],
    "python -m priormatch train --nproc x": [sys.executable, "-m", "priormatch", "train", "--nproc", "x"],
}
EXPECTED_STATUS = {name: 2 if "--nproc x" in name else 0 for name in COMMANDS}
# What `priormatch --help` imported before the sub-commands loaded their dependencies lazily.
EAGER_IMPORTS = (
    "priormatch.estimator, priormatch.cli.train_run, priormatch.diagnose.pipeline, "
    "priormatch.evaluation.run_evaluation, priormatch.evaluation.run_prior, priormatch.diagnose.sections.runs, "
    "priormatch.diagnose.figures.gallery, priormatch.diagnose.figures.usage, priormatch.diagnose.prototypes"
)
COMMANDS["eager imports of the earlier start-up"] = [sys.executable, "-c", f"import {EAGER_IMPORTS}"]
EXPECTED_STATUS["eager imports of the earlier start-up"] = 0
CONSOLE_SCRIPT = shutil.which("priormatch")  # the installed entry point, when on PATH
if CONSOLE_SCRIPT is not None:
    COMMANDS["priormatch --help"] = [CONSOLE_SCRIPT, "--help"]
    EXPECTED_STATUS["priormatch --help"] = 0


def wall_seconds(command: list[str], expected_status: int) -> float:
    """Wall time of one fresh process running ``command`` (its output discarded)."""
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != expected_status:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}, expected {expected_status}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="repetitions of each command (default 15)")
    args = parser.parse_args()
    environment_note = f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):  # interleaved, so a change of load hits every command alike
        for name, command in COMMANDS.items():
            times[name].append(wall_seconds(command, EXPECTED_STATUS[name]))
    floor = statistics.median(times["python -c pass"])
    print(f"load average {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores), {args.repeats} repetitions, {environment_note}")
    print("| command | median wall s | ratio to python -c pass |")
    print("| --- | ---: | ---: |")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"| {name} | {median:.3f} | {median / floor:.2f} |")


if __name__ == "__main__":
    main()
