"""Batch composition (claims 2 and 3): accuracy drop under class-imbalanced batches, prototype galleries."""

from __future__ import annotations

from priormatch.diagnose.config import DiagnoseConfig
from priormatch.diagnose.document import Figure, Section, Table
from priormatch.diagnose.experiments import SHUFFLED, TITLES
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
from priormatch.diagnose.tables import cell, difference_cell, reference_note, relative_cell, seeds_note
from priormatch.diagnose.verdicts import Verdict, batch_composition_verdict, learning_gate, not_judged, prototype_verdict

EXPERIMENT = "batch_composition"


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


def build_section(config: DiagnoseConfig, results: list[RunResult], cache: PrototypeCache) -> tuple[Section, dict[str, Verdict]]:
    experiment = config.batch_composition
    section = Section(TITLES[EXPERIMENT])
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
