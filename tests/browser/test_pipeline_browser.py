"""The whole pipeline in a real browser: readings -> ingest + rules -> a firing alert on the
wall screen -> acknowledged in the browser -> the rules service marks it acknowledged."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest import IngestService
from opsroom import topics
from opsroom.broker import Mosquitto, free_port
from opsroom.rulesfile.model import load_rules
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from opsroom.venue import load_venue
from rules.engine import Engine
from rules.service import RulesService
from tests.browser.test_dashboard_browser import ARGS, CHROMIUM, PASSWORD, SHOTS
from tests.browser.waits import log_in
from tests.conftest import publisher, wait_dashboard, wait_until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
ROOT = Path(__file__).resolve().parents[2]
VENUE = ROOT / "examples" / "venue.yaml"
FRIDGE = "smokestack-fridge"


def test_firing_alert_from_the_pipeline_acknowledged_in_the_browser(
    broker: Mosquitto, event: str, tmp_path: Path
) -> None:
    db = tmp_path / "pipeline.db"
    settings = Settings.load(
        {
            "event": event,
            "mqtt_url": broker.url,
            "data_dir": tmp_path / "data",
            "spool_dir": tmp_path / "spool",
            "session_expiry_s": 120,
        },
        env={},
    )
    venue = load_venue(VENUE)
    ruleset = load_rules(ROOT / "examples" / "rules.yaml", venue)
    store = SqliteStore(db, event=event)  # the dashboard below reads this event's data
    ingest = IngestService(settings, store, venue)
    rules = RulesService(settings, store, lambda state: Engine(ruleset, venue, state), venue)
    ingest.start()
    rules.start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSROOM_DASHBOARD_")} | {
        "OPSROOM_DASHBOARD_PASSWORD": PASSWORD
    }
    log = (tmp_path / "dashboard.log").open("wb")
    dash = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "opsroom",
            "dashboard",
            "--port",
            str(port),
            "--event",
            event,
            "--mqtt-url",
            broker.url,
            "--store",
            f"sqlite:///{db}",
            "--venue",
            str(VENUE),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert ingest.wait_connected(10) and rules.wait_connected(10)  # SUBACKs came
        # a fridge at 9.5 °C for the last 30 minutes: over the 8 °C critical limit for 15 min
        pub = publisher(broker.port)
        start = datetime.now(UTC) - timedelta(minutes=30)
        for minute in range(31):
            ts = (start + timedelta(minutes=minute)).isoformat()
            pub.publish(
                topics.reading(event, "coldchain", FRIDGE),
                json.dumps({"ts": ts, "temp_c": 9.5}),
                qos=1,
            ).wait_for_publish(5)
        pub.loop_stop()

        def firing() -> list:
            return [
                e
                for e in store.alert_events()
                if e.subject == FRIDGE and e.state == "firing" and e.severity == "critical"
            ]

        assert wait_until(lambda: bool(firing()), timeout=20), store.alert_events()
        alert_id = firing()[0].alert_id
        assert wait_until(lambda: store.count("coldchain") == 31, timeout=10)

        wait_dashboard(url, dash, tmp_path / "dashboard.log")

        SHOTS.mkdir(parents=True, exist_ok=True)
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 2000})
                page.set_default_timeout(30_000)
                page.goto(url)
                log_in(page, "admin", PASSWORD)
                page.get_by_text("Active alerts", exact=True).wait_for()
                tile = page.locator("div.ops-tile", has_text="Cold chain")
                tile.get_by_text("CRITICAL").wait_for()
                item = page.locator(f'li.ops-alert[data-alert-id="{alert_id}"]')
                playwright_api.expect(item).to_have_attribute("data-state", "firing")
                page.screenshot(path=SHOTS / "10-pipeline-overview.png", full_page=True)

                page.get_by_role("link", name="Alerts").click()
                page.get_by_role("heading", name="Alerts", exact=True).wait_for()
                page.locator("[data-testid='stSelectbox']").filter(has_text="Alert").click()
                page.get_by_role("option", name=re.compile(f"{FRIDGE} · cold")).click()
                page.get_by_label("Note").fill("Stock moved to the spare fridge")
                page.get_by_role("button", name="Acknowledge").click()
                page.get_by_text("Acknowledgement sent").wait_for()
                # the rules service takes the ack off MQTT; the page shows the new state
                assert wait_until(
                    lambda: any(
                        e.alert_id == alert_id and e.state == "acknowledged"
                        for e in store.alert_events()
                    ),
                    timeout=15,
                )
                # back on the wall screen: its list refreshes by itself (every second, no reload)
                page.get_by_role("link", name="Overview").click()
                item = page.locator(f'li.ops-alert[data-alert-id="{alert_id}"]')
                playwright_api.expect(item).to_have_attribute(
                    "data-state", "acknowledged", timeout=15_000
                )
                page.screenshot(path=SHOTS / "11-pipeline-acknowledged.png", full_page=True)
            finally:
                browser.close()
    finally:
        dash.terminate()
        try:
            dash.wait(15)
        except subprocess.TimeoutExpired:
            dash.kill()
        log.close()
        rules.stop()
        ingest.stop()
    [ack] = [e for e in store.alert_events(alert_id=alert_id) if e.state == "acknowledged"]
    assert ack.actor == "admin"  # the logged-in account, never a typed name
    assert ack.note == "Stock moved to the spare fridge"
    store.close()
