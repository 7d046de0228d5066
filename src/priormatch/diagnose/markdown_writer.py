"""The Markdown twin of the HTML report: the same text and tables, figures written beside it."""

from __future__ import annotations

from pathlib import Path

from priormatch.diagnose.document import Document, Section, Table
from priormatch.training.checkpoint import write_text_atomic

FIGURE_DIR = "figures"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(table: Table) -> list[str]:
    lines = [f"*{table.caption}*", ""] if table.caption else []
    lines.append("| " + " | ".join(_cell(c) for c in table.columns) + " |")
    lines.append("|" + "|".join([" --- "] + [" ---: "] * (len(table.columns) - 1)) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return lines + [""]


def _section(section: Section) -> list[str]:
    lines = [f"## {section.title}", ""]
    if section.verdict:
        lines += [f"> **Verdict.** {section.verdict}", ""]
    for paragraph in section.paragraphs:
        lines += [paragraph, ""]
    for table in section.tables:
        lines += _table(table)
    for figure in section.figures:
        lines += [f"![{figure.name}]({FIGURE_DIR}/{figure.name}.png)", ""]
        if figure.caption:
            lines += [f"*{figure.caption}*", ""]
    return lines


def render_markdown(document: Document) -> str:
    lines = [f"# {document.title}", ""]
    for paragraph in document.intro:
        lines += [paragraph, ""]
    for section in document.sections:
        lines += _section(section)
    return "\n".join(lines)


def write_markdown(document: Document, path: Path) -> Path:
    """Write ``path`` and its figures into ``figures/`` beside it."""
    figure_dir = path.parent / FIGURE_DIR
    figure_dir.mkdir(parents=True, exist_ok=True)
    for section in document.sections:
        for figure in section.figures:
            (figure_dir / f"{figure.name}.png").write_bytes(figure.png)
    write_text_atomic(render_markdown(document), path)
    return path
