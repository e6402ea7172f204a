"""`opsroom audit export`: the audit trail out of the store, as CSV or JSON lines."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Sequence
from pathlib import Path

from opsroom.app.query import _emit, _time_arg
from opsroom.audit import AuditEntry
from opsroom.command import add_common, settings_from
from opsroom.store import open_store

COLUMNS = ("ts", "user", "role", "action", "target", "detail", "address")
# A cell a spreadsheet would run as a formula (a failed login's user name is anyone's text):
# written with a leading apostrophe, as OWASP advises for CSV; the JSON lines stay exact.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def to_csv(entries: Sequence[AuditEntry]) -> str:
    """The entries as CSV with a header row (ts in ISO-8601 UTC, microseconds)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in entries:
        row = e.model_dump(mode="json")
        writer.writerow([_cell(row[c]) for c in COLUMNS])
    return out.getvalue()


def to_jsonl(entries: Sequence[AuditEntry]) -> str:
    """The entries as JSON lines, one object per entry, every field."""
    return "".join(e.model_dump_json() + "\n" for e in entries)


def cmd_audit_export(args: argparse.Namespace) -> int:
    """Write the audit trail (who logged in, failed, was locked out, acknowledged, ...)."""
    store = open_store(settings_from(args))
    try:
        entries = store.audit_entries(start=args.since, user=args.user, action=args.action)
    finally:
        store.close()
    text = to_csv(entries) if args.format == "csv" else to_jsonl(entries)
    if args.output is None:
        return _emit(text)
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"opsroom: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"{args.output}: {len(entries)} audit entries ({args.format})", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `audit export` to the sub-parsers of `opsroom`."""
    a = sub.add_parser("audit", help="the audit trail", description="The audit trail.")
    asub = a.add_subparsers(dest="audit", required=True, metavar="WHAT")
    p = asub.add_parser(
        "export",
        help="write audit entries as CSV or JSON lines",
        description=cmd_audit_export.__doc__,
    )
    add_common(p, mqtt=False)
    p.add_argument("--format", choices=["csv", "jsonl"], default="csv", help="(default csv)")
    p.add_argument(
        "--since", type=_time_arg, help="ISO-8601, 'now' or -DURATION like -24h (default: all)"
    )
    p.add_argument("--user", help="only this user's entries")
    p.add_argument("--action", help="only this action (login_ok, login_failed, ack, ...)")
    p.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    p.set_defaults(handler=cmd_audit_export)
