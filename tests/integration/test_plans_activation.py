"""A firing alert activates its contingency plan in the control log, once, across a restart of
the rules service: a real Mosquitto, the real engine with the example venue, rules and plans."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsroom import topics
from opsroom.broker import Mosquitto
from opsroom.planrun import runs
from opsroom.plans import PlanSet, load_plans
from opsroom.store.sqlite import SqliteStore
from opsroom.venue import Venue
from rules.notify import describe
from tests.conftest import wait_until
from tests.integration.test_rules_service import (
    FREEZER,
    ROOT,
    engine,  # noqa: F401 (fixture)
    of,
    publish_all,
    ruleset,  # noqa: F401 (fixture)
    start_rules,
    states_of,
    store,  # noqa: F401 (fixture)
    temp,
    venue,  # noqa: F401 (fixture)
)

pytestmark = pytest.mark.integration
ALERT = f"freezer.{FREEZER}"


@pytest.fixture(scope="module")
def plans() -> PlanSet:
    return load_plans(ROOT / "examples" / "plans.yaml")


def warm_freezer(event: str, start: datetime, minutes: range) -> list[Any]:
    return [temp(event, FREEZER, start + timedelta(minutes=m), -10.0) for m in minutes]


def activations(db: SqliteStore) -> list[Any]:
    return [
        e for e in db.log_entries() if e.kind == "plan_activated" and e.plan_id == "freezer-failure"
    ]


def test_a_freezer_alert_activates_its_plan_once_across_a_restart(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,  # noqa: F811
    tmp_path: Path,
    collect: Any,
    engine: Any,  # noqa: F811
    venue: Venue,  # noqa: F811
    plans: PlanSet,
) -> None:
    alerts = collect(topics.alerts_filter(event))
    live_log = collect(f"opsroom/{event}/log/#")
    t0 = datetime.now(UTC) - timedelta(minutes=60)
    service = start_rules(broker.port, event, tmp_path, store, engine, venue=venue, plans=plans)
    try:
        publish_all(broker.port, warm_freezer(event, t0, range(20)))
        assert wait_until(lambda: "firing" in states_of(alerts, ALERT), timeout=15)
        assert wait_until(lambda: len(activations(store)) == 1, timeout=10)
        # the live feed carries it too, as the dashboard's other screens see it
        assert wait_until(
            lambda: any(b'"plan_activated"' in m.payload for m in live_log.messages), timeout=10
        )
    finally:
        service.stop()
    [entry] = activations(store)
    firing = next(p for p in of(alerts, ALERT) if p and p["state"] == "firing")
    assert entry.plan_id == "freezer-failure" and entry.alert_id == firing["alert_id"]
    assert entry.event_ts == datetime.fromisoformat(firing["ts"])  # when it fired, event time
    assert entry.steps_due is not None
    assert entry.steps_due["keep-shut"] == entry.event_ts + timedelta(minutes=5)
    # the alert message (and so every notifier and the webhook's JSON) names the plan
    assert firing["plan"]["name"] == "Freezer failure"
    assert len(firing["plan"]["first_steps"]) == 3

    service = start_rules(broker.port, event, tmp_path, store, engine, venue=venue, plans=plans)
    try:
        before = service.counters.readings
        publish_all(broker.port, warm_freezer(event, t0, range(20, 30)))
        assert wait_until(lambda: service.counters.readings == before + 10, timeout=10)
        stored = service.counters.stored
        # cool down: the alert resolves, and the run stays in the log
        publish_all(broker.port, [temp(event, FREEZER, t0 + timedelta(minutes=31), -20.0)])
        assert wait_until(lambda: None in states_of(alerts, ALERT), timeout=15)
        assert wait_until(lambda: service.counters.stored > stored, timeout=10)
    finally:
        service.stop()
    assert len(activations(store)) == 1  # the restart activated nothing again
    (run,) = [
        r
        for r in runs(store.log_entries(), plans, t0 + timedelta(minutes=60))
        if r.plan_id == "freezer-failure"
    ]
    assert run.alert_id == firing["alert_id"]
    assert [s.state for s in run.steps] == ["overdue"] * 4


def test_notifications_name_the_plan_and_its_first_steps(plans: PlanSet) -> None:
    from opsroom.alerts import AlertEvent
    from rules.writer import plan_brief

    event = AlertEvent(
        alert_id=ALERT, rule="freezer", subject=FREEZER, kind="coldchain", severity="critical",
        state="firing", ts=datetime(2026, 7, 4, 14, tzinfo=UTC), message="Freezer at -10 °C",
        plan=plan_brief(plans, "freezer"),
    )  # fmt: skip
    title, body = describe(event)
    assert title.endswith("plan: Freezer failure")
    assert "1. " not in body and "Tell the vendor to keep the freezer shut" in body
    assert json.loads(event.model_dump_json())["plan"]["id"] == "freezer-failure"
