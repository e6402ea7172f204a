"""The control log over a real Mosquitto: entries go live on `log/<category>/<id>`, and the
rules service logs every alert transition and acknowledgement by itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsroom import topics
from opsroom.app.cli import main
from opsroom.broker import Mosquitto
from opsroom.controllog import LogEntry
from opsroom.store.sqlite import SqliteStore
from opsroom.venue import Venue
from tests.conftest import wait_until
from tests.integration.test_rules_service import (  # noqa: F401 (fixtures)
    FRIDGE,
    engine,
    of,
    publish_all,
    ruleset,
    start_rules,
    states_of,
    venue,
    warm_fridge,
)

pytestmark = pytest.mark.integration


def test_a_cli_entry_is_published_live_and_stored(
    broker: Mosquitto, event: str, tmp_path: Path, collect: Any, capsys: Any
) -> None:
    live = collect(topics.log_filter(event))
    db = tmp_path / "log.db"
    code = main(
        ["log", "add", "--category", "medical", "--priority", "high", "--text",
         "Faint at the main stage", "--author", "Ann", "--event", event,
         "--mqtt-url", f"mqtt://127.0.0.1:{broker.port}", "--store", f"sqlite:///{db}"]
    )  # fmt: skip
    _out, err = capsys.readouterr()
    assert code == 0 and "not published" not in err, err
    [msg] = live.wait_for(1, timeout=10)
    entry = LogEntry.model_validate_json(msg.payload)
    assert msg.topic == topics.log_entry(event, "medical", entry.id)
    assert not msg.retain and msg.qos == 1
    assert (entry.author, entry.text, entry.priority) == ("Ann", "Faint at the main stage", "high")
    assert SqliteStore(db, event=event).log_entries() == [entry]  # what a dashboard reads


def test_alert_transitions_and_the_acknowledgement_enter_the_log_by_themselves(
    broker: Mosquitto,
    event: str,
    tmp_path: Path,
    collect: Any,
    engine: Callable[[dict[str, Any] | None], Any],  # noqa: F811
    venue: Venue,  # noqa: F811
) -> None:
    alerts, live = collect(topics.alerts_filter(event)), collect(topics.log_filter(event))
    store = SqliteStore(tmp_path / "rules.db", event=event)
    service = start_rules(broker.port, event, tmp_path, store, engine, venue=venue)
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    cold = f"cold-holding.{FRIDGE}"
    try:
        publish_all(broker.port, warm_fridge(event, t0, range(17), 9.0))
        assert wait_until(lambda: "firing" in states_of(alerts, cold), timeout=15)
        alert_id = of(alerts, cold)[-1]["alert_id"]  # type: ignore[index]
        ack = {"actor": "duty-officer-2", "note": "trader moving stock"}
        publish_all(broker.port, [(topics.ack(event, alert_id), json.dumps(ack))])

        def of_alert() -> list[LogEntry]:
            return [e for e in store.log_entries() if e.alert_id == alert_id]

        assert wait_until(lambda: len(of_alert()) == 3, timeout=15)
        # every transition of the venue (silent devices too) is logged and published
        assert wait_until(lambda: len(live.messages) >= len(store.log_entries()), timeout=10)
    finally:
        service.stop()
    entries = of_alert()
    assert [(e.kind, e.alert_id, e.category) for e in entries] == [
        ("alert", alert_id, "food_safety")
    ] * 3
    assert [e.text.split(":")[0].split(" ", 1)[1] for e in entries] == [
        "alert pending",
        "alert firing",
        "alert acknowledged by duty-officer-2",
    ]
    assert entries[-1].author == "duty-officer-2"
    assert [e.event_ts for e in entries] == [a.ts for a in store.alert_events(alert_id=alert_id)]
    assert {m.topic for m in live.messages} >= {
        topics.log_entry(event, "food_safety", e.id) for e in entries
    }
    store.close()
