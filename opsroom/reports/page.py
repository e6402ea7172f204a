"""Report pages: sections of tables in Markdown and in one self-contained HTML page.

Every text is escaped where it is written (HTML: `html.escape`; Markdown: no raw HTML, no
table syntax), so a `<script>` typed into a log entry or an owner's name is shown, never run.
The HTML page inlines plotly.js (no CDN): it opens on an ops-room laptop with no internet.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from opsroom.i18n import current

STYLE = """
body { font-family: system-ui, "Noto Sans CJK SC", sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 4px 8px; }
tr.missed td, tr.bad td { background: #fde2e4; } tr.ok td { background: #e6f4f1; }
tr.na td { color: #666; }
"""


def fmt_delta(d: timedelta | None) -> str:
    """`12m 30s`, `1h 02m 00s`, or a dash."""
    if d is None:
        return "—"
    s = int(d.total_seconds())
    sign, s = ("-", -s) if s < 0 else ("", s)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return sign + (f"{h}h {m:02d}m {sec:02d}s" if h else f"{m}m {sec:02d}s")


def md_cell(text: str) -> str:
    """Text fit for a Markdown table cell: no HTML, pipes and line breaks kept out of it."""
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        text = text.replace(a, b)
    return " ".join(text.split())


def markdown_rule(columns: int) -> str:
    """The line under a Markdown table's header."""
    return "|" + " --- |" * columns


@dataclass(frozen=True)
class Table:
    """One section of a report: a heading, a table (or `empty` when it has no rows)."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    empty: str = "—"
    key: str = ""  # the section's id in the HTML page (`<section id=...>`)
    row_classes: Sequence[str] = field(default_factory=tuple)
    note: str = ""


def table_markdown(t: Table) -> list[str]:
    """A section as Markdown lines."""
    lines = [f"## {md_cell(t.title)}", ""]
    if t.note:
        lines += [md_cell(t.note), ""]
    if not t.rows:
        return [*lines, md_cell(t.empty), ""]
    lines.append("| " + " | ".join(md_cell(c) for c in t.columns) + " |")
    lines.append(markdown_rule(len(t.columns)))
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in t.rows]
    return [*lines, ""]


def table_html(t: Table) -> str:
    """A section as escaped HTML."""
    e = html.escape
    note = f"<p>{e(t.note)}</p>" if t.note else ""
    if not t.rows:
        body = f"<p>{e(t.empty)}</p>"
    else:
        head = "".join(f"<th>{e(c)}</th>" for c in t.columns)
        rows = []
        for n, row in enumerate(t.rows):
            cls = t.row_classes[n] if n < len(t.row_classes) else ""
            attr = f' class="{e(cls, quote=True)}"' if cls else ""
            rows.append(f"<tr{attr}>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
        body = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    key = f' id="{e(t.key, quote=True)}"' if t.key else ""
    return f"<section{key}><h2>{e(t.title)}</h2>{note}{body}</section>"


def markdown(title: str, intro: Sequence[str], tables: Sequence[Table]) -> str:
    """A report as Markdown: a title, intro bullets, then each section."""
    lines = [f"# {md_cell(title)}", ""]
    lines += [f"- {md_cell(line)}" for line in intro]
    lines.append("")
    for t in tables:
        lines += table_markdown(t)
    return "\n".join(lines) + "\n"


SEVERITY_COLOURS = {"info": "#8ecae6", "warning": "#f4a261", "critical": "#7b2cbf"}


def timeline_bar(
    fig: Any, y: str, start: datetime, stop: datetime, color: str, text: str, upper: bool
) -> None:
    """One bar of a report's timeline (plotly): `y`'s row, from `start` to `stop` (at least a
    second, so that a blip shows), the upper half of the row if `upper` (what happened: an
    incident) else the lower (what was raised: an alert), `text` on hover."""
    import plotly.graph_objects as go

    ms = max((stop - start).total_seconds() * 1000, 1000.0)
    fig.add_trace(
        go.Bar(
            x=[ms],
            base=[start.isoformat()],
            y=[y],
            orientation="h",
            marker_color=color,
            hovertext=[text],
            hoverinfo="text",
            showlegend=False,
            width=0.4,
            # the y axis is reversed (first row on top): -0.4 is the upper half
            offset=-0.4 if upper else 0.0,
        )
    )


def figure_html(fig: Any) -> str:
    """A plotly figure as an HTML fragment with plotly.js inlined (works offline)."""
    return str(fig.to_html(full_html=False, include_plotlyjs=True))


def document(title: str, body: str, style: str = STYLE) -> str:
    """A self-contained HTML page; `title` is escaped here, `body` must be escaped HTML."""
    t = html.escape(title)
    return f"""<!doctype html>
<html lang="{current()}"><head><meta charset="utf-8"><title>{t}</title>
<style>{style}</style></head><body>
<h1>{t}</h1>
{body}
</body></html>
"""


def html_page(title: str, intro: Sequence[str], tables: Sequence[Table], figure: Any = None) -> str:
    """A report as one self-contained HTML page: intro, the figure if any, each section."""
    e = html.escape
    parts = ["<ul>" + "".join(f"<li>{e(line)}</li>" for line in intro) + "</ul>"]
    if figure is not None:
        parts.append(figure_html(figure))
    parts += [table_html(t) for t in tables]
    return document(title, "\n".join(parts))
