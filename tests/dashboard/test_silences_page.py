"""The Alerts page's escalation column and silences panel (AppTest; a real Mosquitto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from opsroom import topics
from opsroom.alerts import NotificationAttempt
from opsroom.settings import Settings
from tests.conftest import Collector, wait_until
from tests.dashboard import data
from tests.dashboard.test_pages import PAGES, env, errors, logged_in  # noqa: F401 (fixture)


def silences(got: Collector) -> list[Any]:
    return [m for m in got.messages if m.payload]


def test_the_active_alert_shows_its_latest_escalation(env) -> None:  # noqa: F811
    env()
    path = Settings.load().notification_log
    path.parent.mkdir(parents=True)
    at = datetime(2026, 7, 4, 16, 30, tzinfo=UTC)
    lines = [
        NotificationAttempt(
            at=datetime.now(UTC),
            notifier=name,
            type="webhook",
            alert_id=data.ALERT_ID,
            state="firing",
            severity="critical",
            attempt=1,
            ok=True,
            escalation_tier=tier,
            escalated_at=at + timedelta(minutes=10 * tier),
        ).model_dump_json()
        for tier, name in ((1, "duty"), (2, "manager"))
    ]
    path.write_text("\n".join(lines) + "\n")
    page = logged_in(PAGES["alerts"])
    active = page.dataframe[0].value.set_index("subject")
    tz = data.venue().event.timezone
    local = (at + timedelta(minutes=20)).astimezone(__import__("zoneinfo").ZoneInfo(tz))
    assert active.loc[data.HOT_FRIDGE, "escalation"] == (f"escalated to tier 2 at {local:%H:%M:%S}")


@pytest.mark.integration
def test_a_silence_added_on_the_page_is_retained_on_the_broker_and_listed(
    env,  # noqa: F811
    broker,
    collect,
    event,
    monkeypatch,
) -> None:
    env(event=event)
    monkeypatch.setenv("OPSROOM_MQTT_URL", broker.url)
    monkeypatch.setenv("OPSROOM_EVENT", event)
    got = collect(topics.silences_filter(event))
    page = logged_in(PAGES["alerts"])
    assert "No silences in force." in [c.value for c in page.caption]
    # bad input: refused, nothing published
    page.text_input(key="sil_entity").input(data.HOT_FRIDGE)
    page.button(key="FormSubmitter:silence_form-Add silence").click().run()
    assert "Silence NOT added" in errors(page) and "reason" in errors(page)
    page.text_area(key="sil_reason").input("<script>alert(1)</script> restock")
    page.button(key="FormSubmitter:silence_form-Add silence").click().run()
    assert any("Silence s-" in s.value for s in page.success), errors(page)
    # the page's reads of the list publish an empty marker each: only the silence has a body
    assert wait_until(lambda: len(silences(got)) == 1, timeout=10)
    [msg] = silences(got)
    body = orjson.loads(msg.payload)
    assert body["entity"] == data.HOT_FRIDGE and body["author"] == "admin"  # the login
    assert body["reason"] == "<script>alert(1)</script> restock"  # kept as text
    page = logged_in(PAGES["alerts"])  # a new page reads it back as retained on the broker
    table = next(d.value for d in page.dataframe if "reason" in d.value.columns)
    assert table["id"].tolist() == [body["id"]] and table["state"].tolist() == ["in force"]
    page.button(key="FormSubmitter:silence_expire_form-Expire now").click().run()
    assert any("expired" in s.value for s in page.success), errors(page)
    assert wait_until(lambda: len(silences(got)) == 2, timeout=10)
    expired = orjson.loads(silences(got)[-1].payload)
    assert expired["expired_at"]
