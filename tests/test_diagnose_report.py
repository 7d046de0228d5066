"""Report writers: a self-contained HTML file and a Markdown twin with its figures beside it."""

import re

import numpy as np

from priormatch.diagnose.document import Document, Figure, Section, Table
from priormatch.diagnose.figures.per_class import PerClassSeries, per_class_figure
from priormatch.diagnose.figures.training_curves import curve_from_metrics, training_curves_figure
from priormatch.diagnose.figures.usage import UsageCurve, usage_figure
from priormatch.diagnose.html_writer import write_html
from priormatch.diagnose.markdown_writer import write_markdown

PNG_MAGIC = b"\x89PNG"


def _document() -> Document:
    usage = usage_figure([UsageCurve("msn", np.full(8, 1 / 8), np.full(8, 1 / 8))])
    per_class = per_class_figure({"rho=10": [PerClassSeries("msn", np.array([100, 10, 1.0]), np.array([0.9, 0.5, np.nan]))]})
    records = [{"step": s, "pbar_entropy": 2.0, "kl_to_prior": 0.1 / s} for s in (1, 2, 3)]
    curves = training_curves_figure([curve_from_metrics("msn", records, 8)])
    section = Section(
        "An <experiment>",
        paragraphs=["Some text with a | pipe."],
        tables=[Table(["arm", "acc"], [["msn", "71.0 ± 1.0"], ["pmsn", "72.0 ± 1.1"]], "caption")],
        figures=[Figure("usage", usage, "usage"), Figure("per-class", per_class), Figure("curves", curves)],
        verdict="Inconclusive.",
    )
    return Document("report", ["intro"], [section])


def test_figures_are_png():
    document = _document()
    assert all(f.png.startswith(PNG_MAGIC) for f in document.sections[0].figures)


def test_curve_from_metrics_without_pbar_statistics_is_none():
    assert curve_from_metrics("mae", [{"step": 1, "loss": 0.3}], 8) is None


def test_html_is_self_contained(tmp_path):
    text = write_html(_document(), tmp_path / "report.html").read_text()
    sources = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert len(sources) == 3 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in text and "&lt;experiment&gt;" in text and "<table>" in text


def test_markdown_twin_writes_figures_beside_it(tmp_path):
    path = write_markdown(_document(), tmp_path / "report.md")
    text = path.read_text()
    for name in ("usage", "per-class", "curves"):
        assert f"](figures/{name}.png)" in text
        assert (tmp_path / "figures" / f"{name}.png").read_bytes().startswith(PNG_MAGIC)
    assert "| msn | 71.0 ± 1.0 |" in text and "a \\| pipe" not in text  # paragraphs are not table cells


def test_test_split_note_states_the_balance_as_recorded():
    from priormatch.diagnose.tables import test_split_note

    assert test_split_note([{"test_class_counts": [100, 100]}]) == "test split balanced (100 per class)"
    assert test_split_note([{"test_class_counts": [1000, 12]}]) == "test split imbalanced (class counts 12 to 1,000)"
    assert test_split_note([{}]) == "test split balance not recorded"


def test_held_out_rows_follow_the_pretraining_profile_and_avoid_its_images():
    import numpy as np

    from priormatch.diagnose.prototypes import held_out_rows

    labels = np.repeat(np.arange(3), [100, 100, 100])
    subset = np.concatenate([np.arange(0, 40), np.arange(100, 120), np.arange(200, 204)])  # 40 / 20 / 4
    rows = held_out_rows(labels, subset, 32, np.random.default_rng(0))
    assert not set(rows) & set(subset) and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(np.bincount(labels[rows]), [20, 10, 2])  # scale 32 / 64 = 0.5
    assert len(held_out_rows(labels, np.arange(50), 10, np.random.default_rng(0))) == 10  # class 0 only, 50 left over
    assert held_out_rows(labels[:100], np.arange(100), 10, np.random.default_rng(0)) is None  # nothing left over
