"""Plays a simulation against the wall clock into a sink (MQTT, or a list for tests).

The clock: at speed S the simulated clock advances S seconds per wall second. The drill's
second 0 is stamped `anchor = wall_start - duration * (1 - 1/S)` (or `wall_start - duration`
when unpaced), so each message is stamped at or before the wall time it is published at, and
the simulated clock reaches "now" as the drill ends (5 ms before it: see EARLY_S). The oldest
timestamp is at most `duration` old, so any drill of up to 47 h passes ingest's 48 h age
limit, at any speed.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Protocol

import orjson

from simulators.engine import Message, Simulation, iso

Wall = Callable[[], float]
Sleep = Callable[[float], None]


class Sink(Protocol):
    """Where a drill's messages go."""

    def send(self, msg: Message) -> None:
        """Publish one message (may return before the broker has it)."""
        ...

    def drain(self, timeout: float) -> bool:
        """Wait until everything sent is acknowledged; False on timeout."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class Watch(Protocol):
    """Follows what becomes of the drill's malformed payloads (simulators.deadletters)."""

    def sent(self, msg: Message) -> None:
        """Note a malformed payload just before it is published."""
        ...

    def finish(self, timeout: float) -> list[dict[str, Any]]:
        """Wait up to `timeout` for the outcome; the records for the drill log."""
        ...


@dataclass
class ListSink:
    """Keeps every message with the wall time it was sent at (for tests and dry runs)."""

    wall: Wall = time.time
    sent: list[tuple[float, Message]] = field(default_factory=list)

    def send(self, msg: Message) -> None:
        """Keep the message."""
        self.sent.append((self.wall(), msg))

    def drain(self, timeout: float) -> bool:
        """Nothing is in flight."""
        return True

    def close(self) -> None:
        """Nothing to release."""


# Messages due within this many wall seconds are sent at once rather than slept for: one wait
# per burst instead of one per message. The anchor is set back by as much again, so a message
# sent early is still stamped before the wall time it leaves at.
EARLY_S = 0.005


def anchor_for(wall_start: float, duration_s: float, speed: float) -> datetime:
    """The timestamp of the drill's second 0 (whole milliseconds), per the module's design."""
    lag = duration_s if speed <= 0 else duration_s * max(0.0, 1.0 - 1.0 / speed) + EARLY_S
    return datetime.fromtimestamp(math.floor((wall_start - lag) * 1000) / 1000, UTC)


@dataclass
class Progress:
    """Counters of a running drill."""

    sim_t: float = 0.0
    sent: int = 0
    readings: int = 0
    malformed: int = 0
    incidents: int = 0
    incidents_total: int = 0
    wall_start: float = 0.0
    wall_now: float = 0.0
    completed: bool = False

    def rate(self) -> float:
        """Messages per wall second so far."""
        elapsed = self.wall_now - self.wall_start
        return self.sent / elapsed if elapsed > 0 else 0.0


def format_progress(p: Progress, sim: Simulation) -> str:
    """One progress line: simulated clock, messages, incidents."""
    hours = sim.world.tod_hours(sim.offset + p.sim_t)
    clock = f"{int(hours):02d}:{int(hours * 60) % 60:02d}:{int(hours * 3600) % 60:02d}"
    done = timedelta(seconds=int(p.sim_t))
    total = timedelta(seconds=int(sim.duration))
    return (
        f"drill {sim.drill.name!r}: sim {clock} (+{done} of {total}), "
        f"{p.sent:,} msgs sent ({p.rate():,.0f}/s), "
        f"{p.incidents}/{p.incidents_total} incidents injected"
    )


class Runner:
    """Paces a simulation's messages into a sink at `speed` x real time."""

    def __init__(
        self,
        sim: Simulation,
        sink: Sink,
        speed: float,
        wall_start: float,
        *,
        wall: Wall = time.time,
        sleep: Sleep = time.sleep,
        log: IO[str] | None = None,
        progress: Callable[[Progress], None] | None = None,
        progress_every: float = 3.0,
        stop: threading.Event | None = None,
        header: dict[str, Any] | None = None,
        watch: Watch | None = None,
        watch_wait_s: float = 5.0,
        operator: Callable[[Message], dict[str, Any]] | None = None,
    ) -> None:
        self.sim = sim
        self.sink = sink
        self.speed = speed
        self.wall = wall
        self.sleep = sleep
        self.log = log
        self.progress = progress
        self.progress_every = progress_every
        self.stop = stop or threading.Event()
        self.state = Progress(
            wall_start=wall_start, incidents_total=len(sim.drill.incidents), wall_now=wall_start
        )
        self.header = header or {}
        self.watch = watch
        self.watch_wait_s = watch_wait_s
        # a drill's scripted operator actions go to it, not to the broker (simulators.operator)
        self.operator = operator
        self._last_report = wall_start

    def _write_log(self, record: dict[str, Any]) -> None:
        if self.log is not None:
            self.log.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.log.flush()

    def _wait_until(self, due: float) -> None:
        while not self.stop.is_set():
            now = self.wall()
            if now >= due:
                return
            self.sleep(min(due - now, 0.25))
            self._tick()

    def _tick(self) -> None:
        now = self.wall()
        self.state.wall_now = now
        if self.progress is not None and now - self._last_report >= self.progress_every:
            self._last_report = now
            self.progress(self.state)

    def run(self) -> Progress:
        """Play the whole drill (or until `stop` is set); returns the final counters."""
        sim, st = self.sim, self.state
        self._write_log(
            {
                "record": "drill",
                **self.header,
                "name": sim.drill.name,
                "event": sim.event,
                "speed": self.speed,
                "start": sim.anchor.isoformat(),
                "end": sim.ts(sim.duration).isoformat(),
                "wall_start": datetime.fromtimestamp(st.wall_start, UTC).isoformat(),
            }
        )
        for n, msg in enumerate(sim.messages()):
            if self.stop.is_set():
                break
            if self.speed > 0:
                due = st.wall_start + msg.t / self.speed
                if due - EARLY_S > self.wall():
                    self._wait_until(due)
            if msg.kind == "malformed" and self.watch is not None:
                self.watch.sent(msg)  # before the publish: its dead letter may come back fast
            if msg.kind == "operator" and self.operator is not None:
                self._write_log(self.operator(msg))
                st.sim_t = msg.t
                continue
            self.sink.send(msg)
            st.sent += 1
            st.sim_t = msg.t
            if msg.kind == "reading":
                st.readings += 1
            elif msg.kind == "malformed":
                st.malformed += 1
            elif msg.kind == "incident":
                record = orjson.loads(msg.payload)
                if record.get("phase") == "start":
                    st.incidents += 1
                    record.pop("phase", None)
                    record.pop("ts", None)
                    self._write_log({"record": "incident", **record})
            if n % 256 == 0:
                self._tick()
        else:
            st.completed = True
        if not st.completed:
            for msg in sim.farewell(st.sim_t):
                self.sink.send(msg)
        self.sink.drain(timeout=30.0)
        st.wall_now = self.wall()
        if self.watch is not None:
            for record in self.watch.finish(timeout=self.watch_wait_s):
                self._write_log(record)
        self._write_log(
            {
                "record": "end",
                "completed": st.completed,
                "sent": st.sent,
                "readings": st.readings,
                "malformed": st.malformed,
                "sim_end": iso(sim.ts(st.sim_t)),
                "wall_end": datetime.fromtimestamp(st.wall_now, UTC).isoformat(),
            }
        )
        if self.progress is not None:
            self.progress(st)
        return st


def stderr_progress(sim: Simulation) -> Callable[[Progress], None]:
    """A progress callback that prints one line to stderr."""

    def show(p: Progress) -> None:
        print(format_progress(p, sim), file=sys.stderr, flush=True)

    return show
