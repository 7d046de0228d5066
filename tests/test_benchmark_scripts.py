"""The benchmark scripts run (tiny budgets) and read their committed results: a script that no
test runs breaks silently when the library under it changes."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_script(name, *args):
    return subprocess.run([sys.executable, str(BENCHMARKS / name), *args], capture_output=True, text=True, timeout=600)


def test_rare_regimes_runs_method_arms_with_options(tmp_path):
    results = tmp_path / "rare.jsonl"
    done = run_script("rare_regimes.py", "--methods", "msn", "pmsn:tau=1.0", "--steps", "1", "--batch-size", "8",
                      "--seeds", "0", "--results", str(results))
    assert done.returncode == 0, done.stderr
    rows = {line.split("|")[1].strip() for line in done.stdout.splitlines() if line.startswith("| ") and "rank" not in line and "---" not in line}
    assert rows == {"msn", "pmsn:tau=1.0"}
    assert len(results.read_text().splitlines()) == 2


def test_rare_regimes_rejects_an_unknown_method_before_training(tmp_path):
    done = run_script("rare_regimes.py", "--methods", "pmsnn", "--results", str(tmp_path / "r.jsonl"))
    assert done.returncode != 0 and "unknown method 'pmsnn'" in done.stderr
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.skipif(not (BENCHMARKS / "results" / "ucr" / "steps200-b8-ema0.95-L0-svm2000-seed0").is_dir(), reason="no UCR results")
def test_ucr_report_reads_the_committed_full_run():
    done = run_script("ucr_benchmark.py", "--report", "--steps", "200", "--batch-size", "8", "--max-length", "0")
    assert done.returncode == 0, done.stderr
    assert "51 of 51 data sets complete" in done.stdout and "PMSN vs MSN:" in done.stdout


@pytest.mark.skipif(not (BENCHMARKS / "results" / "ucr" / "steps200-b8-ema0.95-L0-svm2000-seed4").is_dir(), reason="no ECG5000 seeds")
def test_ucr_tail_report_reads_the_committed_seeds():
    done = run_script("ucr_tail.py", "--report", "--arms", "pmsn", "pmsn:tau=1.93", "msn")
    assert done.returncode == 0, done.stderr
    assert "| pmsn:tau=1.93 | 5 |" in done.stdout and "paired differences to msn" in done.stdout
