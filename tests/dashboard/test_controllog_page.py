"""The Control log page, the Alerts page's "open an incident" and the Overview's open
incidents, through Streamlit's AppTest against a real SQLite file (and Mosquitto)."""

from __future__ import annotations

import os

import pytest

from opsroom import topics
from opsroom.controllog import LogEntry
from opsroom.store.sqlite import SqliteStore
from tests.dashboard import data
from tests.dashboard.test_pages import PAGES, env, errors, logged_in, markdown  # noqa: F401

LOG_PAGE = "views/controllog.py"


def stored(event: str = "demo") -> list[LogEntry]:
    path = os.environ["OPSROOM_STORE"].removeprefix("sqlite:///")
    return SqliteStore(path, event=event).log_entries()


@pytest.mark.integration
def test_a_quick_entry_is_stored_published_and_listed_escaped(  # type: ignore[no-untyped-def]
    env,  # noqa: F811
    broker,
    collect,
    event,
    monkeypatch,
):
    env(event=event)
    monkeypatch.setenv("OPSROOM_MQTT_URL", broker.url)
    monkeypatch.setenv("OPSROOM_EVENT", event)
    live = collect(topics.log_filter(event))
    at = logged_in(LOG_PAGE)  # as admin: entries are signed with the login, never a typed name
    at.text_area(key="log_text").input("Faint at <b>stage</b> front, St John on scene")
    at.text_input(key="log_loc").input(data.HOT_FRIDGE)
    at.button(key="log_cat_medical").click().run()
    assert not at.exception, at.exception
    assert any("Recorded: note (medical)" in s.value for s in at.success), errors(at)
    [entry] = stored(event)
    assert (entry.author, entry.category, entry.location) == (
        "admin",
        "medical",
        data.HOT_FRIDGE,
    )
    (msg,) = live.wait_for(1)
    assert msg.topic == topics.log_entry(event, "medical", entry.id) and msg.qos == 1
    at.run()
    page = markdown(at)
    assert f'data-log-id="{entry.id}"' in page
    assert "Faint at &lt;b&gt;stage&lt;/b&gt; front" in page and "<b>stage" not in page


def test_an_entry_needs_text_and_a_venue_location(env) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    env()
    at = logged_in(LOG_PAGE)
    assert "Entries are signed admin." in [c.value for c in at.caption]
    at.button(key="log_cat_security").click().run()
    assert "text is empty" in errors(at)
    at.text_input(key="log_loc").input("atlantis")
    at.text_area(key="log_text").input("Bag left at gate A")
    at.button(key="log_cat_security").click().run()
    assert "'atlantis' is not an entity of the venue" in errors(at)
    assert stored() == []


def test_an_incident_opened_from_an_alert_is_assigned_and_closed(  # type: ignore[no-untyped-def]
    env,  # noqa: F811
    monkeypatch,
) -> None:
    env()
    monkeypatch.setenv("OPSROOM_MQTT_URL", "mqtt://127.0.0.1:9")  # no broker: stored anyway
    at = logged_in(PAGES["alerts"])
    at.button(key="alert_incident").click().run()
    assert any("Incident #" in s.value for s in at.success), errors(at)
    assert any("not published live" in w.value for w in at.warning)
    [opened] = stored()
    assert (opened.kind, opened.alert_id, opened.category, opened.priority) == (
        "incident_open",
        data.ALERT_ID,
        "food_safety",
        "urgent",
    )
    at.switch_page("views/overview.py").run()
    assert f'data-incident-id="{opened.id}" data-open="True"' in markdown(at)
    at.switch_page(LOG_PAGE).run()
    at.text_input(key="inc_owner").input("Catering team")
    at.button(key="FormSubmitter:incident_actions-Assign").click().run()
    at.text_input(key="inc_note").input("Stock moved to the spare fridge")
    at.button(key="FormSubmitter:incident_actions-Close incident").click().run()
    assert not errors(at), errors(at)
    assert [e.kind for e in stored()] == ["incident_open", "assigned", "incident_close"]
    at.run()
    assert "No open incidents." in [c.value for c in at.caption]
    at.switch_page("views/overview.py").run()
    assert "No open incidents in the control log." in [c.value for c in at.caption]


def test_every_page_still_runs(env) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    env()
    at = logged_in()
    for page in (LOG_PAGE, *PAGES.values()):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
