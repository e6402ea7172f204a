"""The rules service against a real Mosquitto over TCP and a real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from opsroom import topics
from opsroom.alerts import AlertEvent
from opsroom.broker import Mosquitto, free_port
from opsroom.rulesfile.model import RuleSet, load_rules
from opsroom.rulesfile.subjects import subjects_of
from opsroom.settings import Settings
from opsroom.store import StoreError, active_alerts
from opsroom.store.sqlite import SqliteStore
from opsroom.telemetry import Reading
from opsroom.venue import Venue, load_venue
from rules.engine import Engine
from rules.notify import NotifierSet, RetryPolicy, Route, WebhookNotifier
from rules.service import EngineLike, RulesService
from simulators.matching import lives
from tests.conftest import Collector, publisher, wait_status, wait_until
from tests.rules.test_notify import Target

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "rules.db")
    yield s
    s.close()


def make_settings(port: int, event: str, data_dir: Path, **kw: Any) -> Settings:
    return Settings.load(
        {
            "event": event,
            "mqtt_url": f"mqtt://127.0.0.1:{port}",
            "data_dir": data_dir,
            "stats_interval_s": 0.5,
            "session_expiry_s": 120,  # the broker forgets the test's session soon after
            **kw,
        },
        env={},
    )


def start_rules(
    port: int,
    event: str,
    data_dir: Path,
    store: Any,
    engine: EngineLike | Callable[[dict[str, Any] | None], EngineLike],
    **kw: Any,
) -> RulesService:
    service = RulesService(make_settings(port, event, data_dir), store, engine, **kw)
    service.start()
    assert service.wait_connected(10)  # the broker confirmed the subscription
    return service


def publish_all(port: int, messages: Sequence[tuple[str, bytes | str]], **kw: Any) -> None:
    pub = publisher(port)
    try:
        infos = [pub.publish(t, p, qos=1, **kw) for t, p in messages]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        pub.loop_stop()
        pub.disconnect()


def payloads(messages: list[mqtt.MQTTMessage]) -> list[dict[str, Any] | None]:
    """Decoded alert messages; None for an empty (retained-clearing) one.

    A message that repeats the one before it on its topic byte for byte is the service
    republishing its active alerts on start (a transition made twice would differ in
    `recorded_at`), and is left out.
    """
    last: dict[str, bytes] = {}
    out: list[dict[str, Any] | None] = []
    for m in messages:
        body = bytes(m.payload)
        if last.get(m.topic) == body:
            continue
        last[m.topic] = body
        out.append(json.loads(body) if body else None)
    return out


def retained(port: int, topic_filter: str) -> dict[str, bytes]:
    """The retained messages under a filter, as a new subscriber sees them."""
    c = Collector(port, topic_filter)
    got = c.sync()  # the broker sends the retained ones before the marker
    c.close()
    return {m.topic: bytes(m.payload) for m in got if m.retain}


# -- a stand-in engine, for failures the real one does not have ------------------------------


class FakeEngine:
    """Fires `hot` at once when temp_c > 8 and resolves at <= 8; `temp_c == 250` raises."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.newest: dict[str, datetime] = {}
        self.alerts: dict[str, AlertEvent] = {}
        if state:
            self.newest = {k: datetime.fromisoformat(v) for k, v in state["newest"].items()}
            for e in state["alerts"]:
                event = AlertEvent.model_validate(e)
                self.alerts[event.alert_id] = event

    def _event(self, sensor: str, state: str, ts: datetime, value: float | None) -> AlertEvent:
        return AlertEvent(
            alert_id=f"hot.{sensor}",
            rule="hot",
            subject=sensor,
            kind="coldchain",
            severity="critical",
            state=state,
            ts=ts,
            value=value,
            message="too warm",
        )

    def process(self, reading: Reading) -> list[AlertEvent]:
        last = self.newest.get(reading.sensor_id)
        if last is not None and reading.ts <= last:
            return []
        self.newest[reading.sensor_id] = reading.ts
        temp = float(reading.values["temp_c"])
        if temp == 250:
            raise RuntimeError("the fake engine's planted bug")
        key = f"hot.{reading.sensor_id}"
        if temp > 8 and key not in self.alerts:
            self.alerts[key] = self._event(reading.sensor_id, "firing", reading.ts, temp)
            return [self.alerts[key]]
        if temp <= 8 and key in self.alerts:
            del self.alerts[key]
            return [self._event(reading.sensor_id, "resolved", reading.ts, temp)]
        return []

    def device_status(
        self, sensor_id: str, online: bool, ts: datetime, drill: bool = False
    ) -> list[AlertEvent]:
        return []

    def tick(self, now: datetime) -> list[AlertEvent]:
        return []

    def tick_unheard(self, wall: datetime) -> list[AlertEvent]:
        return []

    def acknowledge(
        self, alert_id: str, actor: str, note: str | None, ts: datetime
    ) -> AlertEvent | None:
        alert = self.alerts.get(alert_id)
        if alert is None or alert.state == "acknowledged":
            return None
        self.alerts[alert_id] = alert.model_copy(
            update={"state": "acknowledged", "ts": ts, "actor": actor, "note": note}
        )
        return self.alerts[alert_id]

    def active(self) -> list[AlertEvent]:
        return list(self.alerts.values())

    def snapshot(self) -> dict[str, Any]:
        return {
            "newest": {k: v.isoformat() for k, v in self.newest.items()},
            "alerts": [e.model_dump(mode="json") for e in self.alerts.values()],
        }


class FlakyStore:
    """A store whose alert writes fail until `up` is set."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.up = threading.Event()
        self.failures = 0

    def write_alert_events(self, events: Sequence[AlertEvent]) -> None:
        if not self.up.is_set():
            self.failures += 1
            raise StoreError("database is locked (planted)")
        self.inner.write_alert_events(events)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def temp(event: str, sensor: str, ts: datetime, value: float) -> tuple[str, bytes]:
    return (
        topics.reading(event, "coldchain", sensor),
        json.dumps({"ts": ts.isoformat(), "temp_c": value}).encode(),
    )


def test_alerts_keep_flowing_on_mqtt_while_the_store_is_down(
    broker: Mosquitto, event: str, store: SqliteStore, tmp_path: Path, collect: Any
) -> None:
    alerts = collect(topics.alerts_filter(event))
    flaky = FlakyStore(store)
    service = start_rules(broker.port, event, tmp_path, flaky, FakeEngine)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    try:
        publish_all(broker.port, [temp(event, "f1", t0, 9.0), temp(event, "f2", t0, 10.0)])
        assert len(alerts.wait_for(2, timeout=10)) == 2
        assert wait_until(lambda: flaky.failures >= 2, timeout=10)
        assert store.alert_events() == []
        flaky.up.set()
        assert wait_until(lambda: len(store.alert_events()) == 2, timeout=15)
    finally:
        service.stop()
    assert service.counters.store_errors >= 2
    assert service.counters.stored == 2


def test_unstored_transitions_survive_a_restart(
    broker: Mosquitto, event: str, store: SqliteStore, tmp_path: Path
) -> None:
    flaky = FlakyStore(store)
    service = start_rules(broker.port, event, tmp_path, flaky, FakeEngine)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    try:
        publish_all(broker.port, [temp(event, "f1", t0, 9.0)])
        assert wait_until(lambda: flaky.failures >= 1, timeout=10)
    finally:
        service.stop()
    assert store.alert_events() == []
    service = start_rules(broker.port, event, tmp_path, store, FakeEngine)
    try:
        assert wait_until(lambda: len(store.alert_events()) == 1, timeout=10)
    finally:
        service.stop()
    [stored] = store.alert_events()
    assert (stored.alert_id, stored.state) == ("hot.f1", "firing")


def test_bad_input_is_counted_and_never_stops_the_service(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    tmp_path: Path,
    collect: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alerts = collect(topics.alerts_filter(event))
    service = start_rules(broker.port, event, tmp_path, store, FakeEngine)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    bad = [
        (topics.reading(event, "coldchain", "f1"), b"{not json"),
        (topics.reading(event, "weather", "w1"), b'{"ts": 1, "wind": 3}'),
        (topics.reading(event, "coldchain", "f1"), json.dumps({"ts": 5, "temp_c": 9}).encode()),
        temp(event, "f1", t0, 250.0),  # the engine raises on this one
        (topics.ack(event, "hot.f1"), b"yes"),
        (topics.ack(event, "hot.f1"), b'{"note": "who am I"}'),
        (topics.ack(event, "no-such-alert"), b'{"actor": "duty-1"}'),
        (topics.status(event, "f1"), b"sleepy"),
        (topics.status(event, "f1"), b""),
    ]
    try:
        publish_all(broker.port, [*bad, temp(event, "f1", t0 + timedelta(minutes=1), 9.5)])
        [msg] = alerts.wait_for(1, timeout=10)
        assert json.loads(msg.payload)["state"] == "firing"
        c = service.counters
        assert wait_until(lambda: c.received == len(bad) + 1, timeout=10), c
    finally:
        service.stop()
    assert (c.invalid, c.engine_errors, c.bad_acks, c.acks_ignored, c.bad_statuses) == (
        3,
        1,
        2,
        1,
        1,
    )
    assert any("planted bug" in str(r.exc_info) for r in caplog.records if r.exc_info)
    caplog.clear()  # the planted bug's traceback is expected here


def test_a_cleared_retained_reading_is_counted_as_a_clear_not_as_invalid(
    broker: Mosquitto, event: str, store: SqliteStore, tmp_path: Path
) -> None:
    """An empty retained message is how a device clears its retained reading: a clear."""
    service = start_rules(broker.port, event, tmp_path, store, FakeEngine)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    try:
        publish_all(broker.port, [temp(event, "f1", t0, 4.0)], retain=True)
        publish_all(broker.port, [(topics.reading(event, "coldchain", "f1"), b"")], retain=True)
        c = service.counters
        assert wait_until(lambda: c.received == 2, timeout=10), c
    finally:
        service.stop()
    assert (c.readings, c.cleared, c.invalid) == (1, 1, 0)


def test_a_corrupt_state_file_is_set_aside(
    broker: Mosquitto, event: str, store: SqliteStore, tmp_path: Path, caplog: Any
) -> None:
    settings = make_settings(broker.port, event, tmp_path)
    settings.rules_state_file.write_text("{truncated")
    service = start_rules(broker.port, event, tmp_path, store, FakeEngine)
    service.stop()
    assert "moved it to" in caplog.text
    assert list(tmp_path.glob(f"rules-{event}.state.json.bad-*"))
    state = json.loads(settings.rules_state_file.read_text())
    assert state["version"] == 1 and state["event"] == event


def test_alert_messages_the_broker_never_confirmed_are_sent_after_a_restart(
    broker: Mosquitto, event: str, store: SqliteStore, tmp_path: Path, collect: Any
) -> None:
    """The state saved before a crash lists the alert messages still unconfirmed."""
    alerts = collect(topics.alerts_filter(event))
    lost = FakeEngine()._event("f9", "firing", datetime.now(UTC), 9.0)
    topic = topics.alert(event, lost.alert_id)
    state = {
        "version": 1,
        "event": event,
        "clock": datetime.now(UTC).isoformat(),
        "engine": FakeEngine().snapshot(),
        "unconfirmed": [[topic, lost.model_dump_json(), True]],
        "unstored": [lost.model_dump(mode="json")],
    }
    settings = make_settings(broker.port, event, tmp_path)
    settings.rules_state_file.write_text(json.dumps(state))
    service = start_rules(broker.port, event, tmp_path, store, FakeEngine)
    try:
        [msg] = alerts.wait_for(1)
        assert wait_until(lambda: len(store.alert_events()) == 1)
    finally:
        service.stop()
    assert (msg.topic, AlertEvent.model_validate_json(msg.payload)) == (topic, lost)
    assert json.loads(settings.rules_state_file.read_text())["unconfirmed"] == []


def test_alerts_flow_while_the_state_cannot_be_saved(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    tmp_path: Path,
    collect: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unsaved messages stay unacknowledged for a grace period, then are acknowledged anyway."""
    monkeypatch.setattr("rules.state.STATE_GRACE_S", 0.5)
    alerts = collect(topics.alerts_filter(event))
    settings = make_settings(broker.port, event, tmp_path)
    blocker = settings.rules_state_file.with_name(settings.rules_state_file.name + ".tmp")
    blocker.mkdir()  # the temp file cannot be written: every save fails
    service = start_rules(broker.port, event, tmp_path, store, FakeEngine)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    try:
        publish_all(broker.port, [temp(event, "f1", t0, 9.0)])
        assert len(alerts.wait_for(1)) == 1  # the alert does not wait for the disk
        assert wait_until(lambda: service.counters.acked_unsaved >= 1, timeout=10)
        assert service.counters.state_saves == 0
        blocker.rmdir()
        publish_all(broker.port, [temp(event, "f2", t0, 9.0)])
        assert wait_until(lambda: service.counters.state_saves >= 1, timeout=10)
    finally:
        service.stop()
    errors = [r for r in caplog.records if "cannot save the rules state" in r.getMessage()]
    assert len(errors) == 1  # once, not once per attempt
    assert "saved to" in caplog.text and "again" in caplog.text


def test_a_retained_alert_nobody_tracks_is_reported(
    broker: Mosquitto, event: str, store: SqliteStore, tmp_path: Path, caplog: Any
) -> None:
    """After a lost state file, the broker still holds the old alerts: say so, clear nothing."""
    stale = FakeEngine()._event("f7", "firing", datetime.now(UTC), 9.0)
    topic = topics.alert(event, stale.alert_id)
    publish_all(broker.port, [(topic, stale.model_dump_json())], retain=True)
    service = start_rules(broker.port, event, tmp_path, store, FakeEngine)
    try:
        assert wait_until(lambda: service.counters.stale_retained == 1, timeout=10)
    finally:
        service.stop()
        publish_all(broker.port, [(topic, b"")], retain=True)
    assert "hot.f7 is retained on the broker as active" in caplog.text


def test_restart_with_the_fake_engine_does_not_duplicate(
    broker: Mosquitto, event: str, store: SqliteStore, tmp_path: Path, collect: Any
) -> None:
    alerts = collect(topics.alerts_filter(event))
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    service = start_rules(broker.port, event, tmp_path, store, FakeEngine)
    try:
        publish_all(broker.port, [temp(event, "f1", t0, 9.0)])
        assert len(alerts.wait_for(1)) == 1
    finally:
        service.stop()
    # readings arrive while it is down; one of them repeats the first
    publish_all(
        broker.port,
        [temp(event, "f1", t0, 9.0), temp(event, "f1", t0 + timedelta(minutes=1), 9.5)],
    )
    service = start_rules(broker.port, event, tmp_path, store, FakeEngine)
    try:
        publish_all(broker.port, [temp(event, "f1", t0 + timedelta(minutes=2), 4.0)])
        assert len(alerts.wait_for(3)) >= 3
    finally:
        service.stop()  # returns once the broker confirmed what it published
    states = [p["state"] if p else None for p in payloads(alerts.sync())]
    assert states == ["firing", "resolved", None]
    assert [e.state for e in store.alert_events()] == ["firing", "resolved"]
    assert service.counters.readings == 3  # queued while down (one a repeat), then one more
    assert retained(broker.port, topics.alerts_filter(event)) == {}


# -- the real engine with the example venue and rules ------------------------------------------

FRIDGE = "smokestack-fridge"  # a fridge of examples/venue.yaml
FREEZER = "scoops-freezer-1"


@pytest.fixture(scope="module")
def venue() -> Venue:
    return load_venue(ROOT / "examples" / "venue.yaml")


@pytest.fixture(scope="module")
def ruleset(venue: Venue) -> RuleSet:
    return load_rules(ROOT / "examples" / "rules.yaml", venue)


@pytest.fixture
def engine(venue: Venue, ruleset: RuleSet) -> Callable[[dict[str, Any] | None], EngineLike]:
    return lambda state: Engine(ruleset, venue, state)


def of(collector: Collector, fragment: str) -> list[dict[str, Any] | None]:
    """Decoded messages on alert topics containing `fragment` (None: a cleared retained one)."""
    return payloads([m for m in collector.messages if fragment in m.topic])


def states_of(collector: Collector, fragment: str) -> list[str | None]:
    return [p["state"] if p else None for p in of(collector, fragment)]


def warm_fridge(event: str, start: datetime, minutes: range, value: float) -> list[Any]:
    return [temp(event, FRIDGE, start + timedelta(minutes=m), value) for m in minutes]


def test_a_warm_fridge_fires_after_15_minutes_of_event_time_and_resolves(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    tmp_path: Path,
    collect: Any,
    engine: Any,
    venue: Venue,
) -> None:
    """Half an hour of readings published at once gives the alerts it would have given live."""
    alerts = collect(topics.alerts_filter(event))
    hook = Target()
    notifiers = NotifierSet(
        (
            (
                WebhookNotifier("ops-hook", hook.url),
                Route(frozenset({"critical"}), frozenset({"firing", "resolved"})),
            ),
        ),
        RetryPolicy(backoff_s=0.05),
    )
    service = start_rules(
        broker.port, event, tmp_path, store, engine, venue=venue, notifiers=notifiers
    )
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    cold = f"cold-holding.{FRIDGE}"
    try:
        publish_all(broker.port, warm_fridge(event, t0, range(21), 9.0))
        assert wait_until(lambda: "firing" in states_of(alerts, cold), timeout=15)
        [pending, firing] = of(alerts, cold)
        assert pending is not None and firing is not None
        alert_id = firing["alert_id"]
        assert alert_id == f"{cold}.{int(t0.timestamp())}"
        assert (pending["state"], pending["severity"]) == ("pending", "warning")
        assert (firing["severity"], firing["value"]) == ("critical", 9.0)
        # fired 15 minutes of event time after the condition began, not at the wall clock
        assert datetime.fromisoformat(firing["ts"]) == t0 + timedelta(minutes=15)
        topic = topics.alert(event, alert_id)
        assert json.loads(retained(broker.port, topic)[topic])["state"] == "firing"

        publish_all(broker.port, warm_fridge(event, t0, range(21, 24), 4.0))
        assert wait_until(lambda: None in states_of(alerts, cold), timeout=15)
        assert wait_until(lambda: len(hook.requests) == 2, timeout=10)
    finally:
        service.stop()
        hook.close()
    assert states_of(alerts, cold) == ["pending", "firing", "resolved", None]
    resolved = of(alerts, cold)[2]
    assert resolved is not None
    assert datetime.fromisoformat(resolved["ts"]) == t0 + timedelta(minutes=21)
    assert topic not in retained(broker.port, topics.alerts_filter(event))
    # not retained: the resolved event went to the live subscribers only
    assert [m.retain for m in alerts.messages if m.topic == topic] == [False] * 4
    assert [e.state for e in store.alert_events(alert_id=alert_id)] == [
        "pending",
        "firing",
        "resolved",
    ]
    # the notifier got the critical transitions, and the attempts are logged for the dashboard
    sent = [AlertEvent.model_validate_json(body) for _, _, body in hook.requests]
    assert [(e.alert_id, e.state) for e in sent] == [(alert_id, "firing"), (alert_id, "resolved")]
    log_lines = service.settings.notification_log.read_text().splitlines()
    assert [json.loads(x)["ok"] for x in log_lines] == [True, True]
    # the other subjects of the venue never reported: silent from the first event time on
    silent = {p["subject"] for p in of(alerts, "silent-device.") if p}
    assert "main-arena" in silent and FRIDGE not in silent


def test_a_call_out_the_gateway_missed_goes_out_after_a_restart(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    tmp_path: Path,
    collect: Any,
    engine: Any,
    venue: Venue,
) -> None:
    """The SMS gateway is down when the rules service stops: the firing alert's notification
    is in the saved state, and the next start delivers it once the gateway is back."""
    alerts = collect(topics.alerts_filter(event))
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    critical = Route(frozenset({"critical"}), frozenset({"firing", "resolved"}))

    def sms() -> NotifierSet:
        return NotifierSet(((WebhookNotifier("sms", url), critical),), RetryPolicy(backoff_s=30))

    service = start_rules(broker.port, event, tmp_path, store, engine, venue=venue, notifiers=sms())
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    cold = f"cold-holding.{FRIDGE}"
    try:
        publish_all(broker.port, warm_fridge(event, t0, range(17), 9.0))
        assert wait_until(lambda: "firing" in states_of(alerts, cold), timeout=15)
        assert wait_until(lambda: service.dispatcher.counters()["attempts"] == 1, timeout=10)

        # already in the state saved while running: a kill -9 now would resend it too
        def saved_unnotified() -> list[tuple[str, str]]:
            state = json.loads(service.state_file.read_text())
            return [(n, e["state"]) for n, e in state.get("unnotified", [])]

        assert wait_until(lambda: saved_unnotified() == [("sms", "firing")], timeout=5)
    finally:
        service.stop()
    firing = of(alerts, cold)[-1]
    assert firing is not None and firing["state"] == "firing"
    saved = json.loads(service.state_file.read_text())
    assert [(n, e["alert_id"], e["state"]) for n, e in saved["unnotified"]] == [
        ("sms", firing["alert_id"], "firing")
    ]
    hook = Target(port)  # the gateway is back
    service = start_rules(broker.port, event, tmp_path, store, engine, venue=venue, notifiers=sms())
    try:
        assert wait_until(lambda: len(hook.requests) == 1, timeout=10)
        assert wait_until(lambda: service.dispatcher.pending() == [], timeout=5)
    finally:
        service.stop()  # the notifiers are closed: nothing more can come
        hook.close()
    [(_, _, body)] = hook.requests
    assert AlertEvent.model_validate_json(body) == AlertEvent.model_validate(firing)
    assert json.loads(service.state_file.read_text())["unnotified"] == []
    assert states_of(alerts, cold) == ["pending", "firing"]  # the alert itself is not redone
    outcomes = [json.loads(x) for x in service.settings.notification_log.read_text().splitlines()]
    assert [(a["ok"], a["deferred"]) for a in outcomes] == [(False, False), (True, False)]


def test_an_acknowledgement_over_mqtt_moves_the_alert_to_acknowledged(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    tmp_path: Path,
    collect: Any,
    engine: Any,
    venue: Venue,
) -> None:
    alerts = collect(topics.alerts_filter(event))
    service = start_rules(broker.port, event, tmp_path, store, engine, venue=venue)
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    cold = f"cold-holding.{FRIDGE}"
    try:
        publish_all(broker.port, warm_fridge(event, t0, range(17), 9.0))
        assert wait_until(lambda: "firing" in states_of(alerts, cold), timeout=15)
        alert_id = of(alerts, cold)[-1]["alert_id"]  # type: ignore[index]
        acked_at = t0 + timedelta(minutes=16, seconds=30)
        ack = {"actor": "duty-officer-2", "note": "trader moving stock", "ts": acked_at.isoformat()}
        publish_all(broker.port, [(topics.ack(event, alert_id), json.dumps(ack))])
        assert wait_until(lambda: "acknowledged" in states_of(alerts, cold), timeout=10)
        assert wait_until(lambda: len(store.alert_events(alert_id=alert_id)) == 3, timeout=10)
        # a second acknowledgement changes nothing
        publish_all(broker.port, [(topics.ack(event, alert_id), json.dumps(ack))])
        assert wait_until(lambda: service.counters.acks == 2, timeout=10)
        assert wait_until(lambda: store.audit_entries(action="ack") != [], timeout=10)
    finally:
        service.stop()
    acked = of(alerts, cold)[-1]
    # the audit trail: the acknowledgement applied, once (the second changed nothing)
    [audit] = store.audit_entries()
    assert (audit.user, audit.action, audit.target, audit.detail) == (
        "duty-officer-2",
        "ack",
        alert_id,
        "trader moving stock",
    )
    assert audit.ts == datetime.fromisoformat(acked["recorded_at"])  # when the service took it
    assert acked is not None
    assert (acked["state"], acked["actor"], acked["note"]) == (
        "acknowledged",
        "duty-officer-2",
        "trader moving stock",
    )
    # stamped with the event clock (the newest reading, run on at wall speed since), the
    # sender's time kept beside it
    assert t0 + timedelta(minutes=16) <= datetime.fromisoformat(acked["ts"]) < acked_at
    assert datetime.fromisoformat(acked["sent_ts"]) == acked_at
    topic = topics.alert(event, alert_id)
    assert json.loads(retained(broker.port, topic)[topic])["state"] == "acknowledged"
    stored = store.alert_events(alert_id=alert_id)
    assert [e.state for e in stored] == ["pending", "firing", "acknowledged"]
    assert stored[-1].actor == "duty-officer-2"
    assert service.counters.acks_ignored == 1


def test_an_acknowledgement_is_dated_by_the_event_clock_not_by_its_sender(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    tmp_path: Path,
    collect: Any,
    engine: Any,
    venue: Venue,
) -> None:
    """Issue 11: an acknowledgement dated 2199 sorted after the resolution, so the resolved
    alert stayed active (and acknowledged) for ever; one dated before its alert fired faked a
    quick response in the drill report. Both are stamped with the event clock now, the
    sender's time kept as `sent_ts`."""
    alerts = collect(topics.alerts_filter(event))
    service = start_rules(broker.port, event, tmp_path, store, engine, venue=venue)
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    other = "dough-bros-fridge"
    cold, cold2 = f"cold-holding.{FRIDGE}", f"cold-holding.{other}"
    forged = datetime(2199, 1, 1, tzinfo=UTC)
    try:
        warm = [temp(event, other, t0 + timedelta(minutes=m), 9.0) for m in range(17)]
        publish_all(broker.port, warm_fridge(event, t0, range(17), 9.0) + warm)
        assert wait_until(
            lambda: "firing" in states_of(alerts, cold) and "firing" in states_of(alerts, cold2),
            timeout=15,
        )
        future_id = of(alerts, cold)[-1]["alert_id"]  # type: ignore[index]
        past_id = of(alerts, cold2)[-1]["alert_id"]  # type: ignore[index]
        acks = [
            (topics.ack(event, future_id), b'{"actor": "duty-1", "ts": "2199-01-01T00:00:00Z"}'),
            (topics.ack(event, past_id), json.dumps({"actor": "duty-2", "ts": t0.isoformat()})),
        ]
        publish_all(broker.port, acks)
        assert wait_until(
            lambda: (
                "acknowledged" in states_of(alerts, cold)
                and "acknowledged" in states_of(alerts, cold2)
            ),
            timeout=10,
        )
        clock = service.event_clock.now(datetime.now(UTC))
        # the first fridge cools down: its alert resolves
        publish_all(broker.port, warm_fridge(event, t0, range(17, 19), 3.0))
        assert wait_until(lambda: None in states_of(alerts, cold), timeout=15)
        assert wait_until(lambda: len(store.alert_events(alert_id=future_id)) == 4, timeout=10)
        assert wait_until(lambda: len(store.alert_events(alert_id=past_id)) == 3, timeout=10)
    finally:
        service.stop()
    assert clock is not None
    history = store.alert_events(alert_id=future_id)
    assert [e.state for e in history] == ["pending", "firing", "acknowledged", "resolved"]
    acked = history[2]
    assert history[1].ts <= acked.ts <= clock and acked.sent_ts == forged
    # what `opsroom query alerts --active` and the Overview show: the resolved alert is gone
    active = {e.alert_id: e.state for e in active_alerts(store.alert_events())}
    assert future_id not in active and active[past_id] == "acknowledged"
    # the back-dated one: acknowledged when it was taken, not before the alert fired
    [life] = lives(store.alert_events(alert_id=past_id))
    assert life.firing_at is not None and life.acked_at is not None
    assert life.firing_at <= life.acked_at <= clock
    back_dated = store.alert_events(alert_id=past_id)[-1]
    assert back_dated.sent_ts == t0 and back_dated.actor == "duty-2"


def test_a_restart_mid_alert_neither_duplicates_nor_loses_it(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    tmp_path: Path,
    collect: Any,
    engine: Any,
    venue: Venue,
) -> None:
    alerts = collect(topics.alerts_filter(event))
    t0 = datetime.now(UTC) - timedelta(minutes=40)
    cold = f"cold-holding.{FRIDGE}"
    service = start_rules(broker.port, event, tmp_path, store, engine, venue=venue)
    try:
        publish_all(broker.port, warm_fridge(event, t0, range(18), 9.0))
        assert wait_until(lambda: "firing" in states_of(alerts, cold), timeout=15)
    finally:
        service.stop()  # returns once the broker confirmed what it published
    alerts.sync()
    before = states_of(alerts, cold)
    assert before == ["pending", "firing"]
    alert_id = of(alerts, cold)[-1]["alert_id"]  # type: ignore[index]
    # while it is down: more warm readings, one of them a redelivery of an old one
    publish_all(broker.port, warm_fridge(event, t0, range(17, 25), 9.0))
    service = start_rules(broker.port, event, tmp_path, store, engine, venue=venue)
    try:
        assert wait_until(lambda: service.counters.readings == 8, timeout=10)
        # its counters after the 8 readings come after any alert they made: then the marker
        wait_status(broker.port, event, "rules", lambda s: s["readings"] == 8, live=True)
        alerts.sync()
        assert states_of(alerts, cold) == before  # no second pending or firing
        assert [a.alert_id for a in service.engine.active() if a.rule == "cold-holding"] == [  # type: ignore[union-attr]
            alert_id
        ]
        publish_all(broker.port, warm_fridge(event, t0, range(25, 27), 3.0))
        assert wait_until(lambda: None in states_of(alerts, cold), timeout=15)
    finally:
        service.stop()
    assert states_of(alerts, cold) == ["pending", "firing", "resolved", None]
    assert of(alerts, cold)[2]["alert_id"] == alert_id  # type: ignore[index]
    assert [e.state for e in store.alert_events(alert_id=alert_id)] == [
        "pending",
        "firing",
        "resolved",
    ]


STATION = "wx-arena"  # a weather station of examples/venue.yaml
CALM = {"wind_ms": 3.0, "gust_ms": 5.0, "strikes": 0}


def wx(event: str, ts: datetime, **values: float) -> tuple[str, bytes]:
    payload = {"ts": ts.isoformat(), **CALM, **values}
    return topics.reading(event, "weather", STATION), json.dumps(payload).encode()


def test_the_lightning_all_clear_waits_30_minutes_across_a_restart(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    tmp_path: Path,
    collect: Any,
    engine: Any,
    venue: Venue,
) -> None:
    """The 30-minute window is in the state file: a restart does not bring the all-clear early."""
    alerts = collect(topics.alerts_filter(event))
    t0 = datetime.now(UTC) - timedelta(minutes=50)
    lightning = f"lightning.{STATION}"
    service = start_rules(broker.port, event, tmp_path, store, engine, venue=venue)
    try:
        publish_all(broker.port, [wx(event, t0, strike_km=5.0, strikes=3)])
        assert wait_until(lambda: "firing" in states_of(alerts, lightning), timeout=15)
    finally:
        service.stop()
    service = start_rules(broker.port, event, tmp_path, store, engine, venue=venue)
    try:
        # 20 minutes of readings without a strike
        publish_all(broker.port, [wx(event, t0 + timedelta(minutes=m)) for m in range(1, 21)])
        wait_status(broker.port, event, "rules", lambda s: s["readings"] == 20, live=True)
        alerts.sync()
        assert states_of(alerts, lightning) == ["firing"]
        publish_all(broker.port, [wx(event, t0 + timedelta(minutes=30))])
        assert wait_until(lambda: None in states_of(alerts, lightning), timeout=15)
    finally:
        service.stop()
    assert states_of(alerts, lightning) == ["firing", "resolved", None]
    resolved = of(alerts, lightning)[1]
    assert resolved is not None
    assert datetime.fromisoformat(resolved["ts"]) == t0 + timedelta(minutes=30)


def test_a_device_going_offline_raises_a_silent_device_alert(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    tmp_path: Path,
    collect: Any,
    engine: Any,
    venue: Venue,
) -> None:
    alerts = collect(topics.alerts_filter(event))
    service = start_rules(broker.port, event, tmp_path, store, engine, venue=venue)
    t0 = datetime.now(UTC) - timedelta(minutes=2)
    try:
        publish_all(broker.port, [temp(event, FREEZER, t0, -20.0)])
        # the device's last will: retained "offline" on its status topic
        publish_all(broker.port, [(topics.status(event, FREEZER), b"offline")], retain=True)
        assert wait_until(lambda: "firing" in states_of(alerts, f"silent-device.{FREEZER}"))
        # data again: the silence is over
        publish_all(broker.port, [temp(event, FREEZER, datetime.now(UTC), -20.5)])
        assert wait_until(lambda: None in states_of(alerts, f"silent-device.{FREEZER}"))
    finally:
        service.stop()
        publish_all(broker.port, [(topics.status(event, FREEZER), b"")], retain=True)
    [firing, resolved, cleared] = of(alerts, f"silent-device.{FREEZER}")
    assert firing is not None and resolved is not None and cleared is None
    assert "offline" in firing["message"]
    assert resolved["state"] == "resolved"
    assert service.counters.statuses == 1


def test_mqtt_311_with_a_small_inflight_window(
    tmp_path: Path, event: str, store: SqliteStore, engine: Any, venue: Venue
) -> None:
    """Without v5 and with Mosquitto's default window of 20 unacknowledged messages, state is
    saved (and messages acknowledged) as the stream pauses, not only every save interval."""
    broker = Mosquitto(tmp_path / "m311", max_inflight_messages=20).start()
    try:
        service = RulesService(
            make_settings(broker.port, event, tmp_path, mqtt_protocol="3.1.1"),
            store,
            engine,
            venue,
        )
        service.start()
        assert service.wait_connected(10)
        start = datetime.now(UTC) - timedelta(hours=1)
        msgs = [
            temp(event, FRIDGE, start + timedelta(seconds=i), 3.0 + (i % 20) / 10)
            for i in range(2000)
        ]
        started = time.monotonic()
        try:
            publish_all(broker.port, msgs)
            assert wait_until(lambda: service.counters.readings == 2000, timeout=30)
        finally:
            service.stop()
        assert time.monotonic() - started < 15
        assert service.protocol == "3.1.1"
    finally:
        broker.stop()


# -- the command line --------------------------------------------------------------------------


def cli_env(broker: Mosquitto, event: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "OPSROOM_MQTT_URL": broker.url,
        "OPSROOM_EVENT": event,
        "OPSROOM_STORE": f"sqlite:///{tmp_path / 'cli.db'}",
        "OPSROOM_RULES": str(ROOT / "examples" / "rules.yaml"),
        "OPSROOM_VENUE": str(ROOT / "examples" / "venue.yaml"),
        "OPSROOM_DATA_DIR": str(tmp_path / "data"),
        "OPSROOM_STATS_INTERVAL_S": "0.3",
        "OPSROOM_SESSION_EXPIRY_S": "120",
    }


def start_cli(env: dict[str, str], port: int, event: str) -> subprocess.Popen[str]:
    """`opsroom rules`, once it is ready (its status on _sys/rules says so)."""
    status = Collector(port, topics.system(event, "rules"))
    status.sync()  # a retained one from a previous run comes first
    status.messages.clear()
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsroom", "rules"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert wait_until(lambda: any(b'"ready"' in m.payload for m in status.messages), 20)
    finally:
        status.close()
    return proc


def query(env: dict[str, str], *args: str) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "opsroom", "query", "alerts", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout) if "--json" in args else out.stdout


def test_cli_rules_survives_a_kill_and_exits_zero_on_sigterm(
    broker: Mosquitto, event: str, tmp_path: Path, collect: Any
) -> None:
    alerts = collect(topics.alerts_filter(event))
    env = cli_env(broker, event, tmp_path)
    cold = f"cold-holding.{FRIDGE}"
    t0 = datetime.now(UTC) - timedelta(minutes=40)
    proc = start_cli(env, broker.port, event)
    try:
        publish_all(broker.port, warm_fridge(event, t0, range(17), 9.0))
        assert wait_until(lambda: "firing" in states_of(alerts, cold), timeout=20)
        state = Path(env["OPSROOM_DATA_DIR"]) / f"rules-{event}.state.json"
        # the state that holds it is saved within the save interval
        assert wait_until(lambda: state.exists() and '"firing"' in state.read_text(), 10)
    finally:
        proc.kill()  # a crash: no clean stop, no final save
        proc.communicate(timeout=10)
    publish_all(broker.port, warm_fridge(event, t0, range(17, 20), 9.0))
    proc = start_cli(env, broker.port, event)
    try:
        publish_all(broker.port, warm_fridge(event, t0, range(20, 22), 2.0))
        assert wait_until(lambda: None in states_of(alerts, cold), timeout=20)
        rows = query(env, "--json")
        active = query(env, "--active", "--json")
        table = query(env, "--active")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "rules stopped" in err
    assert states_of(alerts, cold) == ["pending", "firing", "resolved", None]
    mine = [r for r in rows if r["rule"] == "cold-holding"]
    assert [r["state"] for r in mine] == ["pending", "firing", "resolved"]
    assert {AlertEvent.model_validate(r).alert_id for r in mine} == {
        f"{cold}.{int(t0.timestamp())}"
    }
    assert active and all(r["state"] != "resolved" for r in active)
    assert cold not in {r["alert_id"].rsplit(".", 1)[0] for r in active}
    assert "silent-device" in table and "severity" in table.splitlines()[0]


def test_cli_rules_runs_the_example_rules_with_another_venue(
    broker: Mosquitto, event: str, tmp_path: Path, collect: Any
) -> None:
    """The shared rules file with a second venue: the overrides naming the example venue's
    entities are logged as warnings, and the rules run on the venue's own entities."""
    alerts = collect(topics.alerts_filter(event))
    env = cli_env(broker, event, tmp_path)
    env["OPSROOM_VENUE"] = str(ROOT / "tests" / "rules" / "other-venue.yaml")
    fridge = "cafe-fridge"  # a fridge of the other venue
    t0 = datetime.now(UTC) - timedelta(minutes=40)
    proc = start_cli(env, broker.port, event)  # before the fix: exit 2 before ready
    try:
        publish_all(
            broker.port, [temp(event, fridge, t0 + timedelta(minutes=m), 9.0) for m in range(17)]
        )
        assert wait_until(lambda: "firing" in states_of(alerts, f"cold-holding.{fridge}"), 20)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    for entity in ("dance-tent-gate", "gen-family", "arena-bar-fridge", "green-leaf-hot"):
        assert f".overrides.{entity}: {entity!r} is not a zone" in err, err
    assert err.count("this override is ignored") == 5


def test_broker_restart_mid_stream_loses_no_alert(
    own_broker: Mosquitto,
    event: str,
    store: SqliteStore,
    tmp_path: Path,
    engine: Any,
    venue: Venue,
) -> None:
    """Mosquitto (with persistence) is stopped and started while 3,000 readings flow: the
    rules service reconnects, its persistent session resumes, and the warm spell still gives
    exactly one alert that fires and resolves."""
    service = start_rules(own_broker.port, event, tmp_path, store, engine, venue=venue)
    pub = publisher(own_broker.port, client_id=f"pub-{event}")
    confirmed: set[int] = set()
    pub.on_publish = lambda c, u, mid, rc, p: confirmed.add(mid)
    t0 = datetime.now(UTC) - timedelta(hours=1)
    values = [3.5] * 1000 + [9.5] * 1500 + [3.5] * 500  # warm for 25 min of event time
    try:
        for i, value in enumerate(values):
            topic, body = temp(event, FRIDGE, t0 + timedelta(seconds=i), value)
            pub.publish(topic, body, qos=1)
            if i == 1200:  # mid-alert: pending, not yet firing
                assert wait_until(lambda: service.counters.received > 0, timeout=10)  # flowing
                own_broker.stop()
                # the broker is really gone for the rules service before it comes back
                assert wait_until(lambda: not service.session.connected.is_set(), timeout=10)
                own_broker.start()
        assert wait_until(lambda: len(confirmed) == len(values), timeout=60), len(confirmed)

        def states() -> list[str]:
            return [e.state for e in store.alert_events() if e.rule == "cold-holding"]

        assert wait_until(lambda: "resolved" in states(), timeout=60), states()
    finally:
        service.stop()
        pub.loop_stop()
    cold = [e for e in store.alert_events() if e.rule == "cold-holding"]
    assert len({e.alert_id for e in cold}) == 1  # one alert, not one per connection
    assert [e.state for e in cold] == ["pending", "firing", "resolved"]
    firing = cold[1]
    assert firing.ts == t0 + timedelta(seconds=1000 + 15 * 60)  # 15 min after it went warm
    assert service.counters.reconnects >= 1


def retained_alerts(port: int, event: str, n: int) -> dict[str, bytes]:
    """The retained alert messages a new subscriber gets, once it has `n` of them."""
    fresh = Collector(port, topics.alerts_filter(event))
    try:
        fresh.wait_for(n, timeout=10)
    finally:
        fresh.close()
    return {m.topic: bytes(m.payload) for m in fresh.messages if m.retain}


def test_active_alerts_are_republished_when_the_broker_lost_its_retained_messages(
    tmp_path: Path, event: str, store: SqliteStore
) -> None:
    """Issue 11: a Mosquitto restarted without persistence forgets the retained alerts and the
    service's session; on reconnecting, the service publishes every active alert retained
    again, exactly as it last sent it (acknowledgement included)."""
    bare = Mosquitto(tmp_path / "bare", extra_config=["persistence false"]).start()
    service = start_rules(bare.port, event, tmp_path, store, FakeEngine)
    try:
        sent = Collector(bare.port, topics.alerts_filter(event))
        t0 = datetime.now(UTC) - timedelta(minutes=5)
        publish_all(bare.port, [temp(event, f, t0, 9.0) for f in ("f1", "f2", "f3")])
        assert len(sent.wait_for(3)) == 3
        publish_all(bare.port, [(topics.ack(event, "hot.f2"), b'{"actor": "duty-1"}')])
        assert len(sent.wait_for(4)) == 4
        sent.close()
        last = {m.topic: bytes(m.payload) for m in sent.messages}
        assert retained_alerts(bare.port, event, 3) == last
        bare.stop()
        bare.start()
        watcher = Collector(bare.port, topics.alerts_filter(event))
        try:
            assert wait_until(lambda: service.counters.reconnects >= 1, timeout=20)
            # the broker has the alerts again once a subscriber got them (live or retained)
            assert len(watcher.wait_for(3, timeout=20)) == 3
        finally:
            watcher.close()
        assert retained_alerts(bare.port, event, 3) == last
        assert json.loads(last[topics.alert(event, "hot.f2")])["state"] == "acknowledged"
    finally:
        service.stop()
        bare.stop()
    assert service.counters.republished == 3


def test_active_alerts_are_republished_when_the_service_starts(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    tmp_path: Path,
    collect: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The broker kept the service's session but not its retained alert (restored from an
    autosave older than the alert, or cleared by hand): a start republishes it all the same."""
    alerts = collect(topics.alerts_filter(event))
    service = start_rules(broker.port, event, tmp_path, store, FakeEngine)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    try:
        publish_all(broker.port, [temp(event, "f1", t0, 9.0)])
        [firing] = alerts.wait_for(1)
    finally:
        service.stop()
    topic = topics.alert(event, "hot.f1")
    publish_all(broker.port, [(topic, b"")], retain=True)  # the broker lost it
    service = start_rules(broker.port, event, tmp_path, store, FakeEngine)
    try:
        assert "(session resumed)" in caplog.text  # not the "no session" case
        assert wait_until(lambda: service.counters.published >= 1, timeout=10)
        assert retained_alerts(broker.port, event, 1) == {topic: bytes(firing.payload)}
    finally:
        service.stop()
        publish_all(broker.port, [(topic, b"")], retain=True)
    assert service.counters.republished == 1


def test_a_reading_queued_while_stopped_raises_its_alert_once(
    broker: Mosquitto, event: str, store: SqliteStore, tmp_path: Path, collect: Any
) -> None:
    """The broker hands the session's queued reading over before the SUBACK, so its alert is
    already out when the start's republish runs: that republish sends what was active at the
    CONNACK (nothing here), not the alert just raised a second time (CI saw 2 messages)."""
    start_rules(broker.port, event, tmp_path, store, FakeEngine).stop()  # the session exists
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    publish_all(broker.port, [temp(event, "f1", t0, 9.0)])  # queued for the stopped service
    alerts = collect(topics.alerts_filter(event))
    service = start_rules(broker.port, event, tmp_path, store, FakeEngine)
    try:
        assert wait_until(lambda: service.counters.published >= 1, timeout=10)
        assert wait_until(lambda: not service.writer.unconfirmed, timeout=10)
        # one more message through the broker after the alert: everything before it has arrived
        publish_all(broker.port, [temp(event, "f2", t0, 9.0)])
        assert len(alerts.wait_for(2)) >= 2
    finally:
        service.stop()
    assert [m.topic for m in alerts.messages] == [
        topics.alert(event, "hot.f1"),
        topics.alert(event, "hot.f2"),
    ]
    assert service.counters.republished == 0


def test_a_venue_that_never_reports_raises_silent_device_alerts_on_the_wall_clock(
    broker: Mosquitto, event: str, store: SqliteStore, tmp_path: Path, collect: Any, venue: Venue
) -> None:
    """Every device uses the wrong event id (or is refused by the broker): nothing arrives, so
    there is no event clock; the devices of the venue file are silent on the wall clock."""
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(
        "rules:\n  - {id: silent-device, kind: no_data, applies_to: all, after: 2s}\n",
        encoding="utf-8",
    )
    ruleset = load_rules(rules_file, venue)
    expected = {s.id for s in subjects_of(venue).values()}
    alerts = collect(topics.alerts_filter(event))
    started = datetime.now(UTC)
    service = start_rules(
        broker.port,
        event,
        tmp_path,
        store,
        lambda state: Engine(ruleset, venue, state),
        venue=venue,
    )
    try:

        def silent() -> set[str]:
            return {p["subject"] for p in of(alerts, "silent-device.") if p}

        assert wait_until(lambda: silent() == expected, timeout=20)
    finally:
        service.stop()
    firing = [p for p in of(alerts, "silent-device.") if p]
    assert len(firing) == len(expected)  # one each, no repeats
    for p in firing:
        assert (p["state"], p["severity"], p["drill"]) == ("firing", "warning", False)
        assert "no reading from this" in p["message"] and "yet" in p["message"]
        # stamped when the grace ran out on the wall clock, counted from the service's start
        fired = datetime.fromisoformat(p["ts"])
        assert started + timedelta(seconds=2) <= fired <= started + timedelta(seconds=6)
    assert service.counters.readings == 0
