"""The rules service: readings, device status and acknowledgements in over MQTT; alerts out.

Flow: paho's network thread appends each message to a deque; one worker thread parses it and
runs the engine (the only thread that touches the engine, so one subject's readings are
evaluated in arrival order). Every transition is published on `alerts/<alert_id>` first
(retained while active; when resolved, the resolved event and then an empty retained message
that clears it), then handed to the store writer thread (retried with back-off while the store
is down: alerts keep flowing on MQTT) and to the notifiers (their own threads).

One subscription, `opsroom/<event>/+/+`, brings readings, `status/<sensor>` and
`ack/<alert_id>` (subscribing to those separately would deliver them twice); the service's own
alert and counter messages come back on it too and are skipped (MQTT v5 no-local avoids it).

At-least-once, and restarts that neither duplicate nor lose an alert:
- an MQTT message is acknowledged only after the engine state that reflects it is saved. The
  worker serialises the state; a saver thread writes it (temp file, fsync, os.replace), so the
  disk holds up acknowledgements, never alerts. Beside the engine's snapshot the state file
  holds the event clock, the alert messages the broker has not confirmed yet, the
  transitions the store has not written yet and the notifications not delivered yet (queued,
  or cut short by a stop); a restart republishes, rewrites and resends those, and nothing
  else;
- a crash before a save redelivers the messages behind it to the restored engine, which gives
  the same transitions again (same alert id, state and ts: the store ignores the repeat, MQTT
  subscribers and notifiers may see it twice);
- after a save, a redelivered reading is no newer than its subject's newest, and the engine
  ignores it;
- if the state cannot be saved for STATE_GRACE_S, messages are acknowledged anyway (counted
  as `acked_unsaved`): unacknowledged, they would fill the broker's window and stop the alerts.

Retained alerts the broker lost: on start, and on every connection where the broker has no
session for us (it restarted without persistence, or lost it), every active alert is published
retained again, as last sent. It is done once the broker has answered the connection's
SUBSCRIBE, so after paho's resend of unconfirmed messages: an older state never lands last.

Acknowledgements are stamped with the event clock when the service takes them; the sender's
`ts` is kept as `sent_ts`, information only.

Event clock: hold times and silence are judged on event time. The clock is the newest reading
time seen; while the stream is quiet it runs on at wall speed from there (so a venue that
falls silent as a whole is still noticed), and never ahead of the wall clock. Before the first
reading there is none: the engine judges devices that never reported on the wall clock.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

import orjson
import paho.mqtt.client as mqtt
from pydantic import BaseModel, ConfigDict, StrictBool, ValidationError

from opsroom import topics
from opsroom.alerts import Acknowledgement, AlertEvent
from opsroom.clock import Clock, utcnow
from opsroom.mqtt import Protocol as MqttProtocol
from opsroom.mqtt import (
    Received,
    Session,
    ack_current,
    connect_async,
    make_client,
    negotiate_protocol,
)
from opsroom.settings import Settings
from opsroom.store import Store, StoreError
from opsroom.telemetry import Limits, PayloadError, Reading, parse_reading
from opsroom.telemetry.base import Timestamp
from opsroom.unknown import UnknownSensors
from opsroom.venue import Venue
from rules.notify import Dispatcher, NotifierSet

log = logging.getLogger("opsroom.rules")
STATE_VERSION = 1
POLL_S = 0.001  # how long the worker sleeps when there is nothing to do
QUIET_S = 0.002  # a pause this long in the stream saves state at once (acks are waiting)
SAVE_COST_FACTOR = 5  # saves are spaced by at least 5x what serialising the state costs
BATCH = 500  # messages taken off the inbox between housekeeping rounds
STATE_GRACE_S = 30  # how long saves may fail before messages are acknowledged unsaved
TICK_STEP = timedelta(seconds=5)  # event-clock advance that triggers a silence check
STORE_BATCH = 500
STORE_MAX_BACKOFF_S = 30.0
TOPIC_CACHE = 100_000


class EngineLike(Protocol):
    """What the service needs of the rules engine (rules.engine.Engine)."""

    def process(self, reading: Reading) -> list[AlertEvent]:
        """Evaluate one reading (event time = reading.ts)."""
        ...

    def device_status(
        self, sensor_id: str, online: bool, ts: datetime, drill: bool = False
    ) -> list[AlertEvent]:
        """A device said it is online or offline (its last will)."""
        ...

    def tick(self, now: datetime) -> list[AlertEvent]:
        """The event clock advanced to `now`: check for silence."""
        ...

    def tick_unheard(self, wall: datetime) -> list[AlertEvent]:
        """No reading yet, so no event clock: devices never heard from, on the wall clock."""
        ...

    def acknowledge(
        self, alert_id: str, actor: str, note: str | None, ts: datetime
    ) -> AlertEvent | None:
        """Acknowledge an active alert; None if there is none with that id."""
        ...

    def active(self) -> list[AlertEvent]:
        """The latest event of every active alert."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """The engine's state, JSON-serialisable, for a restart."""
        ...


EngineFactory = Callable[[dict[str, Any] | None], EngineLike]


# -- small stages, each tested alone -----------------------------------------------------------


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
            f"status must be online, offline or JSON with state: {_first_problem(exc)}"
        ) from None
    return DeviceStatus(parsed.state == "online", parsed.ts, parsed.drill)


def parse_ack(payload: bytes) -> Acknowledgement:
    """An acknowledgement payload; ValueError says what is wrong with it."""
    try:
        return Acknowledgement.model_validate_json(payload)
    except ValidationError as exc:
        raise ValueError(f"bad acknowledgement: {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    return f"{'.'.join(str(p) for p in first['loc']) or 'payload'}: {first['msg']}"


def alert_messages(event: str, alert: AlertEvent, payload: bytes) -> list[tuple[str, bytes, bool]]:
    """The (topic, payload, retain) publications of one transition (`payload`: its JSON).

    Active: the event, retained (a dashboard that connects later sees it). Resolved: the event,
    not retained, then an empty retained message that clears the retained one (subscribers
    get that empty message too and must skip it).
    """
    topic = topics.alert(event, alert.alert_id)
    if alert.active:
        return [(topic, payload, True)]
    return [(topic, payload, False), (topic, b"", True)]


def write_state(path: Path, data: bytes) -> None:
    """Write `data` atomically: a temp file beside `path`, fsync, then os.replace."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# -- the service ------------------------------------------------------------------------------


@dataclass
class Counters:
    """What the rules service has done since it started (published retained on _sys/rules)."""

    received: int = 0
    readings: int = 0
    invalid: int = 0
    cleared: int = 0  # empty messages on reading topics: a retained reading cleared
    unknown_sensors: int = 0
    statuses: int = 0
    bad_statuses: int = 0
    acks: int = 0
    bad_acks: int = 0
    acks_ignored: int = 0
    engine_errors: int = 0
    ticks: int = 0
    transitions: int = 0
    published: int = 0
    stored: int = 0
    store_errors: int = 0
    store_pending: int = 0
    state_saves: int = 0
    state_errors: int = 0
    acked_unsaved: int = 0
    stale_retained: int = 0
    republished: int = 0
    reconnects: int = 0
    queue_depth: int = 0
    active_alerts: int = 0

    def snapshot(self) -> dict[str, Any]:
        """A copy as a plain dict."""
        return asdict(self)


class RulesService:
    """Rules over MQTT. `start()`, then `stop()`; or `run()` until a stop request.

    `engine` is an engine, or a factory that makes one from a saved state (None: fresh);
    only with a factory does the service restore its state after a restart.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        engine: EngineLike | EngineFactory,
        venue: Venue | None = None,
        *,
        notifiers: NotifierSet | None = None,
        clock: Clock = utcnow,
        client_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.event = settings.event
        self.counters = Counters()
        self.limits = Limits(settings.max_payload_bytes, settings.max_future, settings.max_age)
        self.client_id = client_id or f"opsroom-rules-{settings.event}"
        self.state_file = settings.rules_state_file
        self.dispatcher = Dispatcher(
            notifiers or NotifierSet(), settings.notification_log, clock=clock
        )
        self._engine_arg = engine
        self.engine: EngineLike | None = None
        self.event_clock = EventClock()
        self._known = set(venue.sensors()) if venue is not None else None
        self._known_ids = {sid for _, sid in self._known} if self._known is not None else None
        # ingest dead-letters them in that mode: then they do not move the event clock either
        self._unknown_ignored = settings.unknown_sensors == "deadletter"
        self.unknown = UnknownSensors(
            log,
            "ignored" if self._unknown_ignored else "not evaluated",
            settings.unknown_log_interval_s,
        )
        self._stale_seen: set[str] = set()
        self._topics: dict[str, tuple[str, str] | None] = {}
        # network thread -> worker
        self._inbox: deque[Received] = deque()
        self._confirmed: deque[int] = deque()  # mids the broker confirmed (network thread)
        # worker-owned
        self._unsaved: list[Received] = []  # processed, waiting for a save before their ack
        self._unconfirmed: dict[int, tuple[str, bytes, bool]] = {}
        self._retained: dict[str, bytes] = {}  # alert id -> the active alert's last message
        self._dirty = False  # engine state (or what the state file lists) changed since a save
        self._last_save = 0.0
        self._save_cost = 0.0  # seconds the last state serialisation took
        self._last_message = 0.0
        self._next_tick_wall = 0.0
        self._last_tick: datetime | None = None
        # worker -> saver: the state as JSON and the messages it covers (acked once written)
        self._save_cv = threading.Condition()
        self._save_slot: tuple[bytes, list[Received]] | None = None
        self._save_retry: list[Received] = []  # covered by a save that failed
        self._saving = False
        self._saver_stop = False
        self._save_error: str | None = None
        self._notify_settled = 0  # the dispatcher's settled count at the last state snapshot
        self._failing_since: float | None = None
        # worker -> store writer
        self._store_lock = threading.Lock()
        self._unstored: list[tuple[AlertEvent, bytes]] = []  # with its JSON
        self._store_wake = threading.Event()
        # network thread -> worker: publish every active alert retained again
        self._republish_pending = False  # network thread only
        self._republish_due = threading.Event()
        # lifecycle
        self._accepting = threading.Event()
        self._stopping = threading.Event()
        self._store_stop = threading.Event()
        self.session = Session(
            settings,
            self._subscribe,
            self.counters,
            self._stopping,
            service="rules",
            client_id=self.client_id,
            clock=clock,
            on_ready=self._on_ready,
        )
        self._worker: threading.Thread | None = None
        self._store_thread: threading.Thread | None = None
        self._saver: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self.protocol: MqttProtocol | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Restore the saved state, connect (reconnecting in the background), start workers."""
        self.protocol = negotiate_protocol(self.settings)
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        state = self._load_state()
        self.engine = self._make_engine(state)
        client = make_client(
            self.settings, self.client_id, self.protocol, persistent=True, manual_ack=True
        )
        self.session.attach(client)
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self._client = client
        if state is not None:
            self._resume(state)
        self.dispatcher.start()
        self._accepting.set()
        self._store_thread = threading.Thread(
            target=self._store_loop, name="rules-store", daemon=True
        )
        self._store_thread.start()
        self._saver = threading.Thread(target=self._save_loop, name="rules-saver", daemon=True)
        self._saver.start()
        self._worker = threading.Thread(target=self._work_loop, name="rules-worker", daemon=True)
        self._worker.start()
        log.info(
            "rules: event %s, broker %s (MQTT %s), state %s, notifiers: %s",
            self.event,
            self.settings.mqtt,
            self.protocol,
            self.state_file,
            ", ".join(self.dispatcher.notifiers) or "none",
        )
        connect_async(client, self.settings, self.protocol, persistent=True)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """True once the broker has confirmed the subscription (and _sys/rules says ready)."""
        return self.session.connected.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what was taken, save the state, flush store and notifiers, leave the broker."""
        self._accepting.clear()
        self._stopping.set()
        deadline = time.monotonic() + timeout
        worker_done = True
        if self._worker is not None:
            self._worker.join(timeout)
            worker_done = not self._worker.is_alive()
        # the broker's confirmations of the last alert messages, so that a restart does not
        # publish them again
        confirm_by = min(deadline, time.monotonic() + 2.0)
        while self._unconfirmed and time.monotonic() < confirm_by:
            self._drain_confirmations()
            time.sleep(0.01)
        self._drain_confirmations()
        self._store_stop.set()
        self._store_wake.set()
        if self._store_thread is not None:
            self._store_thread.join(max(0.5, deadline - time.monotonic()))
        with self._save_cv:
            self._saver_stop = True
            self._save_cv.notify()
        if self._saver is not None:
            self._saver.join(max(0.5, deadline - time.monotonic()))
        # queued notifications get one attempt each; what they leave is in the final save
        self.dispatcher.close(max(0.5, deadline - time.monotonic()))
        if worker_done and self.engine is not None:
            # what is still unconfirmed, unstored or unnotified is redone on the next start
            if self._save_now():
                self._ack(self._save_retry + self._unsaved)
                self._save_retry, self._unsaved = [], []
        else:
            log.error("the rules worker did not stop in time; state not saved")
        self._publish_counters(state="stopped")
        if self._client is not None:
            self.session.leave(self._client)
        self.unknown.flush(force=True)
        log.info("rules stopped: %s", self._counter_line())

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set (the CLI sets it on SIGINT/SIGTERM)."""
        self.start()
        stop.wait()
        self.stop()

    # -- state -----------------------------------------------------------------------------

    def _load_state(self) -> dict[str, Any] | None:
        path = self.state_file
        if not callable(self._engine_arg) or not path.exists():
            return None
        try:
            state = orjson.loads(path.read_bytes())
            if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
                raise ValueError(f"not a version {STATE_VERSION} rules state")
            if state.get("event") != self.event:
                raise ValueError(f"state of event {state.get('event')!r}, not {self.event!r}")
        except (OSError, ValueError) as exc:  # orjson.JSONDecodeError is a ValueError
            self._set_aside(path, str(exc))
            return None
        return state

    def _set_aside(self, path: Path, reason: str) -> None:
        aside = path.with_name(f"{path.name}.bad-{int(time.time())}")
        log.error(
            "cannot use the saved rules state %s (%s); moved it to %s and starting afresh: "
            "alerts active before the restart are raised again when their conditions hold",
            path,
            reason,
            aside,
        )
        try:
            os.replace(path, aside)
        except OSError as exc:
            log.error("cannot move %s aside: %s", path, exc)

    def _make_engine(self, state: dict[str, Any] | None) -> EngineLike:
        arg = self._engine_arg
        if not callable(arg):
            return arg
        if state is None:
            return arg(None)
        try:
            return arg(state.get("engine"))
        except Exception as exc:  # whatever the engine makes of a state it cannot read
            self._set_aside(self.state_file, f"the engine refused it: {exc!r}")
            return arg(None)

    def _resume(self, state: dict[str, Any]) -> None:
        """Take the clock, the unconfirmed alert messages and the unstored transitions."""
        try:
            clock = state.get("clock")
            newest = datetime.fromisoformat(clock) if clock else None
            republish = [(str(t), str(p).encode(), bool(r)) for t, p, r in state["unconfirmed"]]
            unstored = [AlertEvent.model_validate(e) for e in state["unstored"]]
            unnotified = [
                (str(name), AlertEvent.model_validate(e)) for name, e in state.get("unnotified", [])
            ]
            retained = {str(k): str(v).encode() for k, v in state.get("retained", {}).items()}
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # pydantic's too
            log.error("the saved rules state %s is damaged (%s): not resumed", self.state_file, exc)
            return
        if newest is not None:
            self.event_clock = EventClock(newest, self.clock())
        for topic, payload, retain in republish:
            self._publish(topic, payload, retain)  # paho sends them once connected
        self._retained = retained
        with self._store_lock:
            self._unstored.extend((e, e.model_dump_json().encode()) for e in unstored)
        for name, event in unnotified:  # queued before the dispatcher starts: sent first
            self.dispatcher.submit(event, only=name)
        active = self.engine.active() if self.engine is not None else []
        self.counters.active_alerts = len(active)
        log.info(
            "restored rules state from %s: %d active alerts, event clock %s; "
            "%d alert messages to republish, %d transitions to store, %d notifications to send",
            self.state_file,
            len(active),
            clock,
            len(republish),
            len(unstored),
            len(unnotified),
        )

    def _state_bytes(self) -> bytes:
        """The state as JSON; on the worker's side only (it reads the engine)."""
        assert self.engine is not None
        clock = self.event_clock.now(self.clock())
        with self._store_lock:
            unstored = [orjson.Fragment(payload) for _, payload in self._unstored]
        notify_pending = self.dispatcher.pending()
        self._notify_settled = self.dispatcher.settled_count
        return orjson.dumps(
            {
                "version": STATE_VERSION,
                "event": self.event,
                "saved_at": self.clock().isoformat(),
                "clock": clock.isoformat() if clock else None,
                "engine": self.engine.snapshot(),
                "unconfirmed": [(t, p.decode(), r) for t, p, r in self._unconfirmed.values()],
                "unstored": unstored,
                "unnotified": [
                    (name, orjson.Fragment(e.model_dump_json())) for name, e in notify_pending
                ],
                "retained": {k: v.decode() for k, v in self._retained.items()},
            }
        )

    def _save_failed(self, exc: Exception) -> None:
        self.counters.state_errors += 1
        self._dirty = True
        if self._failing_since is None:
            self._failing_since = time.monotonic()
        reason = str(exc)
        if reason != self._save_error:  # once per kind of failure, not every 50 ms
            log.error(
                "cannot save the rules state to %s: %s (messages stay unacknowledged for up to "
                "%d s, then are acknowledged anyway: a crash meanwhile can lose their effect)",
                self.state_file,
                reason,
                STATE_GRACE_S,
            )
        self._save_error = reason

    def _saved(self) -> None:
        self.counters.state_saves += 1
        self._failing_since = None
        if self._save_error is not None:
            log.info("rules state saved to %s again", self.state_file)
            self._save_error = None

    def _save_now(self) -> bool:
        """Save on this thread (at stop, when the worker and the saver are done)."""
        try:
            write_state(self.state_file, self._state_bytes())
        except (OSError, TypeError) as exc:  # TypeError: the snapshot is not JSON
            self._save_failed(exc)
            return False
        self._saved()
        return True

    def _hand_over_save(self) -> None:
        """Serialise the state and hand it to the saver with the messages it covers.

        Writing and fsync-ing take milliseconds: on the saver's thread they hold up neither
        the readings nor the alerts behind them, only the acknowledgements.
        """
        with self._save_cv:
            if self._save_slot is not None or self._saving:
                return  # the next save takes everything since
        self._last_save = started = time.monotonic()
        try:
            data = self._state_bytes()
        except TypeError as exc:
            self._save_failed(exc)
            return
        self._save_cost = time.monotonic() - started
        with self._save_cv:
            self._save_slot = (data, self._save_retry + self._unsaved)
            self._save_retry, self._unsaved = [], []
            self._dirty = False  # before the saver can fail it and set it again
            self._save_cv.notify()

    def _save_loop(self) -> None:
        while True:
            with self._save_cv:
                while self._save_slot is None and not self._saver_stop:
                    self._save_cv.wait(0.5)
                if self._save_slot is None:
                    return
                (data, msgs), self._save_slot = self._save_slot, None
                self._saving = True
            try:
                write_state(self.state_file, data)
            except OSError as exc:
                self._save_failed(exc)
                if time.monotonic() - (self._failing_since or 0.0) >= STATE_GRACE_S:
                    # Alerts matter more than exactly-once: unacknowledged, the messages would
                    # fill the broker's window and stop the readings (and the alerts) behind them.
                    self.counters.acked_unsaved += len(msgs)
                    self._ack(msgs)
                else:
                    with self._save_cv:
                        self._save_retry = msgs + self._save_retry
            else:
                self._saved()
                self._ack(msgs)
            finally:
                with self._save_cv:
                    self._saving = False

    # -- paho callbacks (network thread): never raise, never block for long -----------------

    def _subscribe(self, client: mqtt.Client) -> None:
        # the first connection, or a broker that kept no session for us: it may well have lost
        # its retained messages too (a restart without persistence), so republish the alerts
        if self.session.generation == 1 or not self.session.session_present:
            self._republish_pending = True
        # noLocal (v5): the alerts this service publishes do not come back to it
        self.session.subscribe(client, topics.readings_filter(self.event), qos=1, no_local=True)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if not self._accepting.is_set():
            return  # not acknowledged: the broker redelivers it to the next session
        while len(self._inbox) >= self.settings.queue_size and self._accepting.is_set():
            time.sleep(0.005)  # back-pressure: the broker holds the rest
        self._inbox.append(
            Received(
                self.session.generation,
                message.mid,
                message.qos,
                message.topic,
                bytes(message.payload),
                bool(message.retain),
            )
        )

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any
    ) -> None:
        self._confirmed.append(mid)

    def _on_ready(self, client: mqtt.Client) -> None:
        # the SUBACK comes after paho has resent the unconfirmed messages of the connection
        # (it does that right after on_connect): what the worker republishes now goes out last
        if self._republish_pending:
            self._republish_pending = False
            self._republish_due.set()

    # -- worker thread ---------------------------------------------------------------------

    def _work_loop(self) -> None:
        inbox = self._inbox
        interval = self.settings.rules_save_interval_s
        next_stats = time.monotonic() + self.settings.stats_interval_s
        while True:
            n = 0
            while inbox and n < BATCH:
                self._handle(inbox.popleft())
                n += 1
            mono = time.monotonic()
            if n:
                self._last_message = mono
            self._drain_confirmations()
            if self._republish_due.is_set():
                self._republish_due.clear()
                self._republish_active()
            if self.dispatcher.settled_count != self._notify_settled:
                self._dirty = True  # a notification went out (or was given up): not resent
            if mono >= self._next_tick_wall:
                self._tick(self.clock())
            if self._unsaved or self._dirty:
                if not self._dirty:
                    self._ack(self._unsaved)  # nothing changed: nothing to save first
                    self._unsaved = []
                else:
                    # a big venue's snapshot takes tens of ms of this thread: space saves
                    # so that they take at most 1/SAVE_COST_FACTOR of it
                    since = mono - self._last_save
                    cost = SAVE_COST_FACTOR * self._save_cost
                    quiet = self._unsaved and not inbox and mono - self._last_message >= QUIET_S
                    if since >= max(interval, cost) or (quiet and since >= cost):
                        self._hand_over_save()
            if mono >= next_stats:
                next_stats = mono + self.settings.stats_interval_s
                self._publish_counters()
                log.info("rules: %s", self._counter_line())
                self.unknown.flush()
            if self._stopping.is_set() and not inbox:
                break
            if not n:
                time.sleep(POLL_S)

    def _ack(self, msgs: list[Received]) -> None:
        ack_current(self._client, msgs, self.session.generation)

    def _route(self, topic: str) -> tuple[str, str] | None:
        """(kind or 'status' or 'ack', id) of a topic that is ours to handle, else None."""
        if topic in self._topics:
            return self._topics[topic]
        result: tuple[str, str] | None = None
        parsed = topics.parse_reading(topic)
        if parsed is not None:
            if parsed.event == self.event:
                result = (parsed.kind, parsed.sensor_id)
                if self._known is not None and result not in self._known:
                    return result  # not cached: a flood of made-up ids would fill the cache
        elif (sensor := topics.parse_status(topic, self.event)) is not None:
            result = ("status", sensor)
            if self._known_ids is not None and sensor not in self._known_ids:
                return result
        elif (alert_id := topics.parse_ack(topic, self.event)) is not None:
            result = ("ack", alert_id)
        if len(self._topics) >= TOPIC_CACHE:
            self._topics.clear()
        self._topics[topic] = result
        return result

    def _handle(self, msg: Received) -> None:
        """Run one message through the engine; bad input is counted and logged, never raised."""
        self._unsaved.append(msg)
        route = self._route(msg.topic)
        if route is None:
            if msg.retain and msg.payload:
                self._check_retained_alert(msg)
            return  # our own alerts and counters, drill announcements: not ours to handle
        self.counters.received += 1
        what, ident = route
        if len(msg.payload) > self.limits.max_bytes:
            self._oversized(what, msg)  # before any parsing: its size is reason enough
            return
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
            return
        if events:
            self._emit(events)

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
        self._dirty = True
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
        ts = status.ts or self._event_now()
        assert self.engine is not None
        self._dirty = True
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
        self._dirty = True
        # the event clock, not the sender's: a sender's time in the future would sort the
        # acknowledgement after the resolution (the alert would look active for ever), one in
        # the past would fake a quick response in a drill's report
        event = self.engine.acknowledge(alert_id, ack.actor, ack.note, self._event_now())
        if event is None:
            self.counters.acks_ignored += 1
            log.info("acknowledgement by %s of %s: no such active alert", ack.actor, alert_id)
            return []
        log.info("alert %s acknowledged by %s", alert_id, ack.actor)
        return [event.model_copy(update={"sent_ts": ack.ts})] if ack.ts else [event]

    def _event_now(self) -> datetime:
        wall = self.clock()
        return self.event_clock.now(wall) or wall

    def _tick(self, wall: datetime) -> None:
        try:
            events = self._tick_events(wall)
        except Exception:  # as in _handle: an engine bug is logged loudly, never fatal
            self.counters.engine_errors += 1
            log.exception("the rules engine failed on a silence check")
            return
        if events:
            self._emit(events)

    def _tick_events(self, wall: datetime) -> list[AlertEvent]:
        """Silence check at the event clock's time."""
        self._next_tick_wall = time.monotonic() + self.settings.rules_tick_s
        now = self.event_clock.now(wall)
        assert self.engine is not None
        if now is None:  # no reading yet: a venue that never reports is noticed on the wall clock
            return self.engine.tick_unheard(wall)
        self._last_tick = now
        self.counters.ticks += 1
        return self.engine.tick(now)  # no save for a quiet tick: its transitions ask for one

    def _emit(self, events: list[AlertEvent]) -> None:
        """Publish (MQTT first), then queue for the store and the notifiers."""
        wall = self.clock()
        stamped = [
            e if e.recorded_at else e.model_copy(update={"recorded_at": wall}) for e in events
        ]
        done = []
        for event in stamped:
            payload = event.model_dump_json().encode()
            for topic, body, retain in alert_messages(self.event, event, payload):
                self._publish(topic, body, retain)
            if event.active:
                self._retained[event.alert_id] = payload
            else:
                self._retained.pop(event.alert_id, None)
            done.append((event, payload))
            # DEBUG: a storm of transitions must not cost a log line each; the store, MQTT
            # and the counters line have them
            log.debug(
                "alert %s %s (%s): %s", event.alert_id, event.state, event.severity, event.message
            )
        with self._store_lock:
            self._unstored.extend(done)
        self._store_wake.set()
        for event in stamped:
            self.dispatcher.submit(event)
        self.counters.transitions += len(stamped)
        self._dirty = True

    def _republish_active(self) -> None:
        """Publish every active alert retained again, as it was last sent."""
        assert self.engine is not None
        active = self.engine.active()
        # what the service sent (stamped, with the acknowledgement's sent_ts), else the engine's
        kept = self._retained
        self._retained = {
            a.alert_id: kept.get(a.alert_id) or a.model_dump_json().encode() for a in active
        }
        for alert_id, payload in self._retained.items():
            self._publish(topics.alert(self.event, alert_id), payload, True)
        self.counters.republished += len(active)
        self._dirty = True  # the state's list of unconfirmed messages changed
        log.info(
            "republished %d active alerts retained (%s)",
            len(active),
            "first connection" if self.session.generation <= 1 else "the broker had no session",
        )

    def _publish(self, topic: str, payload: bytes, retain: bool) -> None:
        client = self._client
        assert client is not None
        info = client.publish(topic, payload, qos=1, retain=retain)
        # confirmations are drained on this thread, so the mid is registered before its turn
        self._unconfirmed[info.mid] = (topic, payload, retain)

    def _drain_confirmations(self) -> None:
        confirmed = self._confirmed
        while confirmed:
            mid = confirmed.popleft()
            if self._unconfirmed.pop(mid, None) is not None:
                self.counters.published += 1
                self._dirty = True  # the state's list of unconfirmed messages changed

    # -- store writer thread ---------------------------------------------------------------

    def _store_loop(self) -> None:
        delay = 0.2
        while True:
            with self._store_lock:
                batch = [event for event, _ in self._unstored[:STORE_BATCH]]
            if not batch:
                if self._store_stop.is_set():
                    return
                self._store_wake.wait(0.2)
                self._store_wake.clear()
                continue
            try:
                self.store.write_alert_events(batch)
            except StoreError as exc:
                self.counters.store_errors += 1
                log.error(
                    "store write of %d alert events failed: %s (retry in %.1f s; alerts still "
                    "go out on MQTT)",
                    len(batch),
                    exc,
                    delay,
                )
                if self._store_stop.wait(delay):
                    return  # the rest is saved with the state and written on the next start
                delay = min(delay * 2, STORE_MAX_BACKOFF_S)
                continue
            delay = 0.2
            with self._store_lock:
                del self._unstored[: len(batch)]
                self.counters.store_pending = len(self._unstored)
            self.counters.stored += len(batch)
            self._dirty = True  # the state's list of unstored transitions changed

    # -- counters ----------------------------------------------------------------------------

    def _publish_counters(self, state: str | None = None) -> None:
        """The counters, in the session's retained status document on _sys/rules."""
        client = self._client
        if client is None:
            return
        self.counters.queue_depth = len(self._inbox)
        if self.engine is not None:
            self.counters.active_alerts = len(self.engine.active())
        with self._store_lock:
            self.counters.store_pending = len(self._unstored)
        clock = self.event_clock.now(self.clock())
        body = {
            **self.counters.snapshot(),
            "notifications": self.dispatcher.counters(),
            "event_clock": clock.isoformat() if clock else None,
        }
        self.session.publish_status(client, body, state=state)

    def _counter_line(self) -> str:
        c = self.counters
        return (
            f"received={c.received} readings={c.readings} invalid={c.invalid} "
            f"transitions={c.transitions} acks={c.acks} bad_acks={c.bad_acks} "
            f"stored={c.stored} store_errors={c.store_errors} state_saves={c.state_saves} "
            f"queue={len(self._inbox)}"
        )
