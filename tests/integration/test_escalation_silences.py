"""Escalation and silences end to end: a real Mosquitto, the real engine with the example
venue and rules, local webhook receivers, the `opsroom silence` command; on drill-speed event
time (an hour of readings published in seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsroom import topics
from opsroom.alerts import AlertEvent
from opsroom.broker import Mosquitto
from opsroom.store.sqlite import SqliteStore
from opsroom.venue import Venue
from rules.escalation import EscalationPolicy, Tier
from rules.notify import NotifierSet, RetryPolicy, Route, WebhookNotifier
from tests.conftest import wait_until
from tests.integration.test_rules_service import (
    FRIDGE,
    cli_env,
    engine,  # noqa: F401 (fixture)
    of,
    publish_all,
    retained,
    ruleset,  # noqa: F401 (fixture)
    start_rules,
    states_of,
    store,  # noqa: F401 (fixture)
    venue,  # noqa: F401 (fixture)
    warm_fridge,
)
from tests.rules.test_notify import Target

pytestmark = pytest.mark.integration
COLD = f"cold-holding.{FRIDGE}"
NOTHING = Route(frozenset({"info"}), frozenset({"acknowledged"}))  # only escalations reach it


def bodies(hook: Target, alert_id: str) -> list[AlertEvent]:
    sent = [AlertEvent.model_validate_json(body) for _, _, body in hook.requests]
    return [e for e in sent if e.alert_id == alert_id]


def tiers(hook: Target) -> list[int | None]:
    sent = [AlertEvent.model_validate_json(body) for _, _, body in hook.requests]
    return [e.escalation_tier for e in sent if e.alert_id.startswith(COLD)]


def escalating(duty: Target, manager: Target) -> NotifierSet:
    policy = EscalationPolicy(
        tiers=[Tier(after_min=5, notify=["duty"]), Tier(after_min=15, notify=["manager"])],
        repeat_min=10,
    )
    return NotifierSet(
        (
            (WebhookNotifier("duty", duty.url), NOTHING),
            (WebhookNotifier("manager", manager.url), NOTHING),
        ),
        RetryPolicy(backoff_s=0.05),
        {"critical": policy},
    )


def test_an_unacknowledged_critical_alert_escalates_tier_by_tier_across_a_restart(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,  # noqa: F811
    tmp_path: Path,
    collect: Any,
    engine: Any,  # noqa: F811
    venue: Venue,  # noqa: F811
) -> None:
    """Fires at minute 15; tier 1 at 20, the service restarts, tier 2 at 30 (tier 1 not
    again); acknowledged at 31, the repeat due at 40 never comes."""
    alerts = collect(topics.alerts_filter(event))
    escalations = collect(f"opsroom/{event}/escalations/+")
    duty, manager = Target(), Target()
    t0 = datetime.now(UTC) - timedelta(minutes=60)
    service = start_rules(
        broker.port,
        event,
        tmp_path,
        store,
        engine,
        venue=venue,
        notifiers=escalating(duty, manager),
    )
    try:
        publish_all(broker.port, warm_fridge(event, t0, range(20), 9.0))
        assert wait_until(lambda: "firing" in states_of(alerts, COLD), timeout=15)
        assert service.counters.escalations == 0  # minute 19: not yet
        publish_all(broker.port, warm_fridge(event, t0, range(20, 22), 9.0))
        assert wait_until(lambda: tiers(duty) == [1], timeout=10)
        assert tiers(manager) == []
        [first] = [m for m in duty.requests]
        sent = AlertEvent.model_validate_json(first[2])
        assert sent.message.startswith("escalated to tier 1, unacknowledged for 5 min")
        assert sent.ts == t0 + timedelta(minutes=20)
        assert wait_until(lambda: json.loads(service.state_file.read_text())["escalation"], 5)
    finally:
        service.stop()
    saved = json.loads(service.state_file.read_text())["escalation"]
    [(alert_id, track)] = saved.items()
    assert track["tier"] == 1

    service = start_rules(
        broker.port,
        event,
        tmp_path,
        store,
        engine,
        venue=venue,
        notifiers=escalating(duty, manager),
    )
    try:
        publish_all(broker.port, warm_fridge(event, t0, range(22, 31), 9.0))
        assert wait_until(lambda: tiers(manager) == [2], timeout=10)
        assert tiers(duty) == [1]  # tier 1 is not called again after the restart
        topic = topics.escalation(event, alert_id)
        record = json.loads(retained(broker.port, topic)[topic])
        assert (record["tier"], record["notify"]) == (2, ["manager"])
        assert record["at"] == (t0 + timedelta(minutes=30)).isoformat()

        ack = {"actor": "duty-officer-2", "note": "on my way"}
        publish_all(broker.port, [(topics.ack(event, alert_id), json.dumps(ack))])
        assert wait_until(lambda: "acknowledged" in states_of(alerts, COLD), timeout=10)
        assert wait_until(lambda: service.escalator.tracked == {}, timeout=5)
        before = service.counters.readings
        publish_all(broker.port, warm_fridge(event, t0, range(31, 46), 9.0))
        assert wait_until(lambda: service.counters.readings == before + 15, timeout=10)
        ticks = service.counters.ticks
        assert wait_until(lambda: service.counters.ticks > ticks + 1, timeout=10)
        # the escalation's retained record is cleared once acknowledged
        assert wait_until(lambda: topic not in retained(broker.port, topic), timeout=5)
    finally:
        service.stop()
        duty.close()
        manager.close()
    assert tiers(duty) == [1] and tiers(manager) == [2]  # no repeat at minute 40
    assert service.counters.escalations == 1  # this run's: tier 2
    logged = [json.loads(x) for x in service.settings.notification_log.read_text().splitlines()]
    assert [(x["notifier"], x["escalation_tier"], x["ok"]) for x in logged] == [
        ("duty", 1, True),
        ("manager", 2, True),
    ]
    assert [e.state for e in store.alert_events(alert_id=alert_id)] == [
        "pending",
        "firing",
        "acknowledged",
    ]
    assert [
        p["tier"] for p in map(json.loads, (m.payload for m in escalations.messages if m.payload))
    ] == [1, 2]
    # each escalation is in the control log by itself, linked to its alert (once, across the
    # restart), beside the transitions
    escalated = [e for e in store.log_entries() if e.text.startswith("escalated to tier")]
    assert [(e.alert_id, e.priority, e.text[:18]) for e in escalated] == [
        (alert_id, "urgent", "escalated to tier "),
        (alert_id, "urgent", "escalated to tier "),
    ]
    assert "tier 1" in escalated[0].text and "tier 2" in escalated[1].text


def silence_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsroom", "silence", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_silence_from_the_cli_holds_notifications_for_its_window_and_not_after(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,  # noqa: F811
    tmp_path: Path,
    collect: Any,
    engine: Any,  # noqa: F811
    venue: Venue,  # noqa: F811
) -> None:
    """Restocking the fridge from minute 0 to 25: its alert fires at 15, is published and
    stored as silenced, not sent; the service restarts mid-silence; at 25 it is sent."""
    alerts = collect(topics.alerts_filter(event))
    hook = Target()
    route = Route(frozenset({"critical"}), frozenset({"firing", "resolved"}))
    t0 = datetime.now(UTC) - timedelta(minutes=60)
    env = cli_env(broker, event, tmp_path)

    def notifiers() -> NotifierSet:
        return NotifierSet(((WebhookNotifier("ops", hook.url), route),), RetryPolicy())

    # bad input: refused with the reason, nothing published
    bad = silence_cli(
        env,
        "add",
        "--entity",
        FRIDGE,
        "--reason",
        "x",
        "--start",
        t0.isoformat(),
        "--until",
        (t0 - timedelta(minutes=1)).isoformat(),
    )
    assert bad.returncode == 2 and "is not after starts_at" in bad.stderr
    bad = silence_cli(env, "add", "--entity", "no-such-fridge", "--reason", "x", "--for", "1h")
    assert bad.returncode == 2 and "unknown entity 'no-such-fridge'" in bad.stderr
    assert "no silences in force" in silence_cli(env, "list").stdout

    service = start_rules(
        broker.port, event, tmp_path, store, engine, venue=venue, notifiers=notifiers()
    )
    try:
        added = silence_cli(
            env,
            "add",
            "--entity",
            FRIDGE,
            "--reason",
            "<b>restocking</b>",
            "--author",
            "Sam",
            "--start",
            t0.isoformat(),
            "--until",
            (t0 + timedelta(minutes=25)).isoformat(),
        )
        assert added.returncode == 0, added.stderr
        sid = added.stdout.split()[1].rstrip(":")
        listed = silence_cli(env, "list", "--all", "--json").stdout.splitlines()
        assert [json.loads(x)["reason"] for x in listed] == ["<b>restocking</b>"]
        assert wait_until(lambda: service.counters.silences == 1, timeout=10)

        publish_all(broker.port, warm_fridge(event, t0, range(18), 9.0))
        assert wait_until(lambda: "firing" in states_of(alerts, COLD), timeout=15)
        firing = of(alerts, COLD)[-1]
        assert firing is not None and firing["silenced_by"] == sid
        assert wait_until(lambda: service.counters.silenced >= 1, timeout=5)
    finally:
        service.stop()
    assert bodies(hook, firing["alert_id"]) == []  # held back
    assert [e.silenced_by for e in store.alert_events(alert_id=firing["alert_id"])] == [sid, sid]

    service = start_rules(
        broker.port, event, tmp_path, store, engine, venue=venue, notifiers=notifiers()
    )
    try:
        assert sid in service.silences.silences  # from the state file
        publish_all(broker.port, warm_fridge(event, t0, range(18, 24), 9.0))
        assert wait_until(lambda: service.counters.readings == 6, timeout=10)
        ticks = service.counters.ticks
        assert wait_until(lambda: service.counters.ticks > ticks + 1, timeout=10)
        assert bodies(hook, firing["alert_id"]) == []  # minute 23: still in the silence
        publish_all(broker.port, warm_fridge(event, t0, range(24, 27), 9.0))
        assert wait_until(lambda: len(bodies(hook, firing["alert_id"])) == 1, timeout=10)
    finally:
        service.stop()
        hook.close()
    [sent] = bodies(hook, firing["alert_id"])
    assert sent.state == "firing" and sent.silenced_by is None
    # the silence is in the control log, with its author and reason, once
    noted = [e for e in store.log_entries() if e.text.startswith(f"Silence {sid} by")]
    assert len(noted) == 1 and "reason:" in noted[0].text

    # expire: no longer listed as in force
    again = silence_cli(
        env, "add", "--family", "power", "--reason", "generator swap", "--for", "2h"
    )
    assert again.returncode == 0, again.stderr
    other = again.stdout.split()[1].rstrip(":")
    assert other in silence_cli(env, "list").stdout
    assert silence_cli(env, "expire", other).returncode == 0
    assert other not in silence_cli(env, "list").stdout
    assert silence_cli(env, "expire", "s-nope").returncode == 2


def test_the_service_refuses_a_bad_silence_message_and_keeps_running(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,  # noqa: F811
    tmp_path: Path,
    engine: Any,  # noqa: F811
    venue: Venue,  # noqa: F811
) -> None:
    from opsroom.silences import Known

    known = Known(None, frozenset({FRIDGE}), None)
    service = start_rules(broker.port, event, tmp_path, store, engine, venue=venue, known=known)
    t0 = datetime.now(UTC)
    good = {
        "id": "s-ok",
        "entity": FRIDGE,
        "starts_at": t0.isoformat(),
        "ends_at": (t0 + timedelta(hours=1)).isoformat(),
        "author": "Sam",
        "reason": "restock",
        "created_at": t0.isoformat(),
    }
    try:
        publish_all(
            broker.port,
            [
                (topics.silence(event, "s-1"), b"not json"),
                (topics.silence(event, "s-2"), json.dumps({**good, "id": "s-2", "reason": ""})),
                (topics.silence(event, "s-3"), json.dumps({**good, "id": "s-3", "entity": "x"})),
                (topics.silence(event, "s-ok"), json.dumps(good)),
            ],
            retain=True,
        )
        assert wait_until(lambda: service.counters.silences == 1, timeout=10)
        assert service.counters.bad_silences == 3
        assert list(service.silences.silences) == ["s-ok"]
    finally:
        service.stop()
        for sid in ("s-1", "s-2", "s-3", "s-ok"):
            publish_all(broker.port, [(topics.silence(event, sid), b"")], retain=True)


def test_an_alert_firing_before_the_policy_existed_escalates_after_a_restart(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,  # noqa: F811
    tmp_path: Path,
    collect: Any,
    engine: Any,  # noqa: F811
    venue: Venue,  # noqa: F811
) -> None:
    """Fired at minute 15 under a notifiers file without escalation; restarted at minute 21
    with one: tier 1 (due at 20) goes out at once, timed from the firing."""
    alerts = collect(topics.alerts_filter(event))
    duty, manager = Target(), Target()
    t0 = datetime.now(UTC) - timedelta(minutes=60)
    service = start_rules(broker.port, event, tmp_path, store, engine, venue=venue)
    try:
        publish_all(broker.port, warm_fridge(event, t0, range(22), 9.0))
        assert wait_until(lambda: "firing" in states_of(alerts, COLD), timeout=15)
        assert wait_until(lambda: service.counters.readings == 22, timeout=10)
    finally:
        service.stop()
    service = start_rules(
        broker.port,
        event,
        tmp_path,
        store,
        engine,
        venue=venue,
        notifiers=escalating(duty, manager),
    )
    try:
        assert wait_until(lambda: tiers(duty) == [1], timeout=10)
    finally:
        service.stop()
        duty.close()
        manager.close()
    [sent] = [AlertEvent.model_validate_json(b) for _, _, b in duty.requests]
    assert sent.ts == t0 + timedelta(minutes=20) and tiers(manager) == []
