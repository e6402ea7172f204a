"""The running dashboard in a real headless Chromium: log in, see the alert, acknowledge it.

Starts `opsroom dashboard` as a subprocess against Mosquitto and a populated SQLite store, and
saves a screenshot of every page under test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from opsroom import topics
from opsroom.broker import free_port
from opsroom.store.sqlite import SqliteStore
from opsroom.telemetry import Reading
from tests.browser.waits import drawn, log_in, refreshed, shows
from tests.conftest import wait_dashboard
from tests.dashboard import data
from tests.dashboard.test_notifications import write_log
from tests.rules.test_notify import Target

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "wall-screen-test"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
    ),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def _weather(path: Path, end: datetime, event: str) -> None:
    """A gusty half hour at the arena mast, with lightning closing in."""
    store = SqliteStore(path, event=event)
    try:
        store.write_readings(
            [
                Reading(
                    "weather",
                    "wx-arena",
                    end - timedelta(minutes=30 - i),
                    {"wind_ms": 5.0 + i / 3, "gust_ms": 8.0 + i / 2, "strike_km": 30.0 - i,
                     "strikes": 1},
                )
                for i in range(31)
            ]
        )  # fmt: skip
    finally:
        store.close()


@pytest.fixture
def dashboard(tmp_path: Path, broker, event: str) -> Iterator[tuple[str, Path]]:
    """`opsroom dashboard` on a free port over a store holding a firing alert; URL and store."""
    now = datetime.now(UTC)
    store = data.fill(tmp_path / "store.db", now, event=event)  # the dashboard's event
    _weather(store, now, event)
    # the rules service's notification log in the shared data directory: the sms gateway is down
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    target = Target()
    try:
        write_log(data_dir / f"notifications-{event}.jsonl", target.url)
    finally:
        target.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSROOM_DASHBOARD_")} | {
        "OPSROOM_DASHBOARD_PASSWORD": PASSWORD,
        "OPSROOM_DATA_DIR": str(data_dir),
    }
    log = (tmp_path / "dashboard.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "opsroom", "dashboard",
            "--port", str(port),
            "--event", event,
            "--mqtt-url", broker.url,
            "--store", f"sqlite:///{store}",
            "--venue", str(data.VENUE),
            "--rules", str(data.VENUE.parent / "rules.yaml"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_dashboard(url, proc, tmp_path / "dashboard.log")
        yield url, store
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_log_in_see_the_alert_and_acknowledge_it(dashboard, collect, event: str) -> None:
    url, store_path = dashboard
    SHOTS.mkdir(parents=True, exist_ok=True)
    acks = collect(topics.acks_filter(event))
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 2200})
            page.set_default_timeout(30_000)
            sockets: list = []
            # (a lambda: playwright cannot take a builtin method as a handler)
            page.on("websocket", lambda ws: sockets.append(ws))  # noqa: PLW0108
            page.goto(url)

            log_in(page, "admin", "not the password")
            page.get_by_text("Wrong user name or password.").wait_for()
            page.screenshot(path=SHOTS / "00-login-refused.png")

            log_in(page, "admin", PASSWORD)
            page.get_by_text("Active alerts", exact=True).wait_for()
            # the firing alert: a critical Cold chain tile and the alert in the active list
            page.locator("div.ops-tile", has_text="Cold chain").get_by_text("CRITICAL").wait_for()
            page.get_by_text("Critical alerts").wait_for()
            page.get_by_text("NOTIFICATIONS FAILING: sms (webhook)").wait_for()
            page.locator("[data-testid='stDataFrame']").first.wait_for()
            drawn(page)
            page.screenshot(path=SHOTS / "01-overview.png", full_page=True)

            # the page refreshes itself: a new alert shows up without a reload
            warning = data.firing_alert(datetime.now(UTC)).model_copy(
                update={
                    "alert_id": "power-load.gen-family",
                    "rule": "power-load",
                    "subject": "gen-family",
                    "kind": "power",
                    "severity": "warning",
                    "value": 41.0,
                    "message": "Family Field generator above 80 % of rated load",
                }
            )
            store = SqliteStore(store_path, event=event)
            store.write_alert_events([warning])
            store.close()
            metric = page.locator("[data-testid='stMetric']", has_text="Warning alerts")
            metric.get_by_text("1", exact=True).wait_for(timeout=8000)

            for n, title in enumerate(
                ["Crowd", "Power", "Cold chain", "Shuttles", "Weather"], start=2
            ):
                page.get_by_role("link", name=title).click()
                page.get_by_role("heading", name=title).wait_for()
                page.wait_for_selector("div.js-plotly-plot .main-svg")
                drawn(page)
                # the charts of a page may come after its first is drawn: wait for the text
                if title == "Crowd":  # the gate-flow levels come from --rules, override included
                    shows(page, "Dance Tent Entrance: warning 55, critical 66")
                if title == "Weather":  # the structures' limits are drawn as bands
                    page.get_by_text("Nearest lightning strike").wait_for()
                    shows(page, "Dance Tent big top: operate / evacuate")
                name = title.lower().replace(" ", "")
                page.screenshot(path=SHOTS / f"{n:02d}-{name}.png", full_page=True)

            page.get_by_role("link", name="Alerts").click()
            page.get_by_role("heading", name="Alerts", exact=True).wait_for()
            page.get_by_text("Acknowledging as admin").wait_for()  # signed by the login
            page.get_by_label("Note").fill("Vendor told to move stock to the spare fridge")
            refreshed(sockets[-1])  # a live refresh must not lose what was typed
            page.get_by_role("button", name="Acknowledge").click()
            page.get_by_text("Acknowledgement sent").wait_for()
            page.get_by_role("heading", name="Notifications for this alert").wait_for()
            page.get_by_text("Latest 4 of 4 attempts").wait_for()
            page.wait_for_selector("div.js-plotly-plot .main-svg")
            page.screenshot(path=SHOTS / "07-alerts.png", full_page=True)
        finally:
            browser.close()

    (msg,) = acks.wait_for(1)
    assert msg.topic == topics.ack(event, data.ALERT_ID)
    body = orjson.loads(msg.payload)
    assert body["actor"] == "admin"
    assert body["note"] == "Vendor told to move stock to the spare fridge"
    assert datetime.fromisoformat(body["ts"]).tzinfo is not None
