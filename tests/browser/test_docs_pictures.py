"""The README's pictures, taken from the running app so that they cannot drift from it.

Readings of every sensor of the example venue go over MQTT through ingest and the rules
service with the example rules; the alerts on the Overview are the ones those rules raise,
and its times are in the venue's time zone. The picture always lands in
test-artifacts/screenshots/; with OPSROOM_UPDATE_DOCS=1 it is also written to docs/ with
what it shows recorded in the file (tests/pictures.py), which tests/test_readme_pictures.py
checks against the current rules and venue.

    OPSROOM_UPDATE_DOCS=1 .venv/bin/python -m pytest tests/browser/test_docs_pictures.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from ingest import IngestService
from opsroom import topics
from opsroom.broker import Mosquitto, free_port
from opsroom.rulesfile.model import load_rules
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from rules.engine import Engine
from rules.service import RulesService
from tests import pictures
from tests.browser.test_dashboard_browser import ARGS, CHROMIUM, PASSWORD, SHOTS
from tests.browser.waits import drawn
from tests.conftest import publisher, wait_dashboard, wait_until
from tests.dashboard import data

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
RULES = pictures.ROOT / "examples" / "rules.yaml"
# what the test reads on the page, per language; and the README picture it takes
WORDS = {
    "en": ("User", "Password", "Log in", "Active alerts", "Cold chain", "CRITICAL", "Newest data"),
    "zh-CN": ("用户", "密码", "登录", "活动告警", "冷链", "严重", "最新数据于"),
}
PICTURE = {"en": "docs/overview.png", "zh-CN": "docs/zh-CN-overview.png"}


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_readme_overview_picture(
    broker: Mosquitto, event: str, tmp_path: Path, locale: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the rules service (threads here) and the dashboard (a subprocess) speak `locale`
    monkeypatch.setenv("OPSROOM_LOCALE", locale)
    user, password, log_in, active, cold_chain, critical, newest = WORDS[locale]
    venue = data.venue()
    ruleset = load_rules(RULES, venue)
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
    db = tmp_path / "docs.db"
    store = SqliteStore(db, event=event)  # the dashboard below reads this event
    ingest = IngestService(settings, store, venue)
    rules = RulesService(settings, store, lambda state: Engine(ruleset, venue, state), venue)
    ingest.start()
    rules.start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSROOM_DASHBOARD_")}
    env |= {"OPSROOM_DASHBOARD_PASSWORD": PASSWORD}
    log = (tmp_path / "dashboard.log").open("wb")
    dash = subprocess.Popen(
        [sys.executable, "-m", "opsroom", "dashboard", "--port", str(port), "--event", event,
         "--mqtt-url", broker.url, "--store", f"sqlite:///{db}", "--venue", str(data.VENUE),
         "--rules", str(RULES)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        assert ingest.wait_connected(10) and rules.wait_connected(10)
        # half an hour of every sensor: a fridge at 9 °C, a busy arena, a stranded bus
        readings = data.readings(venue, datetime.now(UTC) - timedelta(seconds=5))
        pub = publisher(broker.port)
        for r in readings:
            body = {"ts": r.ts.isoformat(), **r.values}
            sent = pub.publish(
                topics.reading(event, r.kind, r.sensor_id), orjson.dumps(body), qos=1
            )
        sent.wait_for_publish(10)
        pub.loop_stop()
        assert wait_until(lambda: store.count() == len(readings), timeout=30), store.count()

        def firing() -> set[str]:
            return {e.rule for e in store.alert_events() if e.state == "firing"}

        assert wait_until(lambda: "cold-holding" in firing(), timeout=20), firing()

        wait_dashboard(url, dash, tmp_path / "dashboard.log")

        SHOTS.mkdir(parents=True, exist_ok=True)
        with playwright_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 1500})
                page.set_default_timeout(30_000)
                page.goto(url)
                page.get_by_label(user, exact=True).fill("admin")
                page.get_by_label(password, exact=True).fill(PASSWORD)
                page.get_by_role("button", name=log_in).click()
                page.get_by_text(active, exact=True).wait_for()
                item = page.locator('li.ops-alert[data-rule="cold-holding"]')
                playwright_api.expect(item).to_have_attribute("data-state", "firing")
                page.locator("div.ops-tile", has_text=cold_chain).get_by_text(critical).wait_for()
                page.get_by_text(newest).wait_for()
                # the freshness line's time carries the exact instant of the newest reading
                stamp = page.locator("time[datetime]").first
                exact = datetime.fromisoformat(stamp.get_attribute("datetime") or "")
                written = stamp.inner_text()
                page.locator("[data-testid='stDataFrame']").first.wait_for()
                drawn(page)  # the table's canvas draws after it is attached
                shown = page.locator("li.ops-alert").evaluate_all(
                    "items => items.map(i => i.dataset.rule)"
                )
                png = page.screenshot(full_page=True)
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
        store.close()

    newest_reading = max(r.ts for r in readings)
    assert abs((exact - newest_reading).total_seconds()) < 0.001, (exact, newest_reading)
    assert written == exact.astimezone(ZoneInfo(venue.event.timezone)).strftime("%H:%M:%S")
    # what the picture shows comes from the current rules file
    assert set(shown) <= {r.id for r in ruleset.rules}, shown
    (SHOTS / ("20-docs-overview.png" if locale == "en" else "zh-CN-docs-overview.png")).write_bytes(
        png
    )
    if os.environ.get("OPSROOM_UPDATE_DOCS") == "1":
        target = pictures.ROOT / PICTURE[locale]
        meta = {
            "opsroom-generator": pictures.PICTURES[PICTURE[locale]],
            "opsroom-rules": ",".join(sorted(set(shown))),
            "opsroom-timezone": venue.event.timezone,
            "opsroom-venue": "examples/venue.yaml",
        }
        target.write_bytes(pictures.with_text(png, meta))
