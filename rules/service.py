"""The rules service: readings, device status and acknowledgements in over MQTT; alerts out.

Under 600 lines, a tenth of it this overview: this module is only the loop and the
wiring; its parts are rules.messages (what a message does to the engine), rules.writer (where
transitions go), rules.state (the state file) and the kernel's opsroom.service (session,
inbox, counters and status shared with ingest).

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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, NamedTuple, Protocol

import orjson
import paho.mqtt.client as mqtt

from opsroom import topics
from opsroom.alerts import AlertEvent
from opsroom.clock import Clock, utcnow
from opsroom.controllog.model import category_of, service_entry
from opsroom.mqtt import Protocol as MqttProtocol
from opsroom.mqtt import Received
from opsroom.plans import PlanSet
from opsroom.service import Counters as BaseCounters
from opsroom.service import ServiceCore
from opsroom.settings import Settings
from opsroom.silences import Known, Silence
from opsroom.store import Store
from opsroom.telemetry import Reading
from opsroom.venue import Venue
from rules.escalation import Escalation, Escalator
from rules.messages import EventClock, Intake
from rules.notify import Dispatcher, NotifierSet
from rules.silencer import SilenceBook
from rules.state import StateSaver, encode_state, load_state, read_resumable, set_aside
from rules.writer import AlertWriter

log = logging.getLogger("opsroom.rules")
POLL_S = 0.001  # how long the worker sleeps when there is nothing to do
QUIET_S = 0.002  # a pause this long in the stream saves state at once (acks are waiting)
BATCH = 500  # messages taken off the inbox between housekeeping rounds


class _Marker(NamedTuple):
    """An inbox item that is not a message: a step of the republish, in order with them."""

    step: str  # "snapshot" (at CONNACK) or "republish" (at SUBACK)


_SNAPSHOT = _Marker("snapshot")
_REPUBLISH = _Marker("republish")


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


@dataclass
class Counters(BaseCounters):
    """What the rules service has done since it started (published retained on _sys/rules);
    `received`, `unknown_sensors`, `reconnects` and `queue_depth` come from the kernel's."""

    LINE: ClassVar[tuple[str, ...]] = (
        "received",
        "readings",
        "invalid",
        "transitions",
        "acks",
        "bad_acks",
        "stored",
        "store_errors",
        "state_saves",
    )

    readings: int = 0
    invalid: int = 0
    cleared: int = 0  # empty messages on reading topics: a retained reading cleared
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
    active_alerts: int = 0
    escalations: int = 0
    silenced: int = 0  # transitions a silence held back from the notifiers
    silences: int = 0  # silence messages taken
    bad_silences: int = 0


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
        known: Known | None = None,
        plans: PlanSet | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.event = settings.event
        self.counters = Counters()
        self.state_file = settings.rules_state_file
        self.dispatcher = Dispatcher(
            notifiers or NotifierSet(), settings.notification_log, clock=clock
        )
        self._engine_arg = engine
        self.engine: EngineLike | None = None
        self.core: ServiceCore[Received | _Marker] = ServiceCore(
            settings,
            "rules",
            log,
            self.counters,
            self._subscribe,
            # ingest dead-letters them in that mode: then they do not move the event clock
            unknown="ignored" if settings.unknown_sensors == "deadletter" else "not evaluated",
            client_id=client_id,
            clock=clock,
            on_ready=self._on_ready,
            status_extra=self._status_extra,
            report_at_start=False,
        )
        self.client_id = self.core.client_id
        self.session = self.core.session
        self.unknown = self.core.unknown
        self._inbox = self.core.inbox
        self._stopping = self.core.stopping
        self.saver = StateSaver(
            self.state_file, self.counters, self.core.ack, settings.rules_save_interval_s
        )
        self.intake = Intake(
            settings, self.counters, self.unknown, venue, self.saver.mark, clock=clock
        )
        self._topics = self.intake.topics
        self.writer = AlertWriter(
            self.core, store, self.dispatcher, self.counters, self.saver.mark, clock=clock
        )
        self.known = known
        self.silences = SilenceBook(known)
        self.writer.silence = self.silences.stamp
        self.writer.plans = plans
        self.escalator = Escalator(self.dispatcher.escalation)
        self._silence_prefix = topics.silence(self.event, "")
        self._last_message = 0.0
        self._notify_settled = 0  # the dispatcher's settled count at the last state snapshot
        # network thread -> worker: publish every active alert retained again
        self._republish_pending = False  # network thread only
        self._worker: threading.Thread | None = None

    @property
    def protocol(self) -> MqttProtocol | None:
        """The MQTT protocol in use (after `start()`)."""
        return self.core.protocol

    @property
    def event_clock(self) -> EventClock:
        """The event's clock (the intake's)."""
        return self.intake.event_clock

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Restore the saved state, connect (reconnecting in the background), start workers."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.core.open(self._on_message)
        state = load_state(self.state_file, self.event) if callable(self._engine_arg) else None
        self.engine = self.intake.engine = self._make_engine(state)
        if state is not None:
            self._resume(state)
            self._resume_escalation(state)
        if self.escalator:
            # firing before the policy existed (or before a state that kept none): timed from
            # when each fired, so one unacknowledged for long reaches its tier at once
            tracked = self.escalator.tracked
            for alert in self.engine.active():
                if alert.alert_id not in tracked:
                    self.escalator.observe(alert)
        self.dispatcher.start()
        self.core.accepting.set()
        self.writer.start()
        self.saver.start()
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
        self.core.connect()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """True once the broker has confirmed the subscription (and _sys/rules says ready)."""
        return self.core.wait_connected(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what was taken, save the state, flush store and notifiers, leave the broker."""
        self.core.halt()
        deadline = time.monotonic() + timeout
        worker_done = True
        if self._worker is not None:
            self._worker.join(timeout)
            worker_done = not self._worker.is_alive()
        # the broker's confirmations of the last alert messages, so that a restart does not
        # publish them again
        confirm_by = min(deadline, time.monotonic() + 2.0)
        while self.writer.unconfirmed and time.monotonic() < confirm_by:
            self.writer.drain_confirmations()
            time.sleep(0.01)
        self.writer.drain_confirmations()
        self.writer.stop_store(max(0.5, deadline - time.monotonic()))
        self.saver.stop(max(0.5, deadline - time.monotonic()))
        # queued notifications get one attempt each; what they leave is in the final save
        self.dispatcher.close(max(0.5, deadline - time.monotonic()))
        if worker_done and self.engine is not None:
            # what is still unconfirmed, unstored or unnotified is redone on the next start
            self.saver.final_save(self._state_bytes)
        else:
            log.error("the rules worker did not stop in time; state not saved")
        self.core.leave()

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set (the CLI sets it on SIGINT/SIGTERM)."""
        self.start()
        stop.wait()
        self.stop()

    # -- state -----------------------------------------------------------------------------

    def _make_engine(self, state: dict[str, Any] | None) -> EngineLike:
        arg = self._engine_arg
        if not callable(arg):
            return arg
        if state is None:
            return arg(None)
        try:
            return arg(state.get("engine"))
        except Exception as exc:  # whatever the engine makes of a state it cannot read
            set_aside(self.state_file, f"the engine refused it: {exc!r}")
            return arg(None)

    def _resume(self, state: dict[str, Any]) -> None:
        """Take the clock, the unconfirmed alert messages and the unstored transitions."""
        resumed = read_resumable(state, self.state_file)
        if resumed is None:
            return
        if resumed.newest is not None:
            self.intake.event_clock = EventClock(resumed.newest, self.clock())
        for topic, payload, retain in resumed.republish:
            self.writer.publish(topic, payload, retain)  # paho sends them once connected
        self.writer.retained = resumed.retained
        self.writer.queue_unstored(resumed.unstored)
        for name, event in resumed.unnotified:  # queued before the dispatcher starts: sent first
            self.dispatcher.submit(event, only=name)
        active = self.engine.active() if self.engine is not None else []
        self.counters.active_alerts = len(active)
        log.info(
            "restored rules state from %s: %d active alerts, event clock %s; "
            "%d alert messages to republish, %d transitions to store, %d notifications to send",
            self.state_file,
            len(active),
            resumed.clock,
            len(resumed.republish),
            len(resumed.unstored),
            len(resumed.unnotified),
        )

    def _resume_escalation(self, state: dict[str, Any]) -> None:
        """Take the escalations under way and the silences from a saved state."""
        try:
            self.silences = SilenceBook(self.known, state.get("silences"))
            self.escalator = Escalator(self.dispatcher.escalation, state.get("escalation"))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # pydantic's too
            log.error("the saved escalations and silences are damaged (%s): not resumed", exc)
            self.silences = SilenceBook(self.known)
            self.escalator = Escalator(self.dispatcher.escalation)
        self.writer.silence = self.silences.stamp
        if self.escalator.tracked or self.silences.silences:
            log.info(
                "restored %d escalations under way and %d silences",
                len(self.escalator.tracked),
                len(self.silences.silences),
            )

    def _state_bytes(self) -> bytes:
        """The state as JSON; on the worker's side only (it reads the engine)."""
        assert self.engine is not None
        writer = self.writer
        with writer.store_lock:
            unstored = [payload for _, payload in writer.unstored]
        notify_pending = self.dispatcher.pending()
        self._notify_settled = self.dispatcher.settled_count
        return encode_state(
            self.event,
            self.clock(),
            self.event_clock.now(self.clock()),
            self.engine.snapshot(),
            list(writer.unconfirmed.values()),
            unstored,
            notify_pending,
            writer.retained,
            {"escalation": self.escalator.snapshot(), "silences": self.silences.snapshot()},
        )

    # -- paho callbacks (network thread): never raise, never block for long -----------------

    def _subscribe(self, client: mqtt.Client) -> None:
        # the first connection, or a broker that kept no session for us: it may well have lost
        # its retained messages too (a restart without persistence), so republish the alerts
        # the alerts active now are the ones to send again; a message of this connection may
        # raise or resolve one before the SUBACK, and that publish already went out after it
        if self.session.generation == 1 or not self.session.session_present:
            self._republish_pending = True
            self._inbox.append(_SNAPSHOT)
        # noLocal (v5): the alerts this service publishes do not come back to it
        self.session.subscribe(client, topics.readings_filter(self.event), qos=1, no_local=True)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if not self.core.admit():  # back-pressure: the broker holds the rest
            return  # not acknowledged: the broker redelivers it to the next session
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

    def _on_ready(self, client: mqtt.Client) -> None:
        # the SUBACK comes after paho has resent the unconfirmed messages of the connection
        # (it does that right after on_connect): what the worker republishes now goes out last
        if self._republish_pending:
            self._republish_pending = False
            self._inbox.append(_REPUBLISH)

    # -- worker thread ---------------------------------------------------------------------

    def _work_loop(self) -> None:
        inbox, intake, writer, saver = self._inbox, self.intake, self.writer, self.saver
        republish: dict[str, bytes] | None = None  # the active alerts at the last CONNACK
        while True:
            n = 0
            while inbox and n < BATCH:
                msg = inbox.popleft()
                if isinstance(msg, _Marker):
                    assert self.engine is not None
                    if msg is _SNAPSHOT:
                        republish = writer.active_payloads(self.engine.active())
                    elif republish is not None:
                        writer.republish(republish, self.engine.active())
                        republish = None
                    continue
                assert isinstance(msg, Received)
                saver.unsaved.append(msg)
                if msg.topic.startswith(self._silence_prefix):
                    self._take_silence(msg)
                else:
                    events = intake.handle(msg)
                    if events:
                        self._emitted(writer.emit(events))
                n += 1
            mono = time.monotonic()
            if n:
                self._last_message = mono
            writer.drain_confirmations()
            if self.dispatcher.settled_count != self._notify_settled:
                saver.mark()  # a notification went out (or was given up): not resent
            ticked = mono >= intake.next_tick_wall
            if ticked:
                events = intake.tick(self.clock())
                if events:
                    self._emitted(writer.emit(events))
            if n or ticked:
                self._follow_up()
            if saver.unsaved or saver.dirty:
                if not saver.dirty:
                    self.core.ack(saver.unsaved)  # nothing changed: nothing to save first
                    saver.unsaved = []
                else:
                    quiet = bool(saver.unsaved) and not inbox
                    if saver.due(mono, quiet and mono - self._last_message >= QUIET_S):
                        saver.hand_over(self._state_bytes)
            self.core.report_due(mono)
            if self._stopping.is_set() and not inbox:
                break
            if not n:
                time.sleep(POLL_S)

    # -- silences and escalation (worker thread) ----------------------------------------------

    def _take_silence(self, msg: Received) -> None:
        """A retained silence (or an empty message that removes one)."""
        sid = topics.parse_silence(msg.topic, self.event)
        if sid is None or not topics.valid_id(sid):
            self.counters.bad_silences += 1
            return
        before = self.silences.refused
        if self.silences.take(sid, msg.payload, self.event_clock.now(self.clock())):
            self.counters.silences += 1
            self.saver.mark()
            taken = self.silences.silences.get(sid)
            if taken is not None:
                self._log_silence(taken)
        self.counters.bad_silences += self.silences.refused - before

    def _emitted(self, events: list[AlertEvent]) -> None:
        """Transitions as sent: start, move or stop their escalation."""
        if not self.escalator:
            return
        for event in events:
            if self.escalator.observe(event):
                # acknowledged or resolved after an escalation: clear its retained record
                self.writer.publish(topics.escalation(self.event, event.alert_id), b"", True)
                log.info("escalation of %s stopped: %s", event.alert_id, event.state)

    def _follow_up(self) -> None:
        """On event time: notify what ended silences held back; send escalations due."""
        if self.engine is None:
            return
        now = self.event_clock.now(self.clock())
        if now is None:
            return
        ended = self.silences.ended(now)
        if ended:
            self.saver.mark()
            released = set(self.silences.release(ended))
            for alert in self.engine.active():
                if (
                    alert.alert_id in released
                    and alert.state == "firing"
                    and self.silences.match(alert, now) is None
                ):
                    log.info("silence over: %s notified now", alert.alert_id)
                    self.dispatcher.submit(alert)
            log.info("silences ended: %s", ", ".join(ended))
        if self.escalator:
            due = self.escalator.due(now, lambda a: self.silences.match(a, now) is not None)
            for escalation in due:
                self._escalate(escalation)
            if due:
                self.saver.mark()

    def _escalate(self, escalation: Escalation) -> None:
        """Send one escalation to its tier's notifiers, publish it and log it."""
        event = escalation.event()
        for name in escalation.notify:
            self.dispatcher.submit(event, only=name)
        record = escalation.record()
        self.writer.publish(
            topics.escalation(self.event, escalation.alert.alert_id), orjson.dumps(record), True
        )
        self.counters.escalations += 1
        self._log_escalation(escalation)

    def _log_escalation(self, escalation: Escalation) -> None:
        """An escalation in the control log (beside MQTT and the notification log), linked to
        its alert, and a log line."""
        a = escalation.alert
        text = f"{escalation.message} (notified: {', '.join(escalation.notify)})"
        log.warning("alert %s %s", a.alert_id, text)
        key = f"{a.alert_id}/escalation/{escalation.tier}/{escalation.repeat}"
        entry = service_entry(
            key, escalation.at, category_of(a.kind), "urgent", text, a.alert_id, a.drill
        )
        self.writer.log([entry])

    def _log_silence(self, silence: Silence) -> None:
        """A silence taken (or expired early) in the control log: who, what, until when, why."""
        if silence.expired_at is not None:
            text = f"Silence {silence.id} expired early ({silence.describe()}) by {silence.author}"
            at, key = silence.expired_at, f"silence/{silence.id}/expired"
        else:
            text = (
                f"Silence {silence.id} by {silence.author}: {silence.describe()} from "
                f"{silence.starts_at.isoformat()} to {silence.ends_at.isoformat()}; "
                f"reason: {silence.reason}"
            )
            at, key = silence.created_at, f"silence/{silence.id}"
        self.writer.log([service_entry(key, at, "other", "normal", text)])

    def _status_extra(self) -> dict[str, Any]:
        """Beside the counters in the status on _sys/rules: notifications and event clock."""
        if self.engine is not None:
            self.counters.active_alerts = len(self.engine.active())
        self.counters.store_pending = self.writer.pending()
        clock = self.event_clock.now(self.clock())
        return {
            "notifications": self.dispatcher.counters(),
            "event_clock": clock.isoformat() if clock else None,
        }
