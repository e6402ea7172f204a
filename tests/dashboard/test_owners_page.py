"""Owners from the roster on the dashboard, through Streamlit's AppTest against a real SQLite
file: assign an alert to a person of the roster, and every other session shows the owner."""

from __future__ import annotations

from pathlib import Path

from tests.dashboard import data
from tests.dashboard.test_controllog_page import LOG_PAGE, stored
from tests.dashboard.test_pages import PAGES, env, errors, logged_in, markdown  # noqa: F401

ROSTER = Path(__file__).resolve().parents[2] / "examples" / "roster.yaml"


def test_an_alert_assigned_to_a_roster_person_shows_on_a_second_session(  # type: ignore[no-untyped-def]
    env,  # noqa: F811
    monkeypatch,
) -> None:
    env()
    monkeypatch.setenv("OPSROOM_ROSTER", str(ROSTER))
    monkeypatch.setenv("OPSROOM_MQTT_URL", "mqtt://127.0.0.1:9")  # no broker: stored anyway
    at = logged_in(PAGES["alerts"])
    picker = at.selectbox(key="alert_owner")
    assert "li-wei" in picker.options or "Li Wei (李伟) · Control room" in picker.options
    picker.set_value("li-wei")
    at.button(key="FormSubmitter:alert_owner_form-Assign").click().run()
    assert any("Assigned to Li Wei (李伟)." in s.value for s in at.success), errors(at)
    [entry] = stored()
    assert (entry.kind, entry.alert_id, entry.owner, entry.incident_id, entry.author) == (
        "assigned",
        data.ALERT_ID,
        "li-wei",
        None,
        "admin",
    )

    other = logged_in(PAGES["alerts"])  # a second screen
    active = other.dataframe[0].value
    assert list(active["owner"]) == ["Li Wei (李伟)"]
    other.switch_page("views/overview.py").run()
    assert 'data-owner="Li Wei (李伟)"' in markdown(other)
    assert "owner Li Wei (李伟)" in markdown(other)
    other.switch_page(LOG_PAGE).run()
    assert "→ owner li-wei" in markdown(other)


def test_an_incident_owner_is_picked_from_the_roster(  # type: ignore[no-untyped-def]
    env,  # noqa: F811
    monkeypatch,
) -> None:
    env()
    monkeypatch.setenv("OPSROOM_ROSTER", str(ROSTER))
    monkeypatch.setenv("OPSROOM_MQTT_URL", "mqtt://127.0.0.1:9")
    at = logged_in(PAGES["alerts"])
    at.button(key="alert_incident").click().run()
    at.switch_page(LOG_PAGE).run()
    picker = at.selectbox(key="inc_owner")
    assert len(picker.options) == 25  # 17 people and 8 teams, nobody else
    picker.set_value("medics")
    at.button(key="FormSubmitter:incident_actions-Assign").click().run()
    assert not errors(at), errors(at)
    assert [(e.kind, e.owner) for e in stored()][-1] == ("assigned", "medics")
    assert any("assigned to Medical teams" in s.value for s in at.success), at.success


def test_the_handover_button_makes_the_report_with_downloads(  # type: ignore[no-untyped-def]
    env,  # noqa: F811
    monkeypatch,
) -> None:
    env()
    monkeypatch.setenv("OPSROOM_ROSTER", str(ROSTER))
    monkeypatch.setenv("OPSROOM_MQTT_URL", "mqtt://127.0.0.1:9")
    at = logged_in(PAGES["alerts"])
    at.button(key="alert_incident").click().run()
    at.switch_page(LOG_PAGE).run()
    at.button(key="handover_make").click().run()
    assert not at.exception, at.exception
    page = markdown(at)
    assert "# Shift handover: demo" in page
    assert "## Open incidents (1)" in page and "| NOBODY |" in page
    assert "## Active alerts not acknowledged (1)" in page
    assert "silences not read from the broker" in page
