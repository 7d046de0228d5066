"""Overlay toy (claim 5): does the uniform prior lose the power-law digit, and does a matched prior keep it?

Plan: MSN and PMSN with a power-law prior on the overlay toy, evaluated on the clothing labels
(the data's own, balanced) and on the digit labels (power-law in pretraining).

Claim 5 (the uniform prior loses the power-law digit; the matched power-law prior keeps it): the
unit is a seed (paired digit-accuracy differences candidate - baseline), one-sided t test at
alpha; agrees when the candidate's digit accuracy is higher, disagrees when lower, else
inconclusive (the clothing difference is reported beside it). Not judged when either arm did not
beat its untrained encoder (the learning gate).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from priormatch.diagnose.cells import Cell, pmsn_arm
from priormatch.diagnose.config import DiagnoseConfig
from priormatch.diagnose.document import Figure, Section, Table
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
from priormatch.diagnose.statistics import paired_test
from priormatch.diagnose.tables import cell, reference_note, seeds_note
from priormatch.diagnose.verdicts import (
    ALPHA,
    BySeed,
    Verdict,
    describe,
    directional_outcome,
    from_test,
    learning_gate,
    not_judged,
    paired_differences,
)

NAME = "overlay"
TITLE = "Overlay toy: balanced clothing, power-law digits (claim 5)"


# ---- plan --------------------------------------------------------------------------------------


def cells(config: DiagnoseConfig) -> list[Cell]:
    experiment = config.overlay
    data = (f"data.name={experiment.data}", "data.sampler=shuffle", "data.imbalance_ratio=1.0")
    labels = tuple(experiment.extra_label_sets)
    prior = ("method.prior=power_law", f"method.tau={float(experiment.tau)}")
    return [
        Cell(NAME, experiment.baseline, experiment.data, experiment.baseline, data, labels),
        Cell(NAME, pmsn_arm(experiment.method, experiment.tau), experiment.data, experiment.method, data + prior, labels),
    ]


# ---- tables and figures ------------------------------------------------------------------------


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


# ---- verdicts ----------------------------------------------------------------------------------


def overlay_verdict(
    digit: Mapping[str, BySeed], clothing: Mapping[str, BySeed], baseline: str, candidate: str, *, alpha: float = ALPHA
) -> Verdict:
    """Claim 5: the uniform prior loses the power-law digit; the matched power-law prior keeps it."""
    digits = paired_test(paired_differences(digit[candidate], digit[baseline]), alpha)
    clothes = paired_test(paired_differences(clothing[candidate], clothing[baseline]), alpha)
    text = f"Digit accuracy of {candidate} minus {baseline}: {describe(digits)}; clothing accuracy: {describe(clothes)}."
    return from_test(directional_outcome(digits), text, digits, alpha)


# ---- the section --------------------------------------------------------------------------------


def build_section(config: DiagnoseConfig, results: list[RunResult], cache: PrototypeCache) -> tuple[Section, dict[str, Verdict]]:
    experiment = config.overlay
    label_sets = list(experiment.extra_label_sets)
    candidate = pmsn_arm(experiment.method, experiment.tau)
    section = Section(TITLE)
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
