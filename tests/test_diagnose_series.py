"""End to end on series: ``priormatch diagnose --preset series`` (shrunk to seconds) runs the
batch-composition and prior-matching experiments on the balanced regime series and draws the
prototype gallery as line plots."""

import json

from priormatch.cli import main
from priormatch.diagnose.config import load_diagnose_config

TINY_SERIES = [
    "seeds=1",
    "base.data.name=regimes:zipf_exponent=0.0,rare_regimes=0,n_train=320,n_test_per_regime=10,length=32",
    "base.data.subset_size=120",
    "base.encoder.embed_dim=16",
    "base.encoder.depth=1",
    "base.train.epochs=1",
    "base.train.batch_size=20",
    "base.eval.probe_samples_per_class=10",
    "batch_composition.methods=[msn,mae]",
    "prior_matching.taus=[1.0]",
    "prior_matching.imbalance_ratios=[1.0,10.0]",
    "figures.analysis_images=100",
    "figures.gallery_methods=[msn]",
    "method_overrides.msn.num_prototypes=8",
    "method_overrides.pmsn.num_prototypes=8",
    "method_overrides.msn.projection_hidden=16",
    "method_overrides.pmsn.projection_hidden=16",
    "method_overrides.mae.decoder_dim=16",
    "method_overrides.mae.decoder_depth=1",
]


def test_series_preset_is_series_data_without_the_image_overlay():
    config = load_diagnose_config("series")
    assert config.experiments == ["batch_composition", "prior_matching"]
    assert config.base["data"]["name"].startswith("regimes:") and config.base["encoder"]["name"] == "series_transformer"


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
