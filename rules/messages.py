"""What the rules service makes of a message: readings, device status and acknowledgements.

`Intake` routes each message by its topic, parses it (bad input is counted and logged, never
raised) and runs it through the engine; it returns the engine's transitions, which the service
hands to the alert writer. It is used on the worker thread only (the only thread that touches
the engine, so one subject's readings are evaluated in arrival order). `EventClock` is the
event's clock that hold times and silence are judged on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, StrictBool, ValidationError

from opsroom import topics
from opsroom.alerts import Acknowledgement, AlertEvent
from opsroom.clock import Clock, utcnow
from opsroom.configfile import first_problem
from opsroom.mqtt import Received
from opsroom.service import TopicCache
from opsroom.settings import Settings
from opsroom.telemetry import Limits, PayloadError, parse_reading
from opsroom.telemetry.base import Timestamp
from opsroom.unknown import UnknownSensors
from opsroom.venue import Venue

if TYPE_CHECKING:
    from rules.service import Counters, EngineLike

log = logging.getLogger("opsroom.rules")
TICK_STEP = timedelta(seconds=5)  # event-clock advance that triggers a silence check
# (kind or 'status' or 'ack', id) of a topic that is ours to handle, else None
Route = tuple[str, str] | None


class EventClock:
    """The event's clock: the newest reading time, run on at wall speed while the stream is
    quiet, never ahead of the wall clock, never backwards."""

    def __init__(self, newest: datetime | None = None, wall: datetime | None = None) -> None:
        self._base = newest
        self._base_wall = wall or utcnow()

    def observe(self, ts: datetime, wall: datetime) -> None:
        """A reading stamped `ts` arrived at wall time `wall`."""
        current = self.now(wall)
        if current is None or ts > current:
            self._base, self._base_wall = ts, wall

    def now(self, wall: datetime) -> datetime | None:
        """Event time at wall time `wall`; None before any reading."""
        base = self._base
        if base is None:
            return None
        run_on = base + max(wall - self._base_wall, timedelta(0))
        return max(base, min(run_on, wall))


class DeviceStatus(NamedTuple):
    """A parsed status message."""

    online: bool
    ts: datetime | None
    drill: bool


class _StatusJson(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    state: Literal["online", "offline"]
    ts: Timestamp | None = None
    drill: StrictBool = False


def parse_status(payload: bytes) -> DeviceStatus | None:
    """`online`/`offline`, or JSON {"state": ..., "ts"?, "drill"?}; None for an empty payload.

    ValueError says why anything else is refused.
    """
    text = payload.strip()
    if not text:
        return None  # a cleared retained status
    word = text.lower()
    if word in (b"online", b"offline"):
        return DeviceStatus(word == b"online", None, False)
    try:
        parsed = _StatusJson.model_validate_json(text)
    except ValidationError as exc:
        raise ValueError(
            f"status must be online, offline or JSON with state: {first_problem(exc)}"
        ) from None
    return DeviceStatus(parsed.state == "online", parsed.ts, parsed.drill)


def parse_ack(payload: bytes) -> Acknowledgement:
    """An acknowledgement payload; ValueError says what is wrong with it."""
    try:
        return Acknowledgement.model_validate_json(payload)
    except ValidationError as exc:
        raise ValueError(f"bad acknowledgement: {first_problem(exc)}") from None


class Intake:
    """Messages in, transitions out: routing, parsing, the engine, the event clock, ticks.

    `engine` is set by the service once it has made it (from the saved state); `changed()` is
    called whenever the engine's state changed (the state needs saving).
    """

    def __init__(
        self,
        settings: Settings,
        counters: Counters,
        unknown: UnknownSensors,
        venue: Venue | None,
        changed: Callable[[], None],
        clock: Clock = utcnow,
    ) -> None:
        self.settings = settings
        self.event = settings.event
        self.counters = counters
        self.unknown = unknown
        self.clock = clock
        self._changed = changed
        self.limits = Limits(settings.max_payload_bytes, settings.max_future, settings.max_age)
        self.engine: EngineLike | None = None
        self.event_clock = EventClock()
        self._known = set(venue.sensors()) if venue is not None else None
        self._known_ids = {sid for _, sid in self._known} if self._known is not None else None
        # ingest dead-letters them in that mode: then they do not move the event clock either
        self._unknown_ignored = settings.unknown_sensors == "deadletter"
        self._stale_seen: set[str] = set()
        self.topics: TopicCache[Route] = TopicCache(self._parse_topic)
        self.next_tick_wall = 0.0
        self._last_tick: datetime | None = None

    def _parse_topic(self, topic: str) -> tuple[Route, bool]:
        """The route of a topic, and whether to cache it (not for a sensor the venue lacks)."""
        result: Route = None
        parsed = topics.parse_reading(topic)
        if parsed is not None:
            if parsed.event == self.event:
                result = (parsed.kind, parsed.sensor_id)
                if self._known is not None and result not in self._known:
                    return result, False  # a flood of made-up ids would fill the cache
        elif (sensor := topics.parse_status(topic, self.event)) is not None:
            result = ("status", sensor)
            if self._known_ids is not None and sensor not in self._known_ids:
                return result, False
        elif (alert_id := topics.parse_ack(topic, self.event)) is not None:
            result = ("ack", alert_id)
        return result, True

    def handle(self, msg: Received) -> list[AlertEvent]:
        """Run one message through the engine; bad input is counted and logged, never raised."""
        route = self.topics[msg.topic]
        if route is None:
            if msg.retain and msg.payload:
                self._check_retained_alert(msg)
            return []  # our own alerts and counters, drill announcements: not ours to handle
        self.counters.received += 1
        what, ident = route
        if len(msg.payload) > self.limits.max_bytes:
            self._oversized(what, msg)  # before any parsing: its size is reason enough
            return []
        try:
            if what == "status":
                events = self._status(ident, msg)
            elif what == "ack":
                events = self._acknowledge(ident, msg)
            else:
                events = self._reading(what, ident, msg)
        except Exception:  # an engine bug must not stop the service; the message is dropped
            self.counters.engine_errors += 1
            log.exception("the rules engine failed on a message from %s", msg.topic)
            return []
        return events

    def _oversized(self, what: str, msg: Received) -> None:
        why = f"payload is {len(msg.payload)} bytes, over the {self.limits.max_bytes} limit"
        if what == "status":
            self.counters.bad_statuses += 1
        elif what == "ack":
            self.counters.bad_acks += 1
        else:
            self.counters.invalid += 1  # ingest dead-letters it; here it is only counted
            log.debug("ignored a reading on %s: %s", msg.topic, why)
            return
        log.warning("ignored a %s message on %s: %s", what, msg.topic, why)

    def _check_retained_alert(self, msg: Received) -> None:
        """A retained alert the engine does not know: its state was lost (or another rules
        process owns it). Reported, not cleared: clearing another process's alert is worse."""
        alert_id = topics.parse_alert(msg.topic, self.event)
        if alert_id is None or self.engine is None or alert_id in self._stale_seen:
            return
        if alert_id not in {a.alert_id for a in self.engine.active()}:
            self._stale_seen.add(alert_id)
            self.counters.stale_retained += 1
            log.warning(
                "alert %s is retained on the broker as active but this rules service does not "
                "track it (its state was lost?); clear it by publishing an empty retained "
                "message on %s",
                alert_id,
                msg.topic,
            )

    def _reading(self, kind: str, sensor_id: str, msg: Received) -> list[AlertEvent]:
        wall = self.clock()
        if not topics.valid_id(sensor_id):
            self.counters.invalid += 1
            return []
        if not msg.payload:  # a device clearing its retained reading (as ingest counts it)
            self.counters.cleared += 1
            return []
        try:
            reading = parse_reading(kind, sensor_id, msg.payload, wall, self.limits)
        except PayloadError as exc:
            self.counters.invalid += 1  # ingest dead-letters it; here it is only counted
            log.debug("ignored an invalid reading on %s: %s", msg.topic, exc.reason)
            return []
        self.counters.readings += 1
        if self._known is not None and (kind, sensor_id) not in self._known:
            self.counters.unknown_sensors += 1
            self.unknown.note(kind, sensor_id)
            if self._unknown_ignored:
                return []
        self.event_clock.observe(reading.ts, wall)
        assert self.engine is not None
        self._changed()
        events = self.engine.process(reading)
        last = self._last_tick
        if last is None or reading.ts - last >= TICK_STEP:
            events = events + self._tick_events(wall)  # a backlog's silences, in event time
        return events

    def _status(self, sensor_id: str, msg: Received) -> list[AlertEvent]:
        try:
            status = parse_status(msg.payload)
        except ValueError as exc:
            self.counters.bad_statuses += 1
            log.warning("ignored a status message on %s: %s", msg.topic, exc)
            return []
        if status is None:
            return []
        self.counters.statuses += 1
        ts = status.ts or self.event_now()
        assert self.engine is not None
        self._changed()
        return self.engine.device_status(sensor_id, status.online, ts, status.drill)

    def _acknowledge(self, alert_id: str, msg: Received) -> list[AlertEvent]:
        try:
            ack = parse_ack(msg.payload)
        except ValueError as exc:
            self.counters.bad_acks += 1
            log.warning("ignored an acknowledgement on %s: %s", msg.topic, exc)
            return []
        self.counters.acks += 1
        assert self.engine is not None
        self._changed()
        # the event clock, not the sender's: a sender's time in the future would sort the
        # acknowledgement after the resolution (the alert would look active for ever), one in
        # the past would fake a quick response in a drill's report
        event = self.engine.acknowledge(alert_id, ack.actor, ack.note, self.event_now())
        if event is None:
            self.counters.acks_ignored += 1
            log.info("acknowledgement by %s of %s: no such active alert", ack.actor, alert_id)
            return []
        log.info("alert %s acknowledged by %s", alert_id, ack.actor)
        return [event.model_copy(update={"sent_ts": ack.ts})] if ack.ts else [event]

    def event_now(self) -> datetime:
        """The event clock's time now (the wall clock's before any reading)."""
        wall = self.clock()
        return self.event_clock.now(wall) or wall

    def tick(self, wall: datetime) -> list[AlertEvent]:
        """The silence check that is due (see `next_tick_wall`); never raises."""
        try:
            return self._tick_events(wall)
        except Exception:  # as in handle: an engine bug is logged loudly, never fatal
            self.counters.engine_errors += 1
            log.exception("the rules engine failed on a silence check")
            return []

    def _tick_events(self, wall: datetime) -> list[AlertEvent]:
        """Silence check at the event clock's time."""
        self.next_tick_wall = time.monotonic() + self.settings.rules_tick_s
        now = self.event_clock.now(wall)
        assert self.engine is not None
        if now is None:  # no reading yet: a venue that never reports is noticed on the wall clock
            return self.engine.tick_unheard(wall)
        self._last_tick = now
        self.counters.ticks += 1
        return self.engine.tick(now)  # no save for a quiet tick: its transitions ask for one
