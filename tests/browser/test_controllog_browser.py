"""Two browsers on the Control log: an entry made on one screen, or from the command line,
shows on every open screen (the time over 50 entries is printed: median, p95, max)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from opsroom.controllog import new_entry
from opsroom.controllog.record import record
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from tests.browser.test_dashboard_browser import (  # noqa: F401 (the fixture)
    ARGS,
    CHROMIUM,
    PASSWORD,
    SHOTS,
    dashboard,
    playwright_api,
    pytestmark,
)
from tests.browser.waits import log_in

ENTRIES = 50


def open_log(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.set_default_timeout(30_000)
    page.goto(url)
    log_in(page, "admin", PASSWORD)
    page.get_by_text("Active alerts", exact=True).wait_for()
    page.get_by_role("link", name="Control log").click()
    page.get_by_role("heading", name="Control log").wait_for()
    page.locator("ul.ops-log-list").wait_for(state="attached")
    return page


def test_an_entry_shows_on_every_open_screen_within_2_s(
    dashboard: tuple[str, Path],  # noqa: F811
    broker: Any,
    event: str,
) -> None:
    url, store_path = dashboard
    SHOTS.mkdir(parents=True, exist_ok=True)
    settings = Settings.load({"event": event, "mqtt_url": broker.url}, env={})
    store = SqliteStore(store_path, event=event)
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            first, second = open_log(browser, url), open_log(browser, url)
            # a quick entry typed on the first screen appears on the second
            first.get_by_label("What happened").fill("Lost child at gate B <red coat>")
            first.get_by_role("button", name="lost person").click()
            first.get_by_text("Recorded: note (lost person)").wait_for()
            second.locator("li.ops-log", has_text="Lost child at gate B <red coat>").wait_for(
                timeout=5000
            )
            # entries from the command line's path (store, then MQTT): timed on both screens
            latencies = []
            for n in range(ENTRIES):
                entry = new_entry(author="cli", category="crowd", text=f"queue check {n}")
                start = time.monotonic()
                record(store, settings, [entry])
                for page in (first, second):
                    page.locator(f'li[data-log-id="{entry.id}"]').wait_for(timeout=10_000)
                latencies.append(time.monotonic() - start)
            second.screenshot(path=SHOTS / "08-control-log.png", full_page=True)
        finally:
            browser.close()
            store.close()
    p95 = statistics.quantiles(latencies, n=20)[-1]
    print(
        f"control log entry -> both screens over {ENTRIES} entries: median"
        f" {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, max {max(latencies):.2f} s"
    )
    # the figure is quoted, not asserted (a timed assertion fails on a loaded machine, not on
    # a slow dashboard): every entry above did reach both screens, within 10 s each
    assert len(latencies) == ENTRIES
