"""`opsroom query latest | series | alerts`: read the store from the command line."""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import orjson

from opsroom.command import add_common, settings_from
from opsroom.families import FAMILIES
from opsroom.store import active_alerts, open_store

TIME_FLAGS = ("--since", "--start", "--end")
_NEGATIVE = re.compile(r"-\.?\d")  # -2h, -90s, -1.5d, -.5h


def negative_times_as_values(argv: Sequence[str]) -> list[str]:
    """`--since -2h` as `--since=-2h`: argparse takes any other `-2h` for an unknown flag."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in TIME_FLAGS:
            value = next(args, None)
            if value is not None and _NEGATIVE.match(value):
                out.append(f"{arg}={value}")
                continue
            out.append(arg)
            if value is not None:
                out.append(value)
            continue
        out.append(arg)
    return out


def _emit(text: str) -> int:
    """Write the output; a reader that stopped early (`| head -1`) ends the command quietly."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # like other Unix tools: no message, and what is still buffered goes nowhere at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    return 0


def _parse_time(text: str) -> datetime:
    if text == "now":
        return datetime.now(UTC)
    if text.startswith("-"):
        return datetime.now(UTC) - _parse_duration(text[1:])
    ts = datetime.fromisoformat(text)
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


def _parse_duration(text: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        return timedelta(seconds=float(text[:-1]) * units[text[-1]])
    except (KeyError, ValueError, IndexError):
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use a number and s, m, h or d (e.g. 90s, 15m, 2h)"
        ) from None


def _time_arg(text: str) -> datetime:
    try:
        return _parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r}: use ISO-8601, 'now' or -DURATION like -2h"
        ) from None


def cmd_query_latest(args: argparse.Namespace) -> int:
    """Print the newest reading of each sensor of a kind."""
    store = open_store(settings_from(args))
    try:
        readings = store.latest(args.kind, args.sensor or None)
    finally:
        store.close()
    rows = [r.to_json() for r in readings]
    if args.json:
        return _emit(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    if not rows:
        return _emit(f"no {args.kind} readings stored\n")
    lines = []
    for r in readings:
        fields = " ".join(f"{k}={v}" for k, v in r.values.items())
        drill = " [DRILL]" if r.drill else ""
        lines.append(f"{r.ts.isoformat(timespec='seconds')}  {r.sensor_id:<20} {fields}{drill}\n")
    return _emit("".join(lines))


def cmd_query_series(args: argparse.Namespace) -> int:
    """Print one field of chosen sensors over a window, optionally downsampled."""
    store = open_store(settings_from(args))
    try:
        points = store.series(args.kind, args.field, args.sensor, args.start, args.end, args.every)
    finally:
        store.close()
    if args.json:
        rows = [
            {"sensor_id": p.sensor_id, "ts": p.ts.isoformat(), args.field: p.value} for p in points
        ]
        return _emit(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    lines = [
        f"{p.ts.isoformat(timespec='seconds')}  {p.sensor_id:<20} {p.value:g}\n" for p in points
    ]
    return _emit("".join(lines) or "no points in that window\n")


def cmd_query_alerts(args: argparse.Namespace) -> int:
    """Print alert transitions (or, with --active, the alerts not yet resolved)."""
    store = open_store(settings_from(args))
    try:
        events = store.alert_events(start=None if args.active else args.since)
    finally:
        store.close()
    if args.active:
        events = active_alerts(events)
        if args.since is not None:
            events = [e for e in events if e.ts >= args.since]
    if args.json:
        rows = [e.model_dump(mode="json") for e in events]
        return _emit(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    if not events:
        return _emit("no active alerts\n" if args.active else "no alert transitions stored\n")
    lines = [f"{'ts':<25} {'state':<12} {'severity':<8} {'subject':<24} {'rule':<24} message\n"]
    for e in events:
        drill = " [DRILL]" if e.drill else ""
        by = f" (by {e.actor})" if e.actor else ""
        lines.append(
            f"{e.ts.isoformat(timespec='seconds'):<25} {e.state:<12} {e.severity:<8} "
            f"{e.subject:<24} {e.rule:<24} {e.message}{by}{drill}\n"
        )
    return _emit("".join(lines))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `query` and its three sub-commands to the sub-parsers of `opsroom`."""
    q = sub.add_parser("query", help="read the store", description="Read the store.")
    qsub = q.add_subparsers(dest="query", required=True, metavar="WHAT")
    p = qsub.add_parser(
        "latest", help="newest reading per sensor of a kind", description=cmd_query_latest.__doc__
    )
    add_common(p, mqtt=False)
    p.add_argument("--kind", required=True, choices=sorted(FAMILIES), help="sensor family")
    p.add_argument("--sensor", action="append", help="only this sensor (repeatable)")
    p.add_argument("--json", action="store_true", help="JSON list of objects")
    p.set_defaults(handler=cmd_query_latest)

    p = qsub.add_parser(
        "series",
        help="one field of sensors over a time window",
        description=cmd_query_series.__doc__,
    )
    add_common(p, mqtt=False)
    p.add_argument("--kind", required=True, choices=sorted(FAMILIES), help="sensor family")
    p.add_argument("--field", required=True, help="field name, e.g. temp_c, voltage_v")
    p.add_argument("--sensor", action="append", required=True, help="sensor id (repeatable)")
    p.add_argument(
        "--start",
        type=_time_arg,
        default=_parse_time("-1h"),
        help="ISO-8601, 'now' or -DURATION (default -1h)",
    )
    p.add_argument(
        "--end",
        type=_time_arg,
        default=_parse_time("now") + timedelta(seconds=1),
        help="ISO-8601, 'now' or -DURATION (default now)",
    )
    p.add_argument("--every", type=_parse_duration, help="downsample: mean per bucket, e.g. 1m")
    p.add_argument("--json", action="store_true", help="JSON list of objects")
    p.set_defaults(handler=cmd_query_series)

    p = qsub.add_parser(
        "alerts",
        help="alert transitions, or the active alerts",
        description=cmd_query_alerts.__doc__,
    )
    add_common(p, mqtt=False)
    p.add_argument("--active", action="store_true", help="only alerts not yet resolved")
    p.add_argument(
        "--since", type=_time_arg, help="ISO-8601, 'now' or -DURATION like -2h (default: all)"
    )
    p.add_argument("--json", action="store_true", help="JSON list of alert events")
    p.set_defaults(handler=cmd_query_alerts)
