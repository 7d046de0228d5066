"""End to end: ``priormatch diagnose --preset smoke`` writes both reports; a rerun trains nothing;
``priormatch prototypes`` and ``priormatch report`` work on its runs."""

import json
import re
from pathlib import Path

import pytest

from priormatch.cli import main
from priormatch.data import fashion_mnist
from priormatch.training.run_dir import RunDirectory

pytestmark = [
    pytest.mark.slow,  # about a minute on 2 idle cores
    pytest.mark.skipif(
        not fashion_mnist.is_available(), reason="the overlay toy needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"
    ),
]

TITLES = ("Batch composition", "Prior matching", "Overlay toy")


@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("smoke")
    assert main(["diagnose", "--preset", "smoke", "--out", str(out)]) == 0
    return out


def _runs(out: Path, method: str) -> list[Path]:
    return sorted(p for p in (out / "runs").iterdir() if p.name.startswith(f"{method}-"))


def test_html_report_has_three_tables_usage_and_gallery_and_no_external_source(smoke_dir):
    text = (smoke_dir / "report.html").read_text()
    for title in TITLES:
        assert title in text
    assert text.count("<table>") >= 4  # batch, prior matching (accuracies + winners), overlay
    sources = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    for name in ("gallery-msn", "usage-msn-batches", "usage-prior-matching", "per-class-accuracy", "gallery-overlay"):
        assert f'alt="{name}"' in text


def test_markdown_twin_and_summary(smoke_dir):
    text = (smoke_dir / "report.md").read_text()
    assert all(title in text for title in TITLES)
    assert (smoke_dir / "figures" / "gallery-msn.png").is_file() and "](figures/usage-msn-batches.png)" in text
    summary = json.loads((smoke_dir / "summary.json").read_text())
    assert set(summary["experiments"]) == {"batch_composition", "prior_matching", "overlay"}
    verdicts = [v for e in summary["experiments"].values() for v in e["verdicts"]]
    assert verdicts and all(set(v) >= {"claim", "verdict", "alpha", "effect", "ci_low", "ci_high"} for v in verdicts)
    # the smoke runs are far too short to learn: the gate refuses to judge every claim
    assert {v["verdict"] for v in verdicts} == {"not_judged"} and all(v["alpha"] == 0.05 for v in verdicts)
    assert any((run / "eval_digit.json").is_file() for run in _runs(smoke_dir, "pmsn"))


def test_rerun_reuses_every_run(smoke_dir, capsys):
    assert main(["diagnose", "--preset", "smoke", "--out", str(smoke_dir)]) == 0
    summary = json.loads((smoke_dir / "summary.json").read_text())
    assert summary["trained_now"] == 0 and summary["runs"] > 0


def test_prototypes_command(smoke_dir, tmp_path, capsys):
    run = _runs(smoke_dir, "msn")[0]
    assert RunDirectory(run).is_complete()
    assert main(["prototypes", str(run), "--out", str(tmp_path), "--prototypes", "3", "--images", "4", "--analysis-images", "200"]) == 0
    assert (tmp_path / "gallery.png").is_file() and (tmp_path / "usage.png").is_file()
    assert "prototypes in use" in capsys.readouterr().out


def test_report_command_compares_arbitrary_runs(smoke_dir, tmp_path):
    runs = [str(p) for p in _runs(smoke_dir, "msn")[:1] + _runs(smoke_dir, "mae")[:1]]
    assert main(["report", *runs, "--out", str(tmp_path), "--analysis-images", "200"]) == 0
    text = (tmp_path / "report.html").read_text()
    assert "Runs compared" in text and 'alt="gallery"' in text and (tmp_path / "report.md").is_file()


def test_prototypes_command_rejects_a_run_without_prototypes(smoke_dir, capsys):
    assert main(["prototypes", str(_runs(smoke_dir, "mae")[0])]) == 2
    assert "no prototypes" in capsys.readouterr().err
