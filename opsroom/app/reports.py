"""`opsroom handover` and `opsroom event-report`: the shift handover and the event-day report
as Markdown and a self-contained HTML page (see opsroom.reports)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opsroom.command import add_common, settings_from
from opsroom.i18n import _
from opsroom.reports.handover import event_day, handover
from opsroom.reports.shift import gather
from opsroom.store import open_store

UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def when(text: str, now: datetime | None = None) -> datetime:
    """`8h` or `-8h` (that long before now), `now`, or an ISO-8601 time (UTC if no zone)."""
    now = now or datetime.now(UTC)
    text = text.strip()
    if text == "now":
        return now
    body = text.removeprefix("-")
    for unit, seconds in sorted(UNITS.items(), key=lambda u: -len(u[0])):
        if body.endswith(unit) and body[: -len(unit)].replace(".", "", 1).isdigit():
            return now - timedelta(seconds=float(body[: -len(unit)]) * seconds)
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _(
                "invalid time {text!r}: write a duration back from now (8h, 30m) or ISO-8601",
                text=text[:40],
            )
        ) from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


def _run(args: argparse.Namespace, stem: str, event_report: bool) -> int:
    settings = settings_from(args, ("roster", "rules"))
    end = args.until or datetime.now(UTC)
    start = args.since
    if start >= end:
        print(
            _(
                "opsroom: --since {start} is not before --until {end}",
                start=start.isoformat(),
                end=end.isoformat(),
            ),
            file=sys.stderr,
        )
        return 2
    store = open_store(settings)
    try:
        src = gather(store, settings, start, end, broker=not args.no_broker)
    finally:
        store.close()
    report = event_day(src) if event_report else handover(src)
    try:
        md, page = report.write(args.out, stem)
    except OSError as exc:
        print(
            _("opsroom: cannot write {path}: {error}", path=args.out, error=exc.strerror or exc),
            file=sys.stderr,
        )
        return 1
    for problem in src.problems:
        print(_("opsroom: warning: {problem}", problem=problem), file=sys.stderr)
    print(_("wrote {md} and {page}", md=md, page=page))
    return 0


def cmd_handover(args: argparse.Namespace) -> int:
    """The shift handover: open incidents with owners, active alerts, silences, decisions,
    incidents closed, failed notifications and silent sensors of the shift."""
    return _run(args, "handover", event_report=False)


def cmd_event_report(args: argparse.Namespace) -> int:
    """The event-day report: the handover's sections for the whole day, with time to
    acknowledge and to close per category and a timeline."""
    return _run(args, "event-report", event_report=True)


def _arguments(p: argparse.ArgumentParser, since: str, out: str) -> None:
    add_common(p, mqtt=True)
    p.add_argument("--venue", help="venue file (with --rules: which rules are silent-device)")
    p.add_argument("--rules", type=Path, help="rules file (OPSROOM_RULES)")
    p.add_argument("--roster", type=Path, help="roster file: owners' names (OPSROOM_ROSTER)")
    p.add_argument(
        "--since",
        type=when,
        default=when(since),
        help=f"start: a duration back from now or ISO-8601 (default {since})",
    )
    p.add_argument("--until", type=when, help="end: 'now' (default), a duration or ISO-8601")
    p.add_argument("--out", type=Path, default=Path(out), help=f"output folder (default {out})")
    p.add_argument("--no-broker", action="store_true", help="do not ask the broker for silences")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `handover` and `event-report` to the sub-parsers of `opsroom`."""
    p = sub.add_parser(
        "handover",
        help="shift handover report (Markdown and HTML)",
        description=cmd_handover.__doc__,
    )
    _arguments(p, "8h", "handover")
    p.set_defaults(handler=cmd_handover)
    p = sub.add_parser(
        "event-report",
        help="event-day report (Markdown and HTML)",
        description=cmd_event_report.__doc__,
    )
    _arguments(p, "24h", "event-report")
    p.set_defaults(handler=cmd_event_report)
