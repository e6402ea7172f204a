"""The log as CSV, JSON lines or Markdown (for the record, a handover or a spreadsheet)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from opsroom.controllog.model import LogEntry

FORMATS = ("csv", "jsonl", "md")
COLUMNS = (
    "event_ts",
    "wall_ts",
    "author",
    "kind",
    "category",
    "priority",
    "text",
    "location",
    "incident_id",
    "owner",
    "decision",
    "rationale",
    "decided_by",
    "alert_id",
    "corrects",
    "drill",
    "id",
)


def _cell(entry: LogEntry, name: str) -> str:
    value = getattr(entry, name)
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def to_csv(entries: Sequence[LogEntry]) -> str:
    """One row per entry, a header row first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        # a spreadsheet runs a cell starting with = + - @ as a formula: quote it as text
        writer.writerow(
            "'" + c if c[:1] in ("=", "+", "-", "@") and name in _FREE else c
            for name, c in ((n, _cell(entry, n)) for n in COLUMNS)
        )
    return out.getvalue()


_FREE = frozenset({"author", "text", "location", "owner", "decision", "rationale", "decided_by"})


def to_jsonl(entries: Sequence[LogEntry]) -> str:
    """One JSON object per line, as stored and published."""
    return "".join(entry.model_dump_json() + "\n" for entry in entries)


def _md(text: str) -> str:
    """Text in a Markdown table cell: no HTML, pipes and line breaks kept out of the syntax."""
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        text = text.replace(a, b)
    return " ".join(text.split())


def to_markdown(entries: Sequence[LogEntry], title: str = "Control log") -> str:
    """A Markdown table, oldest first, with decisions' rationale and who decided."""
    lines = [
        f"# {_md(title)}",
        "",
        "| event time | author | kind | category | priority | text | incident |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for e in entries:
        text = e.text
        if e.kind == "decision":
            text += f" — DECISION: {e.decision}; rationale: {e.rationale}"
            if e.decided_by:
                text += f"; decided by {e.decided_by}"
        if e.owner:
            text += f" (owner: {e.owner})"
        if e.corrects:
            text += f" (corrects {e.corrects[:8]})"
        drill = " [DRILL]" if e.drill else ""
        cells = (
            e.event_ts.isoformat(timespec="seconds"),
            e.author,
            e.kind,
            e.category,
            e.priority,
            text + drill,
            (e.incident_id or "")[:8],
        )
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def export(entries: Sequence[LogEntry], fmt: str) -> str:
    """The entries in one of FORMATS."""
    if fmt == "csv":
        return to_csv(entries)
    if fmt == "jsonl":
        return to_jsonl(entries)
    if fmt == "md":
        return to_markdown(entries)
    raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
