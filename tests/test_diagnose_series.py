"""End to end on series: ``priormatch diagnose --preset series`` (shrunk to seconds) runs the
batch-composition and prior-matching experiments on the balanced regime series and draws the
prototype gallery as line plots."""

import json

import numpy as np

from cli_helpers import assert_one_line_error, run_cli
from priormatch.cli import main
from priormatch.data.series_sources import REGIME_DEFAULTS
from priormatch.diagnose.config import load_diagnose_config
from priormatch.diagnose.experiments.prior_matching import cells as prior_matching_cells
from priormatch.recipes import RECIPES

TINY_SERIES = [
    "seeds=1",
    "base.data.name=regimes:zipf_exponent=0.0,rare_regimes=0,n_train=320,n_test_per_regime=10,length=32",
    "base.data.subset_size=120",
    "base.encoder.hidden=8",
    "base.encoder.depth=2",
    "base.encoder.embed_dim=16",
    "base.train.steps=6",
    "base.train.batch_size=20",
    "base.eval.probe_samples_per_class=10",
    "batch_composition.methods=[msn,jepa]",
    "prior_matching.taus=[1.0]",
    "prior_matching.imbalance_ratios=[1.0,10.0]",
    "figures.analysis_images=100",
    "figures.gallery_methods=[msn]",
    "method_overrides.msn.num_prototypes=8",
    "method_overrides.msn.projection_hidden=16",
    "method_overrides.ts2vec.num_prototypes=8",
    "method_overrides.ts2vec.projection_hidden=16",
    "method_overrides.jepa.predictor_dim=8",
]


def test_series_preset_is_series_data_without_the_image_overlay():
    config = load_diagnose_config("series")
    assert config.experiments == ["batch_composition", "prior_matching"]
    assert config.base["data"]["name"].startswith("regimes:") and config.base["encoder"]["name"] == "conv1d"


def test_series_preset_is_the_series_recipe():
    """The preset trains at SSLEncoder's series recipe: TS2Vec's network, batch and step rule, and
    asks the prior question of TS2Vec's objective with a uniform head as the baseline."""
    config = load_diagnose_config("series")
    recipe = RECIPES["series"]
    encoder, train, data = config.base["encoder"], config.base["train"], config.base["data"]
    assert {key: encoder[key] for key in recipe.conv1d} == recipe.conv1d
    assert train["batch_size"] == recipe.batch_size
    assert "length" not in data["name"]
    assert train["steps"] == recipe.steps(np.zeros((data["subset_size"], 1, int(REGIME_DEFAULTS["length"]))))
    experiment = config.prior_matching
    assert experiment.baseline == experiment.method == recipe.method
    assert experiment.baseline_arm == f"{recipe.method} prior=uniform"


def test_prior_matching_can_compare_one_method_under_two_priors():
    config = load_diagnose_config("series")
    planned = {cell.arm: cell for cell in prior_matching_cells(config) if cell.condition == "balanced"}
    assert "method.prior=uniform" in planned["ts2vec prior=uniform"].overrides
    assert {"method.prior=power_law", "method.tau=1.0"} <= set(planned["ts2vec tau=1 prior targets"].overrides)


def test_series_diagnose_writes_the_report(tmp_path):
    assert main(["diagnose", "--preset", "series", "--out", str(tmp_path), "--workers", "1", *TINY_SERIES]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["experiments"]) == {"batch_composition", "prior_matching"}
    text = (tmp_path / "report.md").read_text()
    assert "Prior matching" in text and "](figures/gallery-msn.png)" in text
    assert (tmp_path / "figures" / "gallery-msn.png").stat().st_size > 1000
    for experiment in summary["experiments"].values():  # every section ends with the rare-event table
        events = experiment["tables"][-1]
        assert events["columns"] == ["condition", "features", "auroc", "auprc", "tail_recall@1", "tail_recall@5"]
        assert {"untrained encoder", "raw input"} <= {row[1] for row in events["rows"]}
    assert "Rare events: the tail classes" in text
    assert "## Recommendation" in text and summary["experiments"]["prior_matching"]["recommendation"]


def test_an_unknown_baseline_prior_is_one_line_before_any_run(tmp_path, capsys):
    code, _, err = run_cli(
        capsys,
        "diagnose",
        "--preset",
        "series",
        "--out",
        tmp_path / "out",
        "--workers",
        "1",
        *TINY_SERIES,
        "prior_matching.baseline_prior=zipf",
    )
    assert_one_line_error(code, err, "unknown prior 'zipf'")
    assert not (tmp_path / "out").exists()
