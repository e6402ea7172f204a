"""The `opsroom simulate` and `opsroom drill-report` sub-commands."""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson

from opsroom import topics
from opsroom.command import Command, add_common, stop_on_signals
from opsroom.configfile import ConfigError
from opsroom.controllog import LogEntry
from opsroom.settings import Settings
from opsroom.venue import Venue, load_venue
from simulators.drill import Drill, SensorSilent, load_drill, parse_duration, resolve_venue_path
from simulators.engine import Message, Simulation
from simulators.incidents import rule_ids
from simulators.runner import Runner, anchor_for, stderr_progress


def load_drill_and_venue(
    drill_path: Path, venue_path: Path | None, fallback: Path | None = None
) -> tuple[Drill, Venue, Path]:
    """The drill and its venue (--venue, else the drill's `venue:`, else OPSROOM_VENUE)."""
    drill = load_drill(drill_path)
    path = venue_path or resolve_venue_path(drill, drill_path) or fallback
    if path is None:
        raise ConfigError(
            str(drill_path), ["venue: no venue file: give one in the drill or with --venue"]
        )
    venue = load_venue(path)
    return load_drill(drill_path, venue), venue, path


def _rules_file(args: argparse.Namespace, settings: Settings, venue_path: Path) -> Path | None:
    for candidate in (args.rules, settings.rules, venue_path.parent / "rules.yaml"):
        if candidate is not None and Path(candidate).is_file():
            return Path(candidate)
    return None


class _FileSink:
    """Writes messages as JSON lines instead of publishing them (`--dry-run FILE`)."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def send(self, msg: Message) -> None:
        """Write one message."""
        line = {"t": msg.t, "topic": msg.topic, "payload": msg.payload.decode("utf-8", "replace")}
        self.out.write(orjson.dumps(line).decode() + "\n")

    def drain(self, timeout: float) -> bool:
        """Flush the file."""
        self.out.flush()
        return True

    def close(self) -> None:
        """Nothing to release (the caller closes the file)."""


@contextlib.contextmanager
def _maybe_open(path: Path | None) -> Iterator[IO[str] | None]:
    if path is None:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        yield f


def cmd_simulate(args: argparse.Namespace, settings: Settings, stop: threading.Event) -> int:
    """Play a drill: simulated devices publish to the broker, incidents injected on time."""
    from opsroom.mqtt import negotiate_protocol
    from simulators.deadletters import watch_for
    from simulators.mqtt_sink import MqttSink

    drill, venue, venue_path = load_drill_and_venue(args.drill, args.venue, settings.venue)
    speed = drill.speed if args.speed is None else args.speed
    seed = drill.seed if args.seed is None else args.seed
    rules_path = _rules_file(args, settings, venue_path)
    rules = rule_ids(rules_path) if rules_path else []
    wall_start = time.time()
    anchor = anchor_for(wall_start, drill.duration.total_seconds(), speed)
    sim = Simulation(venue, drill, settings.event, anchor, random.Random(seed), rules, args.round)
    header: dict[str, Any] = {
        "drill_file": str(args.drill),
        "venue_file": str(venue_path),
        "rules_file": str(rules_path) if rules_path else None,
        "seed": seed,
        "round": args.round,
    }
    sink: Any
    watch = None
    operator = None
    store = None
    with _maybe_open(args.log) as log, _maybe_open(args.dry_run) as dry:
        if dry is not None:
            sink = _FileSink(dry)
        else:
            # devices that drop their link in a drill need a real last will of their own
            own = {
                i.target
                for i in drill.incidents
                if isinstance(i, SensorSilent) and i.mode == "disconnect"
            }
            n = len(sim.devices) if args.device_connections < 0 else args.device_connections
            own |= {d.sensor_id for d in sim.devices[:n]}
            protocol = negotiate_protocol(settings)
            sink = MqttSink(settings, protocol, f"opsroom-sim-{settings.event}", sorted(own))
            if log is not None:
                # subscribed before the first message: was every broken payload dead-lettered?
                watch = watch_for(settings, protocol, drill)
            if drill.operator:
                from opsroom.store import open_store
                from simulators.operator import DrillOperator

                store = open_store(settings)
                operator = DrillOperator(store, settings)
        print(
            f"opsroom simulate: {drill.name!r} on {venue.event.name}: {len(sim.devices)} devices, "
            f"{len(drill.incidents)} incidents, {drill.duration} at "
            f"{'max' if speed <= 0 else f'{speed:g}x'} (seed {seed}); drill clock "
            f"{sim.anchor.isoformat(timespec='seconds')} to "
            f"{sim.ts(sim.duration).isoformat(timespec='seconds')}",
            file=sys.stderr,
        )
        runner = Runner(
            sim,
            sink,
            speed,
            wall_start,
            sleep=getattr(sink, "pump", time.sleep),
            log=log,
            progress=stderr_progress(sim),
            progress_every=args.progress_every,
            stop=stop,
            header=header,
            watch=watch,
            operator=operator,
        )
        try:
            state = runner.run()
        finally:
            sink.close()
            if watch is not None:
                watch.close()
            if store is not None:
                store.close()
    return 0 if state.completed else 130


def cmd_drill_report(args: argparse.Namespace, settings: Settings) -> int:
    """Score a drill: match its incident log against the stored alerts; write MD and HTML."""
    from opsroom.store import open_store
    from simulators.matching import match, with_responses
    from simulators.report import read_log, write_report

    try:
        log = read_log(args.incidents)
    except (OSError, ValueError) as exc:
        raise ConfigError(str(args.incidents), [str(exc)]) from exc
    grace: timedelta = args.grace
    settings = _report_event(args, settings, log.header.get("event"))
    store = open_store(settings)
    try:
        events = store.alert_events(start=log.start - grace, end=log.finish + 2 * grace)
        entries = store.log_entries(start=log.start - grace, end=log.finish + 2 * grace)
    finally:
        store.close()
    plan_runs = drill_runs(entries, settings, log.finish)
    result = match(
        log.incidents,
        events,
        grace=grace,
        window=(log.start, log.finish),
        deadletters=log.deadletters,
    )
    result = with_responses(result, entries, drill_escalations(settings, entries))
    md, page = write_report(log, result, args.out, grace, plan_runs)
    handled = (
        f"{result.handled} of {result.malformed} malformed-payload incidents handled, "
        if result.malformed
        else ""
    )
    print(
        f"{result.detected} of {result.expected} incidents detected, {handled}"
        f"{len(result.unmatched)} unmatched alert(s) of event {settings.event!r}; "
        f"wrote {md} and {page}"
    )
    return 0


def drill_escalations(settings: Settings, entries: Sequence[LogEntry]) -> dict[str, int]:
    """How many times each alert was escalated: the control log's escalation entries, or the
    notification log's (a log written before escalations were logged)."""
    from opsroom.reports.shift import escalations, read_attempts

    attempts, _error = read_attempts(settings.notification_log)
    return escalations(entries, attempts)


def drill_runs(entries: list[Any], settings: Settings, end: datetime) -> list[Any]:
    """The drill's plan runs, scored at the drill's end (a step not ticked by then is missed);
    step actions from the plans file when one is set (OPSROOM_PLANS)."""
    from opsroom.planrun import runs
    from opsroom.plans import load_plans

    plans = load_plans(settings.plans) if settings.plans is not None else None
    return runs([e for e in entries if e.drill], plans, end)


def _report_event(args: argparse.Namespace, settings: Settings, logged: object) -> Settings:
    """Whose alerts a drill report scores: `--event` when given, else the event the incident
    log says the drill ran as (a store may hold the alerts of several events)."""
    if args.event is not None:
        if isinstance(logged, str) and logged != args.event:
            print(
                f"opsroom: scoring the alerts of event {args.event!r} (--event), but the drill "
                f"ran as event {logged!r} (its incident log)",
                file=sys.stderr,
            )
        return settings
    if not isinstance(logged, str) or logged == settings.event:
        return settings
    if not topics.valid_id(logged):
        raise ConfigError(str(args.incidents), [f"event {logged!r} is not a valid event id"])
    return settings.model_copy(update={"event": logged})


def _duration_arg(text: str) -> timedelta:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    assert isinstance(value, timedelta)
    return value


def _round_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"1 or more, not {value}")
    return value


def add_simulate_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of `opsroom simulate` (besides the common --event/--mqtt-url)."""
    p.add_argument("drill", metavar="DRILL", type=Path, help="drill YAML file")
    p.add_argument("--venue", type=Path, help="venue file (default: the drill's `venue:`)")
    p.add_argument("--speed", type=float, help="simulated s per wall s (0 = max; default drill's)")
    p.add_argument("--seed", type=int, help="random seed (default: the drill's)")
    p.add_argument("--log", type=Path, help="write the incident log (JSON lines) here")
    p.add_argument(
        "--round",
        type=_round_arg,
        default=1,
        metavar="N",
        help="play round N of the drill on a loop: the crowd, the loads and the clock of day "
        "carry on from the end of round N-1 (same seed), the incidents repeat (default 1)",
    )
    p.add_argument("--rules", type=Path, help="rules file, for the expected rule ids in the log")
    p.add_argument(
        "--device-connections",
        type=int,
        default=0,
        metavar="N",
        help="give the first N devices (-1: all) their own MQTT connection with a last will",
    )
    p.add_argument(
        "--dry-run", type=Path, metavar="FILE", help="write messages as JSON lines, no broker"
    )
    p.add_argument("--progress-every", type=float, default=3.0, help="seconds between progress")


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of `opsroom drill-report` (besides the common --event/--store)."""
    p.add_argument(
        "--incidents", required=True, type=Path, metavar="LOG", help="incident log of the drill"
    )
    p.add_argument("--out", type=Path, default=Path("drill-report"), help="output folder")
    p.add_argument(
        "--grace",
        type=_duration_arg,
        default=timedelta(minutes=10),
        help="how long after an incident's end an alert still counts (default 10m)",
    )


def _simulate_arguments(p: argparse.ArgumentParser) -> None:
    add_common(p, store=False)
    add_simulate_arguments(p)


def _report_arguments(p: argparse.ArgumentParser) -> None:
    add_common(p, mqtt=False)
    add_report_arguments(p)


def run_simulate(args: argparse.Namespace, settings: Settings) -> int:
    """Play a drill: simulated devices publish to the broker, incidents injected on time."""
    return cmd_simulate(args, settings, stop_on_signals())


COMMANDS = (
    Command(
        "simulate",
        "play a drill: simulated sensors and injected incidents over MQTT",
        _simulate_arguments,
        run_simulate,
    ),
    Command(
        "drill-report",
        "after-action report of a drill (Markdown + offline HTML)",
        _report_arguments,
        cmd_drill_report,
        description="Score a drill from its incident log and the stored alerts; "
        "write Markdown and HTML.",
    ),
)
