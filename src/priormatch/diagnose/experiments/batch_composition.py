"""Batch composition (claims 2 and 3): accuracy drop under class-imbalanced batches, prototype galleries.

Plan: every listed method on the balanced subset, with shuffled batches and with batches of only
k classes (equal marginals: ``data.sampler=class_imbalanced``).

Claim 2 (the drop under class-imbalanced batches is larger with a batch regulariser), one verdict
per k: the unit is a *method* (its mean per-seed paired drop shuffled - k), so the method-to-method
spread is part of the noise; the methods with a batch regulariser are compared with those without
(``no_batch_regulariser``) by a pooled one-sided t test at alpha / (number of k). Agrees when the
regularised methods drop more, disagrees when they drop less, else inconclusive.

Claim 3 (prototypes look like classes with shuffled batches, less so with class-imbalanced ones),
one verdict per gallery method: the unit is a seed (paired purity differences shuffled - first
k), at alpha / (number of gallery methods).

Neither is judged when an arm compared did not beat its untrained encoder (the learning gate).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from priormatch.diagnose.cells import SHUFFLED, Cell, condition_for_k
from priormatch.diagnose.config import DiagnoseConfig
from priormatch.diagnose.document import Figure, Section, Table
from priormatch.diagnose.figures.gallery import gallery_figure
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
from priormatch.diagnose.statistics import paired_test, two_sample_test
from priormatch.diagnose.tables import cell, difference_cell, reference_note, relative_cell, seeds_note
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
    pp,
)

NAME = "batch_composition"
TITLE = "Batch composition (claim 2)"


# ---- plan --------------------------------------------------------------------------------------


def cells(config: DiagnoseConfig) -> list[Cell]:
    experiment = config.batch_composition
    cells = []
    for method in experiment.methods:
        cells.append(Cell(NAME, method, SHUFFLED, method, ("data.sampler=shuffle",)))
        for k in experiment.classes_per_batch:
            overrides = ("data.sampler=class_imbalanced", f"data.classes_per_batch={k}")
            cells.append(Cell(NAME, method, condition_for_k(k), method, overrides))
    return cells


# ---- tables and figures ------------------------------------------------------------------------


def drop_rows(results: list[RunResult], method: str, label: str, baseline: str = "") -> list[list[str]]:
    """One row per class-imbalanced condition: ``method``'s runs (or their ``baseline``) against shuffled batches."""
    linear_base = values(results, method, SHUFFLED, probe="linear", baseline=baseline)
    knn_base = values(results, method, SHUFFLED, probe="knn", baseline=baseline)
    rows = []
    for condition in [c for c in conditions(results) if c != SHUFFLED]:
        linear = values(results, method, condition, probe="linear", baseline=baseline)
        knn = values(results, method, condition, probe="knn", baseline=baseline)
        rows.append(
            [
                label,
                condition,
                cell(linear_base),
                cell(linear),
                difference_cell(linear_base, linear),
                relative_cell(linear_base, linear),
                cell(knn_base),
                cell(knn),
                difference_cell(knn_base, knn),
            ]
        )
    return rows


def drop_table(results: list[RunResult]) -> Table:
    columns = ["method", "batches", "linear shuffled", "linear", "linear change (pp)", "relative", "kNN shuffled", "kNN", "kNN change (pp)"]
    rows = [row for method in arms(results) for row in drop_rows(results, method, method)]
    baselines = recorded_baselines(results)
    for baseline in baselines:
        rows += drop_rows(results, reference_arm(results), BASELINE_LABELS[baseline], baseline)
    seeds = {len(values(results, m, c)) for m in arms(results) for c in conditions(results)}
    caption = "Test accuracy after pretraining on the same balanced subset; " + seeds_note(seeds)
    return Table(columns, rows, caption + reference_note(baselines, reference_arm(results)))


def _runs(results: list[RunResult], method: str, condition: str) -> list[RunResult]:
    return sorted(
        (r for r in results if r.planned.cell.arm == method and r.planned.cell.condition == condition), key=lambda r: r.planned.seed
    )


def prototype_figures(config: DiagnoseConfig, results: list[RunResult], cache: PrototypeCache) -> tuple[list[Figure], dict[str, Verdict]]:
    """Galleries and usage plots (first seed) and the purity verdict (all seeds) per gallery method."""
    figures, claims = [], {}
    imbalanced = [c for c in conditions(results) if c != SHUFFLED]
    shown = config.figures
    gallery_methods = [m for m in shown.gallery_methods if m in arms(results)]
    for method in gallery_methods:
        if not imbalanced:
            break
        condition = imbalanced[0]
        pairs = {c: [cache.get(r.planned.run_dir) for r in _runs(results, method, c)] for c in (SHUFFLED, condition)}
        if not pairs[SHUFFLED] or not pairs[condition]:
            continue
        panels = [(f"{method}: shuffled batches", pairs[SHUFFLED][0]), (f"{method}: {condition} (class-imbalanced)", pairs[condition][0])]
        figures.append(
            Figure(
                f"gallery-{method}",
                gallery_figure(panels, prototypes=shown.gallery_prototypes, images=shown.gallery_images),
                f"{method}, first seed: the {shown.gallery_prototypes} most used prototypes (rows: prototype id, share of images, "
                f"majority class of the row) and the {shown.gallery_images} training images each is most sure about.",
            )
        )
        curves = [UsageCurve(f"{method} {c}", pairs[c][0].usage, pairs[c][0].prior) for c in (SHUFFLED, condition)]
        figures.append(
            Figure(
                f"usage-{method}-batches",
                usage_figure(curves, f"{method}: usage with shuffled vs {condition} batches"),
                "Prototype usage (mean assignment of unaugmented training images) sorted by rank; dashed: the prior.",
            )
        )
        seeds = {c: [r.planned.seed for r in _runs(results, method, c)] for c in pairs}
        purity = {c: {s: a.purity(shown.gallery_prototypes, shown.gallery_images) for s, a in zip(seeds[c], pairs[c])} for c in pairs}
        gate = learning_gate({method: untrained_gains(results, method, [SHUFFLED, condition])})
        claims[f"claim 3 ({method})"] = (
            not_judged(gate) if gate else prototype_verdict(purity, SHUFFLED, condition, method, comparisons=len(gallery_methods))
        )
    return figures, claims


# ---- verdicts ----------------------------------------------------------------------------------


def batch_composition_verdict(
    shuffled: Mapping[str, BySeed],
    imbalanced: Mapping[str, BySeed],
    reference: set[str],
    condition: str,
    *,
    comparisons: int = 1,
    alpha: float = ALPHA,
) -> Verdict:
    """Claim 2: the drop under class-imbalanced batches is larger with a batch regulariser.

    Unit: a method (its mean per-seed paired drop shuffled - imbalanced); the two groups of methods
    are compared by a pooled t test at ``alpha / comparisons`` (one comparison per condition).
    """
    methods = [m for m in shuffled if m in imbalanced]
    drops = {m: float(np.mean(d)) for m in methods if (d := paired_differences(shuffled[m], imbalanced[m]))}
    head = "Accuracy change from shuffled to " + condition + " batches: " + "; ".join(f"{m} {pp(-d)}" for m, d in drops.items()) + "."
    regularised = [m for m in drops if m not in reference]
    unregularised = [m for m in drops if m in reference]
    level = alpha / comparisons
    if len(regularised) < 1 or len(unregularised) < 1 or len(drops) < 3:
        return Verdict("inconclusive", f"{head} Needs methods with and without a batch regulariser (3 or more in all) to compare.", alpha)
    test = two_sample_test([drops[m] for m in regularised], [drops[m] for m in unregularised], level)
    text = (
        f"{head} Mean drop with a batch regulariser ({', '.join(regularised)}): {100 * np.mean([drops[m] for m in regularised]):.1f} pp; "
        f"without ({', '.join(unregularised)}): {100 * np.mean([drops[m] for m in unregularised]):.1f} pp. The extra drop of the "
        f"regularised methods, methods as units: {describe(test)}."
    )
    return from_test(directional_outcome(test), text, test, alpha)


def prototype_verdict(
    purity: Mapping[str, BySeed], balanced: str, imbalanced: str, method: str, *, comparisons: int = 1, alpha: float = ALPHA
) -> Verdict:
    """Claim 3: prototypes look like classes with shuffled batches, less so with class-imbalanced ones.

    ``purity[condition]``: per-seed majority-class share of the top images of the most used
    prototypes; paired by seed, at ``alpha / comparisons`` (one comparison per gallery method).
    """
    test = paired_test(paired_differences(purity[balanced], purity[imbalanced]), alpha / comparisons)
    text = (
        f"{method} prototype purity (share of the majority class among each top prototype's top images): "
        f"{100 * np.mean(list(purity[balanced].values())):.0f}% with {balanced} batches vs "
        f"{100 * np.mean(list(purity[imbalanced].values())):.0f}% with {imbalanced} batches, a difference of {describe(test)}."
    )
    return from_test(directional_outcome(test), text, test, alpha)


# ---- the section --------------------------------------------------------------------------------


def build_section(config: DiagnoseConfig, results: list[RunResult], cache: PrototypeCache) -> tuple[Section, dict[str, Verdict]]:
    experiment = config.batch_composition
    section = Section(TITLE)
    section.paragraphs.append(
        "Every method pretrains on the same class-balanced subset twice: with shuffled batches, and with batches that each "
        "hold about k classes (every image is still seen exactly once per epoch, with as many steps as shuffled training; "
        "only the composition of the batches changes). "
        f"Methods without a batch-level regulariser (the reference group): {', '.join(experiment.no_batch_regulariser)}."
    )
    section.tables.append(drop_table(results))
    claims: dict[str, Verdict] = {}
    imbalanced_conditions = [c for c in conditions(results) if c != SHUFFLED]
    for condition in imbalanced_conditions:
        gate = learning_gate({m: untrained_gains(results, m, [SHUFFLED, condition]) for m in arms(results)})
        shuffled = {m: by_seed(results, m, SHUFFLED, probe="linear") for m in arms(results)}
        imbalanced = {m: by_seed(results, m, condition, probe="linear") for m in arms(results)}
        claims[f"claim 2 ({condition})"] = (
            not_judged(gate)
            if gate
            else batch_composition_verdict(
                shuffled, imbalanced, set(experiment.no_batch_regulariser), condition, comparisons=len(imbalanced_conditions)
            )
        )
    figures, prototype_claims = prototype_figures(config, results, cache)
    section.figures.extend(figures)
    claims.update(prototype_claims)
    section.verdict = " ".join(f"[{name}] {verdict}" for name, verdict in claims.items())
    return section, claims
