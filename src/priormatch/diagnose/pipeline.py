"""``priormatch diagnose`` end to end: plan -> run (cached, parallel) -> analyse -> report.

The output directory holds ``runs/`` (one run directory per recipe, named by its config hash),
``diagnose.yaml`` (the resolved diagnose config), ``report.html`` (self-contained), ``report.md``
with ``figures/`` beside it, and ``summary.json`` (the verdicts and tables, machine-readable).
Rerunning the same command reuses every finished run and resumes interrupted ones.

One diagnose per output directory: the whole invocation holds ``DIR/.lock``
(:func:`priormatch.training.run_lock.run_lock`), so a second ``diagnose`` into the same ``--out``
fails at once with one line naming the holder (pid and host) instead of mixing its writes in;
it does not wait, since the first may run for hours. Each worker also holds its run
directory's lock while it writes it (:mod:`priormatch.diagnose.worker`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from priormatch.diagnose.config import DiagnoseConfig
from priormatch.diagnose.data_fit import check_plan_fits_data, fit_config_to_data
from priormatch.diagnose.document import Document
from priormatch.diagnose.executor import default_workers, execute_plan
from priormatch.diagnose.experiments import EXPERIMENTS
from priormatch.diagnose.html_writer import write_html
from priormatch.diagnose.markdown_writer import write_markdown
from priormatch.diagnose.planner import Plan, make_plan
from priormatch.diagnose.prototype_cache import PrototypeCache
from priormatch.diagnose.results import load_result
from priormatch.diagnose.sections.rare_events import rare_event_table
from priormatch.diagnose.sections.recommendation import recommendation_section
from priormatch.diagnose.worker import recorded_warnings
from priormatch.methods import METHODS
from priormatch.training.checkpoint import write_json_atomic, write_text_atomic
from priormatch.training.run_dir import RunDirectory
from priormatch.training.run_lock import run_lock


def missing_method_notes(plan: Plan) -> list[str]:
    return [
        f"Experiment {experiment}: method(s) {', '.join(methods)} are not registered in priormatch.methods.METHODS "
        f"(registered: {', '.join(sorted(METHODS))}); their cells were skipped."
        for experiment, methods in plan.missing_methods.items()
    ]


def training_warnings(plan: Plan) -> list[str]:
    """One line per distinct warning that training raised, with how many runs raised it."""
    runs_by_message: dict[str, list[str]] = {}
    for planned in plan.unique_runs():
        for message in recorded_warnings(RunDirectory(planned.run_dir)):
            runs_by_message.setdefault(message, []).append(planned.name)
    return [
        f"Warning raised by {len(names)} run(s) ({names[0]}{', ...' if len(names) > 1 else ''}): {message}"
        for message, names in runs_by_message.items()
    ]


def build_document(config: DiagnoseConfig, plan: Plan, cache: PrototypeCache, intro: list[str]) -> tuple[Document, dict[str, dict]]:
    document = Document("priormatch diagnose: does the SSL objective's prior fight the data?", intro)
    summary: dict[str, dict[str, Any]] = {}
    for experiment in config.experiments:
        results = [load_result(run) for run in plan.experiment_runs(experiment)]
        if not results:
            continue
        section, claims = EXPERIMENTS[experiment].build_section(config, results, cache)
        events = rare_event_table(results)
        if events is not None:
            section.tables.append(events)
        document.sections.append(section)
        summary[experiment] = {
            "verdicts": [verdict.record(name) for name, verdict in claims.items()],
            "tables": [{"caption": t.caption, "columns": t.columns, "rows": t.rows} for t in section.tables],
        }
        if experiment == "prior_matching":
            advice, sentences = recommendation_section(results, config.prior_matching.baseline_arm)
            document.sections.append(advice)
            summary[experiment]["recommendation"] = sentences
    return document, summary


def run_diagnose(config: DiagnoseConfig, out: Path, *, command: str = "", log: Callable[[str], None] = print) -> Path:
    """Run (or reuse) every run of the selected experiments and write the report; returns report.html.

    Holds ``out``'s lock throughout: :class:`priormatch.training.run_lock.RunLockedError` when
    another diagnose (or any priormatch writer) holds it. Every run's subset and batches are first
    fitted to and checked against its data (:func:`fitted_to_data`), so a misfit writes nothing.
    """
    config, fit_note = fitted_to_data(config, out)
    out.mkdir(parents=True, exist_ok=True)
    with run_lock(out, purpose="diagnose"):
        return _run_diagnose(config, out, command=command, log=log, fit_notes=[fit_note] if fit_note else [])


def fitted_to_data(config: DiagnoseConfig, out: Path) -> tuple[DiagnoseConfig, str | None]:
    """The config whose subsets fit the data (``fit_to_data``) and the note saying what changed;
    raises when a run still does not fit. Nothing is written."""
    plan = make_plan(config, out)
    note = None
    if config.fit_to_data:
        config, note = fit_config_to_data(config, plan)
        plan = make_plan(config, out) if note else plan
    check_plan_fits_data(plan)
    return config, note


def _run_diagnose(config: DiagnoseConfig, out: Path, *, command: str, log: Callable[[str], None], fit_notes: list[str]) -> Path:
    start = time.perf_counter()
    write_text_atomic(OmegaConf.to_yaml(OmegaConf.structured(config)), out / "diagnose.yaml")
    plan = make_plan(config, out)
    notes = fit_notes + missing_method_notes(plan)
    for note in notes:
        log(f"diagnose: WARNING: {note}")
    workers = config.workers or default_workers()
    outcomes = execute_plan(plan.unique_runs(), workers=workers)
    train_seconds = time.perf_counter() - start
    log("diagnose: analysing runs and writing the report")
    trained = sum(o.action != "reused" for o in outcomes)
    run_warnings = training_warnings(plan)
    intro = [
        f"Command: {command or 'priormatch diagnose'}",
        f"{len(outcomes)} runs ({trained} trained or evaluated now, {len(outcomes) - trained} reused from the cache), "
        f"{config.seeds} seed(s) per cell, {workers} worker(s); runs took {train_seconds / 60:.1f} min.",
        *notes,
        *run_warnings,
    ]
    document, summary = build_document(config, plan, PrototypeCache(config.figures.analysis_images), intro)
    wall = time.perf_counter() - start
    document.intro.append(f"Total wall time of this invocation: {wall / 60:.1f} min.")
    write_html(document, out / "report.html")
    write_markdown(document, out / "report.md")
    write_json_atomic(
        {
            "command": command,
            "wall_seconds": wall,
            "runs": len(outcomes),
            "trained_now": trained,
            "missing_methods": plan.missing_methods,
            "warnings": run_warnings,
            "config": asdict(config),
            "experiments": summary,
        },
        out / "summary.json",
    )
    log(f"diagnose: wrote {out / 'report.html'} and {out / 'report.md'} ({wall / 60:.1f} min)")
    return out / "report.html"
