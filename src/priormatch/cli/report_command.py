"""``priormatch report``: compare arbitrary finished runs in one self-contained report."""

from __future__ import annotations

import argparse
from pathlib import Path

from priormatch.validation import check_creatable_directory, check_int_at_least


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="compare finished runs in one report (HTML + Markdown): accuracies, per-class plot, p_bar curves, prototypes",
        description=(
            "Write DIR/report.html (self-contained) and DIR/report.md comparing the given run directories: a table of "
            "probe accuracies, per-class accuracy vs class frequency, p_bar entropy and KL over training, and for "
            "prototype methods usage vs prior and galleries side by side. Runs without eval.json are evaluated first."
        ),
    )
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory for report.html and report.md")
    parser.add_argument("--prototypes", type=int, default=6, metavar="N", help="prototypes per gallery (default 6)")
    parser.add_argument("--images", type=int, default=8, metavar="N", help="images per prototype (default 8)")
    parser.add_argument("--analysis-images", type=int, default=2000, metavar="N", help="training images used for prototype assignments")
    parser.set_defaults(handler=run)


def _check_arguments(args: argparse.Namespace) -> None:
    """Everything that can be checked before a run is evaluated (which writes its eval.json)."""
    for option, value in (("--prototypes", args.prototypes), ("--images", args.images), ("--analysis-images", args.analysis_images)):
        check_int_at_least(option, value, 1)
    check_creatable_directory("--out", args.out)
    from priormatch.training.run_dir import completed_run

    for path in args.run_dirs:
        completed_run(path).read_metrics()  # a finished run with readable metrics


def run(args: argparse.Namespace) -> int:
    _check_arguments(args)
    from priormatch.diagnose.document import Document
    from priormatch.diagnose.html_writer import write_html
    from priormatch.diagnose.markdown_writer import write_markdown
    from priormatch.diagnose.prototype_cache import PrototypeCache
    from priormatch.diagnose.sections.runs import comparison_section, ensure_evaluated

    runs = ensure_evaluated(list(args.run_dirs))
    section = comparison_section(runs, PrototypeCache(args.analysis_images), prototypes=args.prototypes, images=args.images)
    document = Document("priormatch report", [f"{len(runs)} runs: " + ", ".join(str(r.root) for r in runs)], [section])
    args.out.mkdir(parents=True, exist_ok=True)
    write_html(document, args.out / "report.html")
    write_markdown(document, args.out / "report.md")
    print(args.out / "report.html")
    return 0
