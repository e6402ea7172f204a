"""`opsroom silence add | list | expire`: silences for planned work, on the broker."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path

from opsroom import silences
from opsroom.command import add_common, settings_from
from opsroom.silences import SilenceError


def _time(text: str) -> datetime:
    try:
        ts = datetime.now(UTC) if text == "now" else datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: write ISO-8601, e.g. 2026-07-04T18:00Z"
        ) from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


def _duration(text: str) -> object:
    try:
        return silences.parse_duration(text)
    except SilenceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fail(exc: Exception) -> int:
    print(f"opsroom silence: {exc}", file=sys.stderr)
    return 2


def cmd_add(args: argparse.Namespace) -> int:
    """Silence matching alerts for planned work (published retained on the broker)."""
    settings = settings_from(args, ("rules",))
    try:
        silence = silences.build(
            rule=args.rule,
            entity=args.entity,
            family=args.family,
            reason=args.reason,
            author=args.author or getpass.getuser(),
            starts_at=args.start,
            ends_at=args.until,
            duration=args.duration,
            known=silences.known_from(settings),
        )
    except SilenceError as exc:
        return _fail(exc)
    topic = silences.publish(settings, silence)
    print(
        f"silence {silence.id}: {silence.describe()} from "
        f"{silence.starts_at.isoformat(timespec='seconds')} until "
        f"{silence.ends_at.isoformat(timespec='seconds')} ({topic})"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """The silences in force or to come (--all: ended ones too)."""
    settings = settings_from(args)
    found, bad = silences.fetch(settings)
    now = datetime.now(UTC)
    shown = found if args.all else silences.in_force(found, now)
    for line in bad:
        print(f"opsroom silence: not a silence: {line}", file=sys.stderr)
    if args.json:
        sys.stdout.write("".join(silences.to_json(s).decode() + "\n" for s in shown))
        return 0
    if not shown:
        print("no silences in force")
    for s in shown:
        state = "ended" if s.until <= now else "in force" if s.in_force(now) else "to come"
        print(
            f"{s.id}  {state:<8}  {s.describe():<40}  "
            f"{s.starts_at.isoformat(timespec='seconds')} .. "
            f"{s.until.isoformat(timespec='seconds')}  by {s.author}: {s.reason}"
        )
    return 0


def cmd_expire(args: argparse.Namespace) -> int:
    """End a silence now (its alerts that still fire are notified then)."""
    try:
        ended = silences.expire(settings_from(args), args.id)
    except SilenceError as exc:
        return _fail(exc)
    print(f"silence {ended.id} expired at {ended.until.isoformat(timespec='seconds')}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `silence` and its sub-commands to the sub-parsers of `opsroom`."""
    s = sub.add_parser(
        "silence", help="silences for planned work", description="Silences for planned work."
    )
    ssub = s.add_subparsers(dest="silence", required=True, metavar="WHAT")
    p = ssub.add_parser("add", help="add a silence", description=cmd_add.__doc__)
    add_common(p, store=False)
    p.add_argument("--rule", help="rule id, e.g. cold-holding")
    p.add_argument("--entity", help="venue entity (the alert's subject), e.g. fridge-3")
    p.add_argument("--family", help="sensor family, e.g. coldchain")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--for", dest="duration", type=_duration, help="how long: 30m, 2h, 1d")
    when.add_argument("--until", type=_time, help="end, ISO-8601")
    p.add_argument("--start", type=_time, help="start, ISO-8601 (default now; event time)")
    p.add_argument("--reason", required=True, help="why: the planned work")
    p.add_argument("--author", help="who (default: your login name)")
    p.add_argument("--venue", type=Path, help="venue file: entities checked (OPSROOM_VENUE)")
    p.add_argument("--rules", type=Path, help="rules file: rule ids checked (OPSROOM_RULES)")
    p.set_defaults(handler=cmd_add)

    p = ssub.add_parser("list", help="silences in force", description=cmd_list.__doc__)
    add_common(p, store=False)
    p.add_argument("--all", action="store_true", help="ended ones too")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=cmd_list)

    p = ssub.add_parser("expire", help="end a silence now", description=cmd_expire.__doc__)
    add_common(p, store=False)
    p.add_argument("id", help="silence id (see `opsroom silence list`)")
    p.set_defaults(handler=cmd_expire)
