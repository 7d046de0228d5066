"""Self-contained HTML: figures inlined as base64 PNG data URIs, no external file, script or font."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from priormatch.diagnose.document import Document, Figure, Section, Table
from priormatch.training.checkpoint import write_text_atomic

STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { margin-top: 2em; border-bottom: 1px solid #eee; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 4px 9px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f5f5f5; }
caption { caption-side: top; text-align: left; color: #555; padding-bottom: .3em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .92em; }
.verdict { background: #f3f8ff; border-left: 4px solid #4a7bd0; padding: .6em 1em; }
"""


def _table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows)
    caption = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    caption = f"<figcaption>{html.escape(figure.caption)}</figcaption>" if figure.caption else ""
    return f'<figure><img alt="{html.escape(figure.name)}" src="data:image/png;base64,{data}">{caption}</figure>'


def _section(section: Section) -> str:
    parts = [f"<h2>{html.escape(section.title)}</h2>"]
    if section.verdict:
        parts.append(f'<p class="verdict"><strong>Verdict.</strong> {html.escape(section.verdict)}</p>')
    parts += [f"<p>{html.escape(p)}</p>" for p in section.paragraphs]
    parts += [_table(t) for t in section.tables]
    parts += [_figure(f) for f in section.figures]
    return "\n".join(parts)


def render_html(document: Document) -> str:
    intro = "".join(f"<p>{html.escape(p)}</p>" for p in document.intro)
    sections = "\n".join(_section(s) for s in document.sections)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(document.title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(document.title)}</h1>{intro}\n{sections}\n</body></html>\n"
    )


def write_html(document: Document, path: Path) -> Path:
    write_text_atomic(render_html(document), path)
    return path
