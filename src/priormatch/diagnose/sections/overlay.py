"""Overlay toy (claim 5): does the uniform prior lose the power-law digit, and does a matched prior keep it?"""

from __future__ import annotations

import numpy as np

from priormatch.diagnose.config import DiagnoseConfig
from priormatch.diagnose.document import Figure, Section, Table
from priormatch.diagnose.experiments import TITLES, pmsn_arm
from priormatch.diagnose.figures.gallery import gallery_figure
from priormatch.diagnose.figures.per_class import PerClassSeries, per_class_figure
from priormatch.diagnose.figures.usage import UsageCurve, usage_figure
from priormatch.diagnose.prototype_cache import PrototypeCache
from priormatch.diagnose.results import (
    BASELINE_LABELS,
    RunResult,
    arms,
    by_seed,
    conditions,
    recorded_baselines,
    reference_arm,
    untrained_gains,
    values,
)
from priormatch.diagnose.tables import cell, reference_note, seeds_note
from priormatch.diagnose.verdicts import Verdict, learning_gate, not_judged, overlay_verdict

EXPERIMENT = "overlay"


def overlay_table(results: list[RunResult], label_sets: list[str]) -> Table:
    columns = ["arm", "clothing linear", "clothing kNN"]
    for label_set in label_sets:
        columns += [f"{label_set} linear", f"{label_set} kNN", f"{label_set} tail (linear)"]
    rows = []
    condition = conditions(results)[0]
    baselines = recorded_baselines(results)
    labelled = [(arm, arm, "") for arm in arms(results)] + [(BASELINE_LABELS[b], reference_arm(results), b) for b in baselines]
    for label, arm, baseline in labelled:
        row = [
            label,
            cell(values(results, arm, condition, baseline=baseline)),
            cell(values(results, arm, condition, probe="knn", baseline=baseline)),
        ]
        for label_set in label_sets:
            row += [
                cell(values(results, arm, condition, label_set=label_set, baseline=baseline)),
                cell(values(results, arm, condition, probe="knn", label_set=label_set, baseline=baseline)),
                cell(values(results, arm, condition, "tail_accuracy", label_set=label_set, baseline=baseline)),
            ]
        rows.append(row)
    seeds = {len(values(results, a, condition)) for a in arms(results)}
    caption = (
        "Clothing: the data set's own balanced labels. Digit: the stamped digit, power-law in pretraining, "
        "uniform in the test split. " + seeds_note(seeds)
    )
    return Table(columns, rows, caption + reference_note(baselines, reference_arm(results)))


def digit_panel(results: list[RunResult], label_set: str) -> dict[str, list[PerClassSeries]]:
    series = []
    for arm in arms(results):
        runs = [r for r in results if r.planned.cell.arm == arm]
        counts = np.asarray(runs[0].evaluations[label_set]["class_counts"], dtype=float)
        per_class = [[np.nan if a is None else a for a in r.evaluations[label_set]["probes"]["linear"]["per_class_accuracy"]] for r in runs]
        series.append(PerClassSeries(arm, counts, np.nanmean(np.asarray(per_class, dtype=float), axis=0)))
    return {f"{label_set} label": series}


def build_section(config: DiagnoseConfig, results: list[RunResult], cache: PrototypeCache) -> tuple[Section, dict[str, Verdict]]:
    experiment = config.overlay
    label_sets = list(experiment.extra_label_sets)
    candidate = pmsn_arm(experiment.method, experiment.tau)
    section = Section(TITLES[EXPERIMENT])
    section.paragraphs.append(
        "Fashion-MNIST images with a scikit-learn digit stamped on (strokes invert the pixels). The clothing class is "
        "balanced; the digit class follows a power law in the pretraining data (Zipf, head digit 10x the tail). "
        f"{experiment.baseline} (uniform prior) vs {candidate} (power-law prior with the digits' exponent)."
    )
    section.tables.append(overlay_table(results, label_sets))
    claims: dict[str, Verdict] = {}
    condition = conditions(results)[0]
    if label_sets and experiment.baseline in arms(results) and candidate in arms(results):
        label = label_sets[0]
        digit = {a: by_seed(results, a, condition, label_set=label) for a in arms(results)}
        clothing = {a: by_seed(results, a, condition) for a in arms(results)}
        gate = learning_gate({a: untrained_gains(results, a, [condition]) for a in (experiment.baseline, candidate)})
        claims["claim 5"] = not_judged(gate) if gate else overlay_verdict(digit, clothing, experiment.baseline, candidate)
        section.figures.append(
            Figure(
                "per-class-overlay-digit",
                per_class_figure(digit_panel(results, label)),
                f"Per-class {label} accuracy against the digit's pretraining frequency (mean over seeds).",
            )
        )
    first = {}
    for arm in arms(results):
        runs = sorted((r for r in results if r.planned.cell.arm == arm), key=lambda r: r.planned.seed)
        first[arm] = cache.get(runs[0].planned.run_dir)
    section.figures.append(
        Figure(
            "usage-overlay",
            usage_figure([UsageCurve(a, x.usage, x.prior) for a, x in first.items()], "overlay: usage vs prior"),
            "Prototype usage on the overlay data (first seed) against each prior.",
        )
    )
    section.figures.append(
        Figure(
            "gallery-overlay",
            gallery_figure(list(first.items()), prototypes=config.figures.gallery_prototypes, images=config.figures.gallery_images),
            "Overlay galleries (first seed); rows are labelled with the majority clothing class.",
        )
    )
    section.verdict = " ".join(f"[{name}] {verdict}" for name, verdict in claims.items())
    return section, claims
