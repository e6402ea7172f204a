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

from opsroom import __version__, redact
from opsroom.configfile import ConfigError
from opsroom.settings import Settings
from opsroom.store import StoreError, active_alerts, open_store
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


def _need(path: Path | None, what: str, flag: str, env: str, hint: str) -> Path:
    if path is None:
        raise ConfigError("settings", [f"{what}: pass {flag} FILE or set {env}{hint}"])
    return path


def cmd_rules(args: argparse.Namespace) -> int:
    """Run the rules service until SIGINT/SIGTERM: alerts from readings, on MQTT and stored."""
    from opsroom.rulesfile.model import load_rules
    from opsroom.venue import load_venue
    from rules.engine import Engine
    from rules.notify import NotifierSet, load_notifiers
    from rules.service import EngineLike, RulesService

    settings = _settings(args, rules=args.rules, notifiers=args.notifiers, data_dir=args.data_dir)
    example = " (a source checkout has examples/{})"
    rules_file = _need(
        settings.rules, "no rules file", "--rules", "OPSROOM_RULES", example.format("rules.yaml")
    )
    venue_file = _need(
        settings.venue, "no venue file", "--venue", "OPSROOM_VENUE", example.format("venue.yaml")
    )
    venue = load_venue(venue_file)
    ruleset = load_rules(rules_file, venue)
    notifiers = load_notifiers(settings.notifiers) if settings.notifiers else NotifierSet()

    def engine(state: dict[str, Any] | None) -> EngineLike:
        return Engine(ruleset, venue, state)

    store = open_store(settings)
    stop = _install_stop_signals()
    service = RulesService(settings, store, engine, venue, notifiers=notifiers)
    try:
        service.run(stop)
    finally:
        store.close()
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 if a service published its status recently (for container health checks)."""
    from opsroom.health import check

    ok, why = check(_settings(args), args.service, timedelta(seconds=args.max_age))
    print(why)
    return 0 if ok else 1


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a venue file (and a rules file against it, and a notifiers file)."""
    from opsroom.venue import load_venue

    venue = load_venue(args.venue_file)
    sensors = venue.sensors()
    print(f"{args.venue_file}: OK: {venue.event.name}")
    print(
        f"  {len(venue.zones)} zones, {len(venue.gates)} gates, "
        f"{len(venue.generators)} generators, {len(venue.catering)} catering units, "
        f"{len(venue.routes)} routes, {len(venue.shuttles)} shuttles; {len(sensors)} sensors"
    )
    if args.rules is not None:
        from opsroom.rulesfile.model import load_rules

        ruleset = load_rules(args.rules, venue)
        print(f"{args.rules}: OK: {len(ruleset.rules)} rules")
    if args.notifiers is not None:
        from rules.notify import load_notifiers

        notifiers = load_notifiers(args.notifiers)
        names = ", ".join(n.name for n, _ in notifiers.entries) or "none"
        print(f"{args.notifiers}: OK: {len(notifiers.entries)} notifiers ({names})")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Run the Streamlit dashboard (a `streamlit run` subprocess) until SIGINT/SIGTERM."""
    import os
    import subprocess

    settings = _settings(args)
    if settings.dashboard_password is None and not settings.dashboard_no_auth:
        print(
            "opsroom: refusing to start the dashboard without a password: set "
            "OPSROOM_DASHBOARD_PASSWORD, or OPSROOM_DASHBOARD_NO_AUTH=1 to run it open on "
            "purpose (trusted network only)",
            file=sys.stderr,
        )
        return 2
    if settings.venue is None:
        print(
            "opsroom: the dashboard needs a venue file: --venue or OPSROOM_VENUE", file=sys.stderr
        )
        return 2
    env = dict(os.environ)
    given = {
        "event": args.event,
        "mqtt_url": args.mqtt_url,
        "mqtt_protocol": args.mqtt_protocol,
        "store": args.store,
        "venue": str(Path(args.venue).resolve()) if args.venue else None,
        "rules": str(Path(args.rules).resolve()) if args.rules else None,
    }
    env.update({f"OPSROOM_{k.upper()}": str(v) for k, v in given.items() if v is not None})
    app = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.headless", "true",
        "--server.address", args.address,
        "--server.port", str(args.port),
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    stop = _install_stop_signals()
    proc = subprocess.Popen(command, env=env)
    print(f"opsroom: dashboard on http://{args.address}:{args.port}", file=sys.stderr)
    while proc.poll() is None and not stop.wait(0.5):
        pass
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0 if stop.is_set() else proc.wait()


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


def cmd_query_alerts(args: argparse.Namespace) -> int:
    """Print alert transitions (or, with --active, the alerts not yet resolved)."""
    store = open_store(_settings(args))
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
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if not events:
        print("no active alerts" if args.active else "no alert transitions stored")
        return 0
    print(f"{'ts':<25} {'state':<12} {'severity':<8} {'subject':<24} {'rule':<24} message")
    for e in events:
        drill = " [DRILL]" if e.drill else ""
        by = f" (by {e.actor})" if e.actor else ""
        print(
            f"{e.ts.isoformat(timespec='seconds'):<25} {e.state:<12} {e.severity:<8} "
            f"{e.subject:<24} {e.rule:<24} {e.message}{by}{drill}"
        )
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Play a drill: simulated devices publish to the broker, incidents injected on time."""
    from simulators.cli import cmd_simulate as run

    return run(args, _settings(args), _install_stop_signals())


def cmd_drill_report(args: argparse.Namespace) -> int:
    """Score a drill from its incident log and the stored alerts; write Markdown and HTML."""
    from simulators.cli import cmd_drill_report as run

    return run(args, _settings(args))


def cmd_demo(args: argparse.Namespace) -> int:
    """Run everything on this machine: broker, store, ingest, rules, a drill, the dashboard."""
    from opsroom.app.demo import DemoOptions, run_demo

    options = DemoOptions(
        data_dir=args.data_dir,
        port=args.port,
        speed=args.speed,
        drill=args.drill,
        venue=args.venue,
        rules=args.rules,
        broker=args.broker,
        seed=args.seed,
        loop=not args.once,
    )
    return run_demo(options, _install_stop_signals())


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
        "demo",
        help="everything on this machine, no server to install: broker, store, ingest, "
        "rules, a drill on a loop and the dashboard",
        description=cmd_demo.__doc__,
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path("opsroom-data"),
        help="the demo's own folder, emptied on each start (default opsroom-data)",
    )
    p.add_argument("--port", type=int, default=8501, help="dashboard HTTP port (default 8501)")
    p.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="speed of the drill's first round, which replays up to now (default 60; "
        "later rounds play live)",
    )
    p.add_argument(
        "--drill", type=Path, help="drill file (default examples/drills/opening-rush.yaml)"
    )
    p.add_argument("--venue", type=Path, help="venue file (default examples/venue.yaml)")
    p.add_argument("--rules", type=Path, help="rules file (default examples/rules.yaml)")
    p.add_argument(
        "--broker",
        choices=["auto", "mosquitto", "embedded"],
        default="auto",
        help="auto: Mosquitto if installed, else the embedded amqtt broker (default auto)",
    )
    p.add_argument("--seed", type=int, help="random seed of the drill (default: the drill's)")
    p.add_argument("--once", action="store_true", help="play the drill once, not on a loop")
    p.set_defaults(handler=cmd_demo)

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
        "rules",
        help="readings -> rules -> alerts on MQTT, in the store and to notifiers",
        description=cmd_rules.__doc__,
    )
    _add_common(p)
    p.add_argument(
        "--rules",
        type=Path,
        help="rules file (OPSROOM_RULES); required: a source checkout has examples/rules.yaml",
    )
    p.add_argument("--venue", type=Path, help="venue file (OPSROOM_VENUE); required")
    p.add_argument(
        "--notifiers",
        type=Path,
        help="notifiers file (OPSROOM_NOTIFIERS; see examples/notifiers.yaml); none: MQTT only",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        help="where the rules state and the notification log are kept "
        "(OPSROOM_DATA_DIR; default opsroom-data)",
    )
    p.set_defaults(handler=cmd_rules)

    p = sub.add_parser(
        "check-config",
        help="validate a venue file, and rules and notifiers files",
        description=cmd_check_config.__doc__,
    )
    p.add_argument("venue_file", metavar="VENUE", type=Path, help="venue YAML file")
    p.add_argument("--rules", type=Path, help="also check this rules file against the venue")
    p.add_argument(
        "--notifiers",
        type=Path,
        help="also check this notifiers file (its ${VARIABLES} must be set)",
    )
    p.set_defaults(handler=cmd_check_config)

    p = sub.add_parser(
        "health",
        help="is a service alive (its status on _sys/SERVICE is recent)?",
        description=cmd_health.__doc__,
    )
    _add_common(p, store=False)
    p.add_argument("service", help="service name: ingest, rules, ...")
    p.add_argument("--max-age", type=float, default=60, help="seconds (default 60)")
    p.set_defaults(handler=cmd_health)

    p = sub.add_parser(
        "dashboard",
        help="the wall-screen dashboard (Streamlit)",
        description=cmd_dashboard.__doc__,
    )
    _add_common(p)
    p.add_argument("--venue", type=Path, help="venue file (OPSROOM_VENUE)")
    p.add_argument(
        "--rules",
        type=Path,
        help="rules file whose levels colour tiles and bands (OPSROOM_RULES; without one, "
        "the design defaults)",
    )
    p.add_argument("--port", type=int, default=8501, help="HTTP port (default 8501)")
    p.add_argument(
        "--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    p.set_defaults(handler=cmd_dashboard)

    from simulators.cli import add_report_arguments, add_simulate_arguments

    p = sub.add_parser(
        "simulate",
        help="play a drill: simulated sensors and injected incidents over MQTT",
        description=cmd_simulate.__doc__,
    )
    _add_common(p, store=False)
    add_simulate_arguments(p)
    p.set_defaults(handler=cmd_simulate)

    p = sub.add_parser(
        "drill-report",
        help="after-action report of a drill (Markdown + offline HTML)",
        description=cmd_drill_report.__doc__,
    )
    _add_common(p, mqtt=False)
    add_report_arguments(p)
    p.set_defaults(handler=cmd_drill_report)

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

    p = qsub.add_parser(
        "alerts",
        help="alert transitions, or the active alerts",
        description=cmd_query_alerts.__doc__,
    )
    _add_common(p, mqtt=False)
    p.add_argument("--active", action="store_true", help="only alerts not yet resolved")
    p.add_argument(
        "--since", type=_time_arg, help="ISO-8601, 'now' or -DURATION like -2h (default: all)"
    )
    p.add_argument("--json", action="store_true", help="JSON list of alert events")
    p.set_defaults(handler=cmd_query_alerts)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `opsroom` command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for h in logging.getLogger().handlers:  # every log line, ours or a library's
        redact.install(h)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    sys.excepthook = _redacted_excepthook
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"opsroom: configuration error: {redact.redact(str(exc))}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"opsroom: store error: {redact.redact(str(exc))}", file=sys.stderr)
        return 1
    except ConnectionError as exc:
        print(f"opsroom: {redact.redact(str(exc))}", file=sys.stderr)
        return 1


def _redacted_excepthook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
    """An unexpected crash still prints its traceback, with credentials masked."""
    import traceback

    text = "".join(traceback.format_exception(kind, exc, tb))
    print(redact.redact(text), file=sys.stderr, end="")


if __name__ == "__main__":
    sys.exit(main())
