"""`opsroom log add | open | assign | close | decide | list | export`: the control log from the
command line. Every entry goes to the store, then live on MQTT (see opsroom.controllog.record).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from opsroom.app.query import _emit, _time_arg
from opsroom.command import add_common, settings_from
from opsroom.controllog import CATEGORIES, PRIORITIES, LogEntry, LogError, incidents, new_entry
from opsroom.controllog.export import FORMATS, export
from opsroom.controllog.model import SEVERITY_PRIORITY, category_of
from opsroom.controllog.owners import resolve_owner
from opsroom.controllog.record import record
from opsroom.i18n import _
from opsroom.roster import Roster, load_roster
from opsroom.settings import Settings
from opsroom.store import Store, open_store
from opsroom.venue import load_venue

AUTHOR_ENV = "OPSROOM_AUTHOR"
MIN_PREFIX = 4


def _author(args: argparse.Namespace) -> str:
    """--author, else $OPSROOM_AUTHOR, else the login name."""
    return args.author or os.environ.get(AUTHOR_ENV) or getpass.getuser()


def _entities(settings: Settings) -> set[str] | None:
    """The venue's entity ids (a location must be one of them), None without a venue file."""
    if settings.venue is None:
        return None
    venue = load_venue(settings.venue)
    return {item.id for _, _, items in venue.sections() for item in items}


def _incident(store: Store, text: str) -> LogEntry:
    """The opening entry of the incident `text` names: its id or a unique prefix of it."""
    text = text.strip().lower()
    opened = [e for e in store.log_entries() if e.kind == "incident_open"]
    found = [e for e in opened if e.id == text] or (
        [e for e in opened if e.id.startswith(text)] if len(text) >= MIN_PREFIX else []
    )
    if len(found) == 1:
        return found[0]
    if not found:
        raise LogError(f"no incident {text!r} in the log (see `opsroom log list --incidents`)")
    raise LogError(f"{text!r} is the start of {len(found)} incident ids: give more of it")


def _write(args: argparse.Namespace, make: Any) -> int:
    """Open the store, build the entry with `make(store, entities)`, record it, say so."""
    settings = settings_from(args)
    store = open_store(settings)
    try:
        try:
            entry = make(store, _entities(settings))
        except LogError as exc:
            print(f"opsroom: {exc}", file=sys.stderr)
            return 2
        done = record(store, settings, [entry])
    finally:
        store.close()
    print(f"{entry.kind} {entry.id} recorded ({entry.category}, {entry.priority})")
    if done.problem:
        print(f"opsroom: warning: {done.problem}", file=sys.stderr)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    """Add a note; with --incident an update to that incident, with --corrects a correction."""

    def make(store: Store, entities: set[str] | None) -> LogEntry:
        fields: dict[str, Any] = {"location": args.location}
        kind, category = "note", args.category
        if args.incident:
            opened = _incident(store, args.incident)
            kind, category = "update", category or opened.category
            fields["incident_id"] = opened.id
        if args.corrects:
            kind, fields["corrects"] = "correction", args.corrects
        return new_entry(
            author=_author(args),
            category=category or "other",
            priority=args.priority,
            text=args.text,
            kind=kind,
            entities=entities,
            **fields,
        )

    return _write(args, make)


def cmd_open(args: argparse.Namespace) -> int:
    """Open an incident: its id is the new entry's (a unique prefix of it will do later)."""
    try:
        owner = _owner(args)
    except LogError as exc:
        print(f"opsroom: {exc}", file=sys.stderr)
        return 2
    return _write(
        args,
        lambda store, entities: new_entry(
            author=_author(args),
            category=args.category,
            priority=args.priority,
            text=args.text,
            kind="incident_open",
            location=args.location,
            alert_id=args.alert,
            owner=owner,
            entities=entities,
        ),
    )


def _thread(args: argparse.Namespace, kind: str, text: str, **fields: Any) -> int:
    def make(store: Store, entities: set[str] | None) -> LogEntry:
        opened = _incident(store, args.incident)
        return new_entry(
            author=_author(args),
            category=opened.category,
            priority=opened.priority,
            text=text,
            kind=kind,
            incident_id=opened.id,
            entities=entities,
            **fields,
        )

    return _write(args, make)


def _roster(args: argparse.Namespace) -> Roster | None:
    """The roster (--roster, else OPSROOM_ROSTER) an owner must be on; None: any owner."""
    path = settings_from(args, ("roster",)).roster
    return None if path is None else load_roster(path)


def _owner(args: argparse.Namespace) -> str | None:
    """--owner as a roster id (checked when there is a roster), None when not given."""
    return None if args.owner is None else resolve_owner(_roster(args), args.owner)


def cmd_assign(args: argparse.Namespace) -> int:
    """Assign an incident (--incident) or an alert (--alert) to a person or a team."""
    try:
        owner = resolve_owner(_roster(args), args.owner)
    except LogError as exc:
        print(f"opsroom: {exc}", file=sys.stderr)
        return 2
    text = args.text or _("assigned to {owner}", owner=owner)
    if args.incident:
        return _thread(args, "assigned", text, owner=owner)

    def make(store: Store, entities: set[str] | None) -> LogEntry:
        found = store.alert_events(alert_id=args.alert.strip())
        if not found:
            raise LogError(
                _(
                    "no alert {alert!r} in the store (see `opsroom query alerts --active`)",
                    alert=args.alert.strip()[:80],
                )
            )
        alert = found[-1]
        return new_entry(
            author=_author(args),
            category=category_of(alert.kind),
            priority=SEVERITY_PRIORITY.get(alert.severity, "normal"),
            text=text,
            kind="assigned",
            alert_id=alert.alert_id,
            owner=owner,
            drill=alert.drill,
            entities=entities,
        )

    return _write(args, make)


def cmd_close(args: argparse.Namespace) -> int:
    """Close an incident (the log keeps its time to close)."""
    return _thread(args, "incident_close", args.text)


def cmd_decide(args: argparse.Namespace) -> int:
    """Record a decision with its rationale and who decided (JESIP decision log)."""

    def make(store: Store, entities: set[str] | None) -> LogEntry:
        fields: dict[str, Any] = {}
        category = args.category
        if args.incident:
            opened = _incident(store, args.incident)
            fields["incident_id"], category = opened.id, category or opened.category
        author = _author(args)
        return new_entry(
            author=author,
            category=category or "other",
            priority=args.priority,
            text=args.text or args.decision,
            kind="decision",
            decision=args.decision,
            rationale=args.rationale,
            decided_by=args.decided_by or author,
            entities=entities,
            **fields,
        )

    return _write(args, make)


def _read(args: argparse.Namespace) -> list[LogEntry]:
    store = open_store(settings_from(args))
    try:
        return store.log_entries(
            start=args.since,
            incident_id=None if not args.incident else _incident(store, args.incident).id,
            category=args.category,
            text=args.search,
        )
    finally:
        store.close()


def _line(e: LogEntry) -> str:
    extra = ""
    if e.kind == "decision":
        extra = f" — DECISION: {e.decision} (rationale: {e.rationale}; by {e.decided_by})"
    if e.owner:
        extra += f" [owner: {e.owner}]"
    thread = f" #{e.incident_id[:8]}" if e.incident_id else ""
    drill = " [DRILL]" if e.drill else ""
    return (
        f"{e.event_ts.isoformat(timespec='seconds'):<25} {e.kind:<14} {e.category:<14} "
        f"{e.priority:<6} {e.author[:20]:<20} {e.text}{extra}{thread}{drill}\n"
    )


def cmd_list(args: argparse.Namespace) -> int:
    """Print the log (or, with --incidents, its incidents with their time to close)."""
    try:
        entries = _read(args)
    except LogError as exc:
        print(f"opsroom: {exc}", file=sys.stderr)
        return 2
    if args.incidents:
        found = incidents(entries)
        if args.json:
            rows = [
                {
                    "incident_id": i.id,
                    "opened": i.opened.model_dump(mode="json"),
                    "owner": i.owner,
                    "closed": None if i.closed is None else i.closed.event_ts.isoformat(),
                    "time_to_close_s": None
                    if i.time_to_close is None
                    else i.time_to_close.total_seconds(),
                    "entries": len(i.entries),
                }
                for i in found
            ]
            return _emit(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        now = datetime.now(UTC)
        lines = [
            f"{i.id[:8]}  {'OPEN  ' if i.is_open else 'closed'} {i.opened.category:<14} "
            f"{i.opened.priority:<6} {str(i.age(now)).split('.')[0]:>9}  "
            f"owner {i.owner or '-':<16} {i.opened.text}\n"
            for i in found
        ]
        return _emit("".join(lines) or "no incidents in the log\n")
    if args.json:
        rows = [e.model_dump(mode="json") for e in entries]
        return _emit(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    return _emit("".join(_line(e) for e in entries) or "no log entries\n")


def cmd_export(args: argparse.Namespace) -> int:
    """Export the log as CSV, JSON lines or Markdown (to a file with -o)."""
    try:
        text = export(_read(args), args.format)
    except LogError as exc:
        print(f"opsroom: {exc}", file=sys.stderr)
        return 2
    if args.output is None:
        return _emit(text)
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"opsroom: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"{args.output}: {args.format} export written", file=sys.stderr)
    return 0


def _common(p: argparse.ArgumentParser, *, mqtt: bool) -> None:
    add_common(p, mqtt=mqtt)
    p.add_argument("--venue", help="venue file: a --location must be one of its ids")


def _writer(p: argparse.ArgumentParser) -> None:
    _common(p, mqtt=True)
    p.add_argument("--author", help=f"who records it (default ${AUTHOR_ENV} or the login name)")


def _roster_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--roster", type=Path, help="roster file: --owner must be on it (OPSROOM_ROSTER)"
    )


def _filters(p: argparse.ArgumentParser) -> None:
    _common(p, mqtt=False)
    p.add_argument("--since", type=_time_arg, help="ISO-8601, 'now' or -DURATION like -2h")
    p.add_argument("--category", choices=CATEGORIES)
    p.add_argument("--incident", help="one incident's thread (its id or a unique prefix)")
    p.add_argument("--search", help="only entries containing this text (any case)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `log` and its sub-commands to the sub-parsers of `opsroom`."""
    top = sub.add_parser("log", help="the control log", description="The control log.")
    verbs = top.add_subparsers(dest="log", required=True, metavar="VERB")

    def verb(name: str, handler: Any, help: str) -> argparse.ArgumentParser:
        p = verbs.add_parser(name, help=help, description=handler.__doc__)
        p.set_defaults(handler=handler)
        return p

    p = verb("add", cmd_add, "a note, an update to an incident, or a correction")
    _writer(p)
    p.add_argument("--category", choices=CATEGORIES, help="default: the incident's, or other")
    p.add_argument("--priority", choices=PRIORITIES, default="normal")
    p.add_argument("--text", required=True)
    p.add_argument("--incident", help="an update to this incident (id or unique prefix)")
    p.add_argument("--location", help="a venue entity id or 'lat,lon'")
    p.add_argument("--corrects", help="the id of the entry this one corrects")

    p = verb("open", cmd_open, "open an incident")
    _writer(p)
    p.add_argument("--category", choices=CATEGORIES, required=True)
    p.add_argument("--priority", choices=PRIORITIES, default="normal")
    p.add_argument("--text", required=True)
    p.add_argument("--location", help="a venue entity id or 'lat,lon'")
    p.add_argument("--alert", help="the alert id it was opened from")
    p.add_argument("--owner", help="who owns it from the start (a roster id or name)")
    _roster_arg(p)

    p = verb("assign", cmd_assign, "assign an incident or an alert to a person or team")
    _writer(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--incident", help="the incident (id or unique prefix)")
    which.add_argument("--alert", help="the alert id (no incident needed)")
    p.add_argument("--owner", required=True, help="a roster id or name (OPSROOM_ROSTER)")
    p.add_argument("--text", help="default: 'assigned to OWNER'")
    _roster_arg(p)

    p = verb("close", cmd_close, "close an incident")
    _writer(p)
    p.add_argument("--incident", required=True)
    p.add_argument("--text", required=True, help="how it ended")

    p = verb("decide", cmd_decide, "record a decision and its rationale")
    _writer(p)
    p.add_argument("--decision", required=True)
    p.add_argument("--rationale", required=True)
    p.add_argument("--decided-by", help="default: the author")
    p.add_argument("--text", help="default: the decision")
    p.add_argument("--incident", help="the incident it belongs to")
    p.add_argument("--category", choices=CATEGORIES)
    p.add_argument("--priority", choices=PRIORITIES, default="normal")

    p = verb("list", cmd_list, "print the log or its incidents")
    _filters(p)
    p.add_argument("--incidents", action="store_true", help="incidents with time to close")
    p.add_argument("--json", action="store_true")

    p = verb("export", cmd_export, "export as csv, jsonl or md")
    _filters(p)
    p.add_argument("--format", choices=FORMATS, required=True)
    p.add_argument("-o", "--output", type=Path, help="write to this file (default stdout)")
