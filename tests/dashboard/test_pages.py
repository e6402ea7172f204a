"""Every dashboard page through Streamlit's AppTest, against a populated SQLite store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import login
from dashboard.charts import COLOURS
from opsroom import topics
from opsroom.alerts import NotificationAttempt
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from opsroom.venue import load_venue
from tests.dashboard import data
from tests.dashboard.test_notifications import write_log
from tests.rules.test_notify import Target

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PASSWORD = "correct horse battery staple"
PAGES = {
    "crowd": "families/crowd.py",
    "power": "families/power.py",
    "coldchain": "families/coldchain.py",
    "shuttles": "families/shuttle.py",
    "weather": "families/weather.py",
    "alerts": "views/alerts.py",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Path]:
    """Point the app at a fresh store filled as asked: env(drill=..., age=...)."""
    for name in (
        "OPSROOM_DASHBOARD_NO_AUTH",
        "OPSROOM_DASHBOARD_PASSWORD",
        "OPSROOM_EVENT",
        "OPSROOM_RULES",  # the design defaults unless a test gives a rules file
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPSROOM_VENUE", str(data.VENUE))
    monkeypatch.setenv("OPSROOM_DASHBOARD_PASSWORD", PASSWORD)
    monkeypatch.setenv("OPSROOM_DATA_DIR", str(tmp_path / "data"))
    login.GUARD.reset()  # one guard per process: no lockout carried from another test

    def fill(
        drill: bool = False, age: timedelta = timedelta(0), alert: bool = True, event: str = "demo"
    ) -> Path:
        path = tmp_path / f"store-{drill}-{int(age.total_seconds())}.db"
        data.fill(path, datetime.now(UTC) - age, drill=drill, alert=alert, event=event)
        monkeypatch.setenv("OPSROOM_STORE", f"sqlite:///{path}")
        return path

    return fill


def logged_in(page: str | None = None) -> AppTest:
    """The app after a correct login, on `page` (a path from dashboard/) or the overview."""
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.text_input(key="login_user").input("admin")
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


def test_wrong_password_is_refused_and_shows_nothing(env) -> None:
    env()
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.text_input(key="login_user").input("admin")
    at.text_input(key="login_password").input("guess")
    at.button[0].click().run()
    assert "Wrong user name or password." in errors(at)
    assert "ops-tile" not in markdown(at) and not at.metric


def try_password(at: AppTest, password: str, user: str = "admin") -> AppTest:
    at.text_input(key="login_user").input(user)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_repeated_wrong_passwords_lock_the_address_out(env, caplog) -> None:
    env()
    caplog.set_level("WARNING", logger="opsroom.dashboard.login")
    at = AppTest.from_file(APP, default_timeout=30).run()
    for _ in range(login.FREE_FAILURES - 1):
        assert "Too many failed logins" not in errors(try_password(at, "guess-number-n"))
    try_password(at, "guess-number-5")  # the fifth: locked out from now on
    assert "try again in 30 s" in errors(at)
    try_password(at, "guess-number-6")
    assert "Too many failed logins" in errors(at)
    # the right password, in this session or a new one from the same address: not checked
    try_password(at, PASSWORD)
    assert "Too many failed logins" in errors(at) and "ops-tile" not in markdown(at)
    again = try_password(AppTest.from_file(APP, default_timeout=30).run(), PASSWORD)
    assert "Too many failed logins" in errors(again) and "ops-tile" not in markdown(again)
    logged = [r.getMessage() for r in caplog.records if r.name == "opsroom.dashboard.login"]
    failed = [m for m in logged if m.startswith("failed dashboard login from local as 'admin'")]
    assert len(failed) == 5
    assert len([m for m in logged if "refused unchecked" in m]) == 3
    assert not [m for m in logged if "guess" in m or PASSWORD in m]  # never the password


def test_a_notifiers_last_error_is_shown_as_plain_text(env) -> None:
    env()
    hostile = "**bold** [x](http://evil.example/) :red[alarm]"
    path = Settings.load().notification_log
    path.parent.mkdir(parents=True)
    attempt = NotificationAttempt(
        at=datetime.now(UTC),
        notifier="sms",
        type="webhook",
        alert_id=data.ALERT_ID,
        state="firing",
        severity="critical",
        attempt=5,
        ok=False,
        error=hostile,
        retryable=True,
    )
    path.write_bytes(attempt.model_dump_json().encode() + b"\n")
    at = logged_in()
    assert "NOTIFICATIONS FAILING: sms (webhook)" in errors(at)
    assert hostile in [c.value for c in at.code]  # as written, in a code block
    assert "**bold**" not in errors(at) + markdown(at)


def test_without_a_password_the_app_refuses_unless_told_to_run_open(env, monkeypatch) -> None:
    env()
    monkeypatch.delenv("OPSROOM_DASHBOARD_PASSWORD")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert "OPSROOM_DASHBOARD_PASSWORD" in errors(at) and not at.text_input
    monkeypatch.setenv("OPSROOM_DASHBOARD_NO_AUTH", "1")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception and "ops-tile" in markdown(at)


def test_overview_shows_tiles_alert_counts_and_data_age(env) -> None:
    env()
    at = logged_in()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Critical alerts"] == "1" and metrics["Warning alerts"] == "0"
    assert metrics["Data age"].endswith(" s")
    text = markdown(at)
    for label in ("Crowd", "Power", "Cold chain", "Shuttles", "Main Arena", "Riverside Campsite"):
        assert f">{label}</div>" in text
    assert "CRITICAL" in text and "WARNING" in text  # the fridge; the busy arena
    assert "DRILL" not in text and "STALE" not in errors(at)
    assert at.dataframe[0].value["subject"].tolist() == [data.HOT_FRIDGE]
    # the same alerts as text in the page (the table is a canvas), each with its id
    assert f'data-alert-id="{data.ALERT_ID}"' in text
    assert f">CRITICAL · {data.HOT_FRIDGE} · " in text


def test_drill_data_shows_the_drill_banner(env) -> None:
    env(drill=True)
    assert "DRILL" in markdown(logged_in())
    assert "DRILL" in markdown(logged_in(PAGES["power"]))


def test_old_data_shows_the_stale_warning(env) -> None:
    env(age=timedelta(minutes=10))
    at = logged_in()
    assert "STALE" in errors(at)
    assert "STALE" in markdown(at)  # the family tiles say it too
    assert "STALE" in errors(logged_in(PAGES["crowd"]))


def test_empty_store_says_no_data(env) -> None:
    env(alert=False, age=timedelta(days=30))  # everything older than the 24 h charts
    at = logged_in()
    assert "No active alerts." in [s.value for s in at.success]


def test_a_venue_with_no_data_yet_says_so_and_shows_nothing_green(
    env, monkeypatch, tmp_path
) -> None:
    env()
    monkeypatch.setenv("OPSROOM_STORE", f"sqlite:///{tmp_path / 'nothing-yet.db'}")
    at = logged_in()
    assert not at.success  # no reading is not good news: nothing on the page says all is well
    assert any("No data yet" in w.value for w in at.warning)
    assert {m.label: m.value for m in at.metric}["Data age"] == "no data yet"
    text = markdown(at)
    assert COLOURS["ok"] not in text and ">OK" not in text
    assert "out of limits" not in text  # 0 of 12 out of limits would read as all clear
    assert text.count("no data yet") >= 4  # each family tile


def test_the_pages_show_only_the_dashboards_event(env, monkeypatch) -> None:
    """A rehearsal's readings and alerts in the same store file stay off the live wall."""
    path = env(event="rehearsal")
    data.fill(path, datetime.now(UTC), alert=False, event="live")  # the live event: quiet
    monkeypatch.setenv("OPSROOM_EVENT", "live")
    at = logged_in()
    assert {m.label: m.value for m in at.metric}["Critical alerts"] == "0"
    assert "No active alerts." in [s.value for s in at.success]
    assert data.HOT_FRIDGE not in markdown(logged_in(PAGES["alerts"]))
    monkeypatch.setenv("OPSROOM_EVENT", "rehearsal")
    at = logged_in()
    assert {m.label: m.value for m in at.metric}["Critical alerts"] == "1"


def test_crowd_page(env) -> None:
    env()
    at = logged_in(PAGES["crowd"])
    assert [t.value for t in at.title] == ["Crowd"]
    assert len(at.get("plotly_chart")) == 4  # map, occupancy bars, series, gate flow
    zones = at.dataframe[0].value.set_index("name")
    assert zones.loc["Main Arena", "status"] == "warning"
    gates = at.dataframe[1].value.set_index("name")
    assert gates.loc["Arena Gate", "flow_per_m_min"] == pytest.approx(24)


def test_crowd_window_choice_survives_a_rerun(env) -> None:
    env()
    at = logged_in(PAGES["crowd"])
    at.button_group(key="crowd_window").set_value("6 h").run()
    at.run()
    assert at.button_group(key="crowd_window").value == "6 h" and not at.exception


def map_traces(at: AppTest, key: str) -> dict[str, dict[str, object]]:
    """The traces of the venue map drawn under `key`, by name."""
    [spec] = [c.proto.spec for c in at.get("plotly_chart") if key in c.proto.id]
    return {t.get("name", ""): t for t in orjson.loads(spec)["data"]}


def test_the_overview_map_shows_the_weather_stations_and_structures(env) -> None:
    """Every family draws its part of the one venue map: zones, gates, routes, and weather."""
    env()
    traces = map_traces(logged_in(), "overview_map")
    assert {"Main Arena", "Gates", "Town shuttle", "Shuttles"} <= traces.keys()
    stations = traces["Weather stations"]
    assert [t.split(":")[0] for t in stations["text"]] == [  # type: ignore[attr-defined]
        "Arena weather mast (FOH tower)",
        "Family Area / campsite weather mast",
    ]
    assert stations["y"] == [52.0723, 52.0726]  # lat, from the venue file
    structures = traces["Structures (wind limits)"]["text"]
    assert "Main Stage roof (stage): limits 18 / 22 m/s, wind from wx-arena" in structures  # type: ignore[operator]


def test_weather_page_draws_its_stations_on_the_offline_venue_map(env) -> None:
    env()
    at = logged_in(PAGES["weather"])
    assert [t.value for t in at.title] == ["Weather"] and not at.exception
    traces = map_traces(at, "weather_map")
    assert {"Main Arena", "Weather stations", "Structures (wind limits)"} <= traces.keys()
    assert all(t["type"] == "scatter" for t in traces.values())  # no tiles: works offline


def test_power_page(env) -> None:
    env()
    at = logged_in(PAGES["power"])
    assert len(at.get("plotly_chart")) == 3  # voltage, frequency, load
    table = at.dataframe[0].value
    assert set(table["status"]) == {"ok"} and len(table) == 6
    at.multiselect(key="power_generators").set_value(["gen-family"]).run()
    assert not at.exception and len(at.get("plotly_chart")) == 3


def test_coldchain_page(env) -> None:
    env()
    at = logged_in(PAGES["coldchain"])
    assert len(at.get("plotly_chart")) == 3  # fridges, freezers, hot holding
    table = at.dataframe[0].value.set_index("name")
    assert table.loc["Green Leaf Kitchen - salad fridge", "status"] == "critical"
    assert table.loc["Green Leaf Kitchen - salad fridge", "danger_zone_min"] >= 30


def test_shuttles_page_marks_the_stranded_bus(env) -> None:
    env()
    at = logged_in(PAGES["shuttles"])
    assert [w.value for w in at.warning] == ["Loop bus 2: OFF ROUTE, STOPPED (Car park loop)"]
    assert len(at.get("plotly_chart")) == 1
    buses = at.dataframe[0].value.set_index("name")
    assert buses.loc["Loop bus 2", "stopped"] and buses.loc["Loop bus 2", "off_route"]


def test_alerts_page_lists_filters_and_shows_readings_around(env) -> None:
    env()
    at = logged_in(PAGES["alerts"])
    assert at.dataframe[0].value["subject"].tolist() == [data.HOT_FRIDGE]
    assert "1 critical" in markdown(at)
    assert at.selectbox(key="ack_alert").value == data.ALERT_ID
    assert len(at.get("plotly_chart")) == 1  # temp_c around the alert
    at.multiselect(key="f_sev").set_value(["warning"]).run()
    assert "0 transitions" in [c.value for c in at.caption]


@pytest.fixture
def failing_notifier(env) -> Path:
    """A notification log in the dashboard's data directory: 'sms' refused, 'ops-webhook' ok."""
    env()
    path = Settings.load().notification_log
    path.parent.mkdir(parents=True)
    target = Target()
    try:
        write_log(path, target.url)
    finally:
        target.close()
    return path


def test_overview_says_when_notifications_are_not_getting_out(failing_notifier) -> None:
    at = logged_in()
    assert "NOTIFICATIONS FAILING: sms (webhook)" in errors(at)
    assert "1 transition(s) never delivered" in errors(at)
    assert "ops-webhook" not in errors(at)


def test_alerts_page_shows_each_notifier_and_the_alerts_attempts(failing_notifier) -> None:
    at = logged_in(PAGES["alerts"])
    frames = [d.value for d in at.dataframe]
    health = next(f for f in frames if "never delivered" in f.columns).set_index("notifier")
    assert health.loc["sms", "status"] == "FAILING" and health.loc["sms", "never delivered"] == 1
    assert health.loc["ops-webhook", "status"] == "ok" and health.loc["ops-webhook", "delivered"]
    attempts = [f for f in frames if "outcome" in f.columns]
    assert len(attempts) == 2  # all attempts, and those of the chosen alert
    assert len(attempts[0]) == 4 and "Latest 4 of 4 attempts" in [c.value for c in at.caption]
    assert set(attempts[1]["alert_id"]) == {data.ALERT_ID}
    assert sorted(attempts[1]["outcome"])[0] == "delivered"


def test_without_a_notification_log_the_pages_say_so_quietly(env) -> None:
    env()
    assert "NOTIFICATIONS" not in errors(logged_in())
    at = logged_in(PAGES["alerts"])
    assert any("No delivery attempts logged yet" in c.value for c in at.caption)
    assert any("No notifications were sent for this alert" in c.value for c in at.caption)


@pytest.mark.integration
def test_ack_from_the_alerts_page_is_published_on_mqtt(env, broker, collect, event, monkeypatch):
    env(event=event)
    monkeypatch.setenv("OPSROOM_MQTT_URL", broker.url)
    monkeypatch.setenv("OPSROOM_EVENT", event)
    got = collect(topics.acks_filter(event))
    at = logged_in(PAGES["alerts"])
    # no name box anywhere: signed by the login
    assert not [t for t in at.text_input if "name" in t.label.lower()]
    at.text_area(key="ack_note").input("Vendor told to move stock")
    at.button(key="FormSubmitter:ack_form-Acknowledge").click().run()
    assert any("Acknowledgement sent" in s.value for s in at.success), errors(at)
    (msg,) = got.wait_for(1)
    assert msg.topic == topics.ack(event, data.ALERT_ID) and msg.qos == 1
    body = orjson.loads(msg.payload)
    assert body["actor"] == "admin" and body["note"] == "Vendor told to move stock"
    assert datetime.fromisoformat(body["ts"]) <= datetime.now(UTC)


# a venue's rules file: a stricter occupancy level for the dance tent (at 50 % in the data),
# and the cold-holding rule switched off for the hot fridge (at 9 °C in the data)
RULES = f"""\
rules:
  - id: zone-occupancy
    kind: threshold
    applies_to: zones
    value: occupancy_pct
    levels:
      - {{severity: warning, above: 85, clear: 82}}
      - {{severity: critical, above: 95, clear: 92}}
    overrides:
      dance-tent:
        levels: [{{severity: warning, above: 45, clear: 40}}]
  - id: cold-holding
    kind: threshold
    applies_to: fridge
    value: temp_c
    levels:
      - {{severity: warning, above: 5, clear: 4.5}}
      - {{severity: critical, above: 8, clear: 7.5}}
    overrides:
      {data.HOT_FRIDGE}: {{enabled: false}}
"""


@pytest.fixture
def rules_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str], Path]:
    """Give the dashboard a rules file with this text."""

    def write(text: str) -> Path:
        path = tmp_path / "rules.yaml"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("OPSROOM_RULES", str(path))
        return path

    return write


def chart_text(at: AppTest) -> str:
    """Every chart's figure as JSON, unescaped (titles, labels of level lines, ...)."""
    return "\n".join(
        orjson.dumps(orjson.loads(c.proto.spec)).decode() for c in at.get("plotly_chart")
    )


def test_a_stricter_override_turns_a_zone_amber(env, rules_file) -> None:
    env()
    at = logged_in(PAGES["crowd"])
    assert at.dataframe[0].value.set_index("name").loc["Boathouse Dance Tent", "status"] == "ok"
    rules_file(RULES)
    at = logged_in(PAGES["crowd"])
    assert not errors(at)
    zones = at.dataframe[0].value.set_index("name")
    assert zones.loc["Boathouse Dance Tent", "status"] == "warning"
    assert (
        zones.loc["Main Arena", "status"] == "warning" and zones.loc["Food Court", "status"] == "ok"
    )
    # the chart draws the levels used, naming the zone held to its own
    assert "45 % (Boathouse Dance Tent)" in chart_text(at) and "85 %" in chart_text(at)


def test_a_fridge_whose_rule_is_switched_off_is_not_red(env, rules_file) -> None:
    env(alert=False)  # the hot fridge's alert would colour it on its own
    name = "Green Leaf Kitchen - salad fridge"
    assert (
        logged_in(PAGES["coldchain"]).dataframe[0].value.set_index("name").loc[name, "status"]
        == "critical"
    )
    rules_file(RULES)
    table = logged_in(PAGES["coldchain"]).dataframe[0].value.set_index("name")
    assert table.loc[name, "status"] == "ok"
    assert set(table.drop(index=name)["status"]) == {"ok"}


def test_gate_flow_caption_states_the_levels_in_the_rules_file(env, rules_file) -> None:
    env()
    assert "Gate flow (warning 66, critical 82)" in chart_text(logged_in(PAGES["crowd"]))
    rules_file(data.VENUE.with_name("rules.yaml").read_text(encoding="utf-8"))
    text = chart_text(logged_in(PAGES["crowd"]))
    assert (
        "Gate flow (warning 66, critical 82; Dance Tent Entrance: warning 55, critical 66)" in text
    )


def test_every_page_runs_with_the_example_rules(env, rules_file) -> None:
    env()
    rules_file(data.VENUE.with_name("rules.yaml").read_text(encoding="utf-8"))
    at = logged_in()
    assert "CRITICAL" in markdown(at) and not errors(at)
    for page in PAGES.values():
        at = logged_in(page)
        assert not errors(at), page
    power = logged_in(PAGES["power"])
    assert set(power.dataframe[0].value["status"]) == {"ok"}
    assert "Voltage (limits +10 / -15 / -90 % of nominal)" in chart_text(power)


def test_a_rules_file_that_does_not_load_is_named_and_the_defaults_apply(env, rules_file) -> None:
    env()
    path = rules_file(RULES.replace("above: 45, clear: 40", "above: 45, clear: 50"))
    at = logged_in(PAGES["crowd"])
    shown = errors(at)
    assert "Cannot load the rules file" in shown and str(path) in shown
    assert "rules[0].overrides.dance-tent.levels[0].clear: must be at or below above" in shown
    zones = at.dataframe[0].value.set_index("name")
    assert zones.loc["Boathouse Dance Tent", "status"] == "ok"  # the default 85 %
    assert zones.loc["Main Arena", "status"] == "warning"


def test_danger_zone_time_follows_the_rules_file(env, rules_file) -> None:
    env(alert=False)
    at = logged_in(PAGES["coldchain"])
    captions = [c.value for c in at.caption]
    assert (
        "Danger-zone time: minutes in the last 24 h between 5 and 60 °C "
        "(2 h: use now, 4 h: discard)." in captions
    )
    # the hot fridge has been at 9 °C for 30 minutes: too long once its limit is 20 minutes
    rules_file(
        RULES
        + f"""\
  - id: danger-zone
    kind: cumulative
    applies_to: catering
    value: temp_c
    above: 5
    below: 60
    levels: [{{severity: warning, after: 2h}}, {{severity: critical, after: 4h}}]
    overrides:
      {data.HOT_FRIDGE}:
        levels: [{{severity: critical, after: 20m}}]
"""
    )
    at = logged_in(PAGES["coldchain"])
    table = at.dataframe[0].value.set_index("name")
    assert table.loc["Green Leaf Kitchen - salad fridge", "status"] == "critical"
    assert "Green Leaf Kitchen - salad fridge: between 5 and 60 °C (20 min: discard)" in (
        "\n".join(c.value for c in at.caption)
    )


CROWD_ONLY_VENUE = """\
event:
  name: Crowd-only Fair
zones:
  - {id: square, area_m2: 2000, capacity: 1500}
gates:
  - {id: square-gate, width_m: 6, zone: square}
"""


def test_a_crowd_only_venue_is_late_by_the_crowd_interval(
    env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Families the venue lacks do not stretch the Overview's expected interval: counters
    report every 30 s, so data 95 s old is STALE there, as on the Crowd page."""
    env(alert=False)
    venue_file = tmp_path / "crowd-only.yaml"
    venue_file.write_text(CROWD_ONLY_VENUE)
    monkeypatch.setenv("OPSROOM_VENUE", str(venue_file))
    path = tmp_path / "crowd-only.db"
    store = SqliteStore(path)
    try:
        v = load_venue(venue_file)
        store.write_readings(data.readings(v, datetime.now(UTC) - timedelta(seconds=95)))
    finally:
        store.close()
    monkeypatch.setenv("OPSROOM_STORE", f"sqlite:///{path}")
    overview, crowd = errors(logged_in()), errors(logged_in(PAGES["crowd"]))
    assert "STALE" in crowd and "readings are expected every 30 s" in crowd
    assert "STALE" in overview and "readings are expected every 30 s" in overview


def test_alerts_page_shows_who_acknowledged_and_when(env) -> None:
    path = env()
    store = SqliteStore(path)
    acked_at = datetime.now(UTC).replace(microsecond=0)
    acked = data.firing_alert(acked_at - timedelta(minutes=1)).model_copy(
        update={"state": "acknowledged", "ts": acked_at, "actor": "duty officer Sam"}
    )
    store.write_alert_events([acked])
    store.close()
    at = logged_in(PAGES["alerts"])
    active = at.dataframe[0].value
    assert active["actor"].tolist() == ["duty officer Sam"]
    assert active["acknowledged_at"].iloc[0].to_pydatetime() == acked_at  # in the venue's zone
