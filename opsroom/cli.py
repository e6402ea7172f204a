"""The `opsroom` command: one entry point for every service and tool."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from opsroom import __version__
from opsroom.configfile import ConfigError
from opsroom.settings import Settings
from opsroom.store import StoreError, open_store
from opsroom.telemetry import FAMILIES

log = logging.getLogger("opsroom")

Handler = Callable[[argparse.Namespace], int]


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    overrides = {
        "event": getattr(args, "event", None),
        "mqtt_url": getattr(args, "mqtt_url", None),
        "mqtt_protocol": getattr(args, "mqtt_protocol", None),
        "store": getattr(args, "store", None),
        "venue": getattr(args, "venue", None),
        **extra,
    }
    return Settings.load(overrides)


def _add_common(p: argparse.ArgumentParser, *, mqtt: bool = True, store: bool = True) -> None:
    p.add_argument("--event", help="event id, the second topic segment (OPSROOM_EVENT; demo)")
    if mqtt:
        p.add_argument(
            "--mqtt-url",
            help="mqtt://[user:pass@]host:port or mqtts:// (OPSROOM_MQTT_URL; "
            "prefer OPSROOM_MQTT_PASSWORD for the password)",
        )
        p.add_argument(
            "--mqtt-protocol",
            choices=["auto", "5", "3.1.1"],
            help="MQTT protocol version (OPSROOM_MQTT_PROTOCOL; auto tries v5 first)",
        )
    if store:
        p.add_argument(
            "--store",
            help="sqlite:///PATH or influxdb (OPSROOM_STORE; default "
            "sqlite:///opsroom-data/opsroom.db); InfluxDB takes OPSROOM_INFLUXDB_URL, "
            "_TOKEN, _ORG, _BUCKET",
        )


def _install_stop_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def cmd_ingest(args: argparse.Namespace) -> int:
    """Run the ingest service until SIGINT/SIGTERM."""
    from ingest import IngestService
    from opsroom.venue import load_venue

    settings = _settings(args)
    venue = load_venue(settings.venue) if settings.venue else None
    store = open_store(settings)
    stop = _install_stop_signals()
    service = IngestService(
        settings, store, venue, client_id=args.client_id, share_group=args.share_group
    )
    try:
        service.run(stop)
    finally:
        store.close()
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a venue file and print what it holds."""
    from opsroom.venue import load_venue

    venue = load_venue(args.venue_file)
    sensors = venue.sensors()
    print(f"{args.venue_file}: OK: {venue.event.name}")
    print(
        f"  {len(venue.zones)} zones, {len(venue.gates)} gates, "
        f"{len(venue.generators)} generators, {len(venue.catering)} catering units, "
        f"{len(venue.routes)} routes, {len(venue.shuttles)} shuttles; {len(sensors)} sensors"
    )
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
    store = open_store(_settings(args))
    try:
        readings = store.latest(args.kind, args.sensor or None)
    finally:
        store.close()
    rows = [r.to_json() for r in readings]
    if args.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if not rows:
        print(f"no {args.kind} readings stored")
        return 0
    for r in readings:
        fields = " ".join(f"{k}={v}" for k, v in r.values.items())
        drill = " [DRILL]" if r.drill else ""
        print(f"{r.ts.isoformat(timespec='seconds')}  {r.sensor_id:<20} {fields}{drill}")
    return 0


def cmd_query_series(args: argparse.Namespace) -> int:
    """Print one field of chosen sensors over a window, optionally downsampled."""
    store = open_store(_settings(args))
    try:
        points = store.series(args.kind, args.field, args.sensor, args.start, args.end, args.every)
    finally:
        store.close()
    if args.json:
        rows = [
            {"sensor_id": p.sensor_id, "ts": p.ts.isoformat(), args.field: p.value} for p in points
        ]
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    for p in points:
        print(f"{p.ts.isoformat(timespec='seconds')}  {p.sensor_id:<20} {p.value:g}")
    if not points:
        print("no points in that window")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="opsroom",
        description="Live monitoring for the operations room of a large event.",
    )
    parser.add_argument("--version", action="version", version=f"opsroom {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "ingest",
        help="MQTT readings -> validation -> store (dead letters aside)",
        description=cmd_ingest.__doc__,
    )
    _add_common(p)
    p.add_argument(
        "--venue", type=Path, help="venue file: counts readings of unknown sensors (OPSROOM_VENUE)"
    )
    p.add_argument(
        "--client-id", help="MQTT client id (default opsroom-ingest-EVENT); one per process"
    )
    p.add_argument(
        "--share-group",
        help="MQTT v5 shared subscription group, to split the load "
        "between several ingest processes",
    )
    p.set_defaults(handler=cmd_ingest)

    p = sub.add_parser(
        "check-config", help="validate a venue file", description=cmd_check_config.__doc__
    )
    p.add_argument("venue_file", metavar="VENUE", type=Path, help="venue YAML file")
    p.set_defaults(handler=cmd_check_config)

    q = sub.add_parser("query", help="read the store", description="Read the store.")
    qsub = q.add_subparsers(dest="query", required=True, metavar="WHAT")
    p = qsub.add_parser(
        "latest", help="newest reading per sensor of a kind", description=cmd_query_latest.__doc__
    )
    _add_common(p, mqtt=False)
    p.add_argument("--kind", required=True, choices=sorted(FAMILIES), help="sensor family")
    p.add_argument("--sensor", action="append", help="only this sensor (repeatable)")
    p.add_argument("--json", action="store_true", help="JSON list of objects")
    p.set_defaults(handler=cmd_query_latest)

    p = qsub.add_parser(
        "series",
        help="one field of sensors over a time window",
        description=cmd_query_series.__doc__,
    )
    _add_common(p, mqtt=False)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `opsroom` command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"opsroom: configuration error: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"opsroom: store error: {exc}", file=sys.stderr)
        return 1
    except ConnectionError as exc:
        print(f"opsroom: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
