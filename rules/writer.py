"""Where the rules service's alert transitions go: MQTT first, then the store and notifiers.

Every transition is published on `alerts/<alert_id>` first (retained while active; when
resolved, the resolved event and then an empty retained message that clears it), then handed
to the store writer thread (retried with back-off while the store is down: alerts keep
flowing on MQTT) and to the notifiers (their own threads). Each acknowledgement the engine
applied is also appended to the audit trail, by the store writer right after its transition
(see `audit_of`).

The store writer also appends each transition to the control log as a `kind: alert` entry
linked to its alert (its id fixed by alert, state and time, so a retry or a restart adds
nothing) and publishes it on `log/<category>/<id>`: the log is the room's one record, read,
searched and exported as one stream, rather than alert history merged in at every read.

The messages the broker has not confirmed, the active alerts' last messages and the
transitions not yet stored are what the state file keeps of the writer (see rules.state).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opsroom import topics
from opsroom.alerts import AlertEvent, PlanBrief
from opsroom.audit import MAX_TARGET, AuditEntry, recordable_text, untrusted_name
from opsroom.clock import Clock, utcnow
from opsroom.controllog import LogEntry, alert_entry
from opsroom.controllog.model import category_of
from opsroom.planrun import activation
from opsroom.plans import PlanSet
from opsroom.service import ServiceCore
from opsroom.store import Store, StoreError
from rules.notify import Dispatcher

if TYPE_CHECKING:
    from rules.service import Counters

log = logging.getLogger("opsroom.rules")
STORE_BATCH = 500
STORE_MAX_BACKOFF_S = 30.0
FIRST_STEPS = 3  # plan steps a notification names


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


def audit_of(events: list[AlertEvent]) -> list[AuditEntry]:
    """The audit entries of the acknowledgements among `events`: who (the message's actor:
    the broker lets only the dashboard, which sends its logged-in user, publish on ack/),
    action `ack`, target the alert id, the note as detail, dated by the wall clock the service
    took it at. Derived from the transition, so a transition written again after a failure
    or a restart gives the same entry, which the store ignores."""
    return [
        AuditEntry(
            ts=e.recorded_at or e.ts,
            user=untrusted_name(e.actor),
            action="ack",
            target=untrusted_name(e.alert_id, MAX_TARGET),
            detail=recordable_text(e.note or ""),
        )
        for e in events
        if e.state == "acknowledged" and e.actor
    ]


def plan_brief(plans: PlanSet | None, rule: str) -> PlanBrief | None:
    """What a notification says of the plan `rule` activates: its name and first steps."""
    plan = plans.for_rule(rule) if plans is not None else None
    if plan is None:
        return None
    steps = [f"{s.action} ({s.who}, {s.due_min:g} min)" for s in plan.steps[:FIRST_STEPS]]
    return PlanBrief(id=plan.id, name=plan.name, first_steps=steps)


def plan_activations(batch: list[AlertEvent], plans: PlanSet | None) -> list[LogEntry]:
    """The plan_activated entries of the alerts in `batch` that fire and have a plan: dated
    when the alert fired (event time), their id fixed by alert and plan, so a transition
    written again (a retry, a restart, a lost state) activates nothing twice."""
    out = []
    for event in batch:
        plan = plans.for_rule(event.rule) if plans is not None else None
        if plan is None or event.state != "firing":
            continue
        out.append(
            activation(
                plan,
                event.ts,
                author="rules",
                category=category_of(event.kind),
                priority="urgent" if event.severity == "critical" else "high",
                alert_id=event.alert_id,
                drill=event.drill,
                key=f"{event.alert_id}/plan/{plan.id}",
            )
        )
    return out


def _log_entries(batch: list[AlertEvent], plans: PlanSet | None = None) -> list[LogEntry]:
    """The control log entries of a batch of transitions (and the plans they activate); one
    that cannot be an entry is logged and left out (its transition is stored and published
    all the same)."""
    entries = []
    for event in batch:
        try:
            entries.append(alert_entry(event))
            entries.extend(plan_activations([event], plans))
        except ValueError as exc:
            log.error("alert %s %s not logged in the control log: %s", event.alert_id,
                      event.state, exc)  # fmt: skip
    return entries


class AlertWriter:
    """Publishes, stores and notifies transitions. `emit` and the MQTT side run on the
    service's worker thread; the store side on its own thread (`start`, `stop_store`).

    `changed()` is called whenever what the state file lists changed (it needs saving).
    """

    def __init__(
        self,
        core: ServiceCore[Any],
        store: Store,
        dispatcher: Dispatcher,
        counters: Counters,
        changed: Callable[[], None],
        clock: Clock = utcnow,
    ) -> None:
        self.core = core
        self.event = core.settings.event
        self.store = store
        self.dispatcher = dispatcher
        self.counters = counters
        self.clock = clock
        self._changed = changed
        # sets `silenced_by` on a transition a silence holds (rules.silencer); not notified
        self.silence: Callable[[AlertEvent], AlertEvent] | None = None
        # contingency plans: a firing alert of a rule with one activates it (control log)
        self.plans: PlanSet | None = None
        # worker-owned
        self.unconfirmed: dict[int, tuple[str, bytes, bool]] = {}
        self.retained: dict[str, bytes] = {}  # alert id -> the active alert's last message
        # worker -> store writer
        self.store_lock = threading.Lock()
        self.unstored: list[tuple[AlertEvent, bytes]] = []  # with its JSON
        self.unlogged: list[LogEntry] = []  # control log entries of escalations and silences
        self._store_wake = threading.Event()
        self._store_stop = threading.Event()
        self._store_thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the store writer thread."""
        self._store_thread = threading.Thread(
            target=self._store_loop, name="rules-store", daemon=True
        )
        self._store_thread.start()

    def stop_store(self, timeout: float) -> None:
        """Stop the store writer; what it has not written stays listed for the state file."""
        self._store_stop.set()
        self._store_wake.set()
        if self._store_thread is not None:
            self._store_thread.join(timeout)

    def pending(self) -> int:
        """How many transitions wait for the store."""
        with self.store_lock:
            return len(self.unstored)

    def log(self, entries: list[LogEntry]) -> None:
        """Control log entries the service writes by itself (escalations, silences): stored by
        the store writer (with retries) and published on the live feed. Kept in memory only:
        an escalation lost to a crash is still in the notification log and on MQTT."""
        with self.store_lock:
            self.unlogged.extend(entries)
        self._store_wake.set()

    def queue_unstored(self, events: list[AlertEvent]) -> None:
        """Transitions a previous run did not store (from the state file)."""
        with self.store_lock:
            self.unstored.extend((e, e.model_dump_json().encode()) for e in events)

    def emit(self, events: list[AlertEvent]) -> list[AlertEvent]:
        """Publish (MQTT first), then queue for the store and the notifiers (unless a silence
        holds them); returns the transitions as sent."""
        wall = self.clock()
        stamped = [
            e if e.recorded_at else e.model_copy(update={"recorded_at": wall}) for e in events
        ]
        if self.silence is not None:
            stamped = [self.silence(e) for e in stamped]
        if self.plans is not None:
            stamped = [
                e.model_copy(update={"plan": brief})
                if e.plan is None and (brief := plan_brief(self.plans, e.rule)) is not None
                else e
                for e in stamped
            ]
        done = []
        for event in stamped:
            payload = event.model_dump_json().encode()
            for topic, body, retain in alert_messages(self.event, event, payload):
                self.publish(topic, body, retain)
            if event.active:
                self.retained[event.alert_id] = payload
            else:
                self.retained.pop(event.alert_id, None)
            done.append((event, payload))
            # DEBUG: a storm of transitions must not cost a log line each; the store, MQTT
            # and the counters line have them
            log.debug(
                "alert %s %s (%s): %s", event.alert_id, event.state, event.severity, event.message
            )
        with self.store_lock:
            self.unstored.extend(done)
        self._store_wake.set()
        for event in stamped:
            if event.silenced_by is None:
                self.dispatcher.submit(event)
            else:
                self.counters.silenced += 1
        self.counters.transitions += len(stamped)
        self._changed()
        return stamped

    def active_payloads(self, active: list[AlertEvent]) -> dict[str, bytes]:
        """Each active alert's message as it was last sent (stamped, with the acknowledgement's
        sent_ts), else as the engine has it: what a republish sends."""
        kept = self.retained
        return {a.alert_id: kept.get(a.alert_id) or a.model_dump_json().encode() for a in active}

    def republish(self, payloads: dict[str, bytes], active: list[AlertEvent]) -> None:
        """Publish retained again the alerts of `payloads` (taken at CONNACK) that are still
        active and were not sent anew since: a newer message already went out after them."""
        still = {a.alert_id for a in active}
        sent = self.retained
        due = {i: p for i, p in payloads.items() if i in still and sent.get(i, p) == p}
        self.retained = {i: p for i, p in sent.items() if i in still} | due
        for alert_id, payload in due.items():
            self.publish(topics.alert(self.event, alert_id), payload, True)
        self.counters.republished += len(due)
        self._changed()  # the state's list of unconfirmed messages changed
        log.info(
            "republished %d active alerts retained (%s)",
            len(due),
            "first connection"
            if self.core.session.generation <= 1
            else "the broker had no session",
        )

    def publish(self, topic: str, payload: bytes, retain: bool) -> None:
        """Publish at QoS 1 and keep it listed until the broker confirms it."""
        client = self.core.client
        assert client is not None
        info = client.publish(topic, payload, qos=1, retain=retain)
        # confirmations are drained on this thread, so the mid is registered before its turn
        self.unconfirmed[info.mid] = (topic, payload, retain)

    def drain_confirmations(self) -> None:
        """Take the broker's confirmations off the list of unconfirmed messages."""
        for mid in self.core.take_confirmed():
            if self.unconfirmed.pop(mid, None) is not None:
                self.counters.published += 1
                self._changed()  # the state's list of unconfirmed messages changed

    # -- store writer thread -------------------------------------------------------------

    def _store_loop(self) -> None:
        delay = 0.2
        while True:
            with self.store_lock:
                batch = [event for event, _ in self.unstored[:STORE_BATCH]]
                extra = self.unlogged[:STORE_BATCH]
            if not batch and extra:
                try:
                    self.store.write_log(extra)
                except StoreError as exc:
                    log.error("control log entries not stored yet: %s (retry)", exc)
                    if self._store_stop.wait(delay):
                        return
                    continue
                with self.store_lock:
                    del self.unlogged[: len(extra)]
                self._publish_log(extra)
                continue
            if not batch:
                if self._store_stop.is_set():
                    return
                self._store_wake.wait(0.2)
                self._store_wake.clear()
                continue
            try:
                self.store.write_alert_events(batch)
                self.store.write_audit(audit_of(batch))  # (both idempotent: a retry is safe)
                entries = _log_entries(batch, self.plans)
                self.store.write_log(entries)
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
            with self.store_lock:
                del self.unstored[: len(batch)]
                self.counters.store_pending = len(self.unstored)
            self.counters.stored += len(batch)
            self._changed()  # the state's list of unstored transitions changed
            self._publish_log(entries)

    def _publish_log(self, entries: list[LogEntry]) -> None:
        """The transitions' log entries on the live feed (QoS 1; the store has them already,
        so a message lost with the connection costs a dashboard one refresh, not the entry)."""
        client = self.core.client
        if client is None:
            return
        for entry in entries:
            topic = topics.log_entry(self.event, entry.category, entry.id)
            client.publish(topic, entry.model_dump_json().encode(), qos=1)
