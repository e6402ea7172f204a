"""The dashboard in Chinese, in a real Chromium: every page, and no English interface text left.

The dashboard runs with OPSROOM_LOCALE=zh-CN over the same store as the English browser test
(test_dashboard_browser.py). On every page the visible text (and the charts' SVG text: titles,
axes, legends) is scanned against the English catalog: no message id may show as it is in
English. Data is not interface text and is left out of the scan: what the store holds (alert
messages as the rules service wrote them, subjects, rule ids), the venue's names and ids, the
users' names, and errors from remote servers, which the page shows verbatim in code blocks.
Screenshots go to test-artifacts/screenshots/zh-CN-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsroom.i18n import catalog
from opsroom.rulesfile.model import load_rules
from opsroom.store.sqlite import SqliteStore
from tests.browser.test_dashboard_browser import (  # noqa: F401 (the dashboard fixture)
    ARGS,
    CHROMIUM,
    PASSWORD,
    SHOTS,
    dashboard,
    playwright_api,
)
from tests.browser.waits import drawn
from tests.dashboard import data

pytestmark = [pytest.mark.browser, pytest.mark.integration]

KIOSK_TOKEN = "zh-wall-screen-token-0042"
MONTH_DAY = r"(?<![A-Za-z])(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}, \d{4}"
# the visible text of the page, code blocks (verbatim errors from elsewhere) taken out, and the
# text Plotly draws in SVG (chart titles, axis titles, legends, map labels)
SCAN_JS = """() => {
  let text = document.body.innerText;
  for (const el of document.querySelectorAll('pre, code')) {
    const t = el.innerText.trim();
    if (t) text = text.split(t).join('\\n');
  }
  const svg = Array.from(document.querySelectorAll('.js-plotly-plot svg text'))
    .map(t => t.textContent).join('\\n');
  return text + '\\n' + svg;
}"""


def english_phrases() -> list[str]:
    """Every literal stretch of English in the catalog's message ids (between placeholders),
    of at least four characters with a word in it: what must not show in a Chinese page."""
    out: set[str] = set()
    for msgid in catalog("zh-CN"):
        for piece in re.split(r"\{[^}]*\}", msgid):
            part = piece.strip(" .,:;()·—→#*%/-[]\n")
            if len(part) >= 4 and re.search(r"[A-Za-z]{3}", part):
                out.add(part)
    return sorted(out, key=len, reverse=True)


def data_values(store_path: Path, event: str) -> list[str]:
    """What the page shows as data, not as interface: names, ids, stored alert texts."""
    venue = data.venue()
    values = {venue.event.name, "admin", "kiosk", "Opsroom", "ops-webhook", "sms", "webhook"}
    for _family, _section, items in venue.sections():
        for item in items:
            values.add(item.id)
            if getattr(item, "name", ""):
                values.add(item.name)
            for stop in getattr(item, "stops", []):
                values |= {stop.id, stop.name}
    for rule in load_rules(data.VENUE.parent / "rules.yaml", venue).rules:
        values |= {rule.id, rule.name}
    store = SqliteStore(store_path, event=event)
    try:
        for e in store.alert_events(datetime.now(UTC) - timedelta(days=2)):
            values |= {e.message, e.rule, e.subject, e.alert_id, e.note or ""}
    finally:
        store.close()
    return sorted((v for v in values if v), key=len, reverse=True)


def english_left(page, phrases: list[str], skip: list[str]) -> list[str]:
    """The English interface phrases still visible on the page."""
    text = page.evaluate(SCAN_JS)
    for value in skip:
        text = text.replace(value, " ")
    found = [p for p in phrases if re.search(rf"(?<![A-Za-z]){re.escape(p)}(?![A-Za-z])", text)]
    # Plotly's own date ticks ("Nov 29, 2026") are interface too
    found += re.findall(MONTH_DAY, text)
    return found


@pytest.fixture
def zh_dashboard(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator:
    """The dashboard of test_dashboard_browser, speaking Chinese, with a wall-screen URL."""
    monkeypatch.setenv("OPSROOM_LOCALE", "zh-CN")
    monkeypatch.setenv("OPSROOM_KIOSK_TOKEN", KIOSK_TOKEN)
    monkeypatch.setenv("OPSROOM_KIOSK_ROTATE_S", "600")
    yield request.getfixturevalue("dashboard")


def shot(page, name: str) -> None:
    drawn(page)  # charts and tables drawn and painted before the picture
    page.screenshot(path=SHOTS / f"zh-CN-{name}.png", full_page=True)


def test_every_page_speaks_chinese(zh_dashboard, event: str) -> None:
    url, store_path = zh_dashboard
    SHOTS.mkdir(parents=True, exist_ok=True)
    phrases = english_phrases()
    skip = data_values(store_path, event)
    left: dict[str, list[str]] = {}
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 2200})
            page.set_default_timeout(30_000)
            page.goto(url)
            page.get_by_label("用户", exact=True).fill("admin")
            page.get_by_label("密码", exact=True).fill("not the password")
            page.get_by_role("button", name="登录").click()
            page.get_by_text("用户名或密码错误。").wait_for()
            left["login"] = english_left(page, phrases, skip)
            shot(page, "login")

            page.get_by_label("用户", exact=True).fill("admin")
            page.get_by_label("密码", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.get_by_role("heading", name="河畔音乐节 · 总览").wait_for()
            page.locator("div.ops-tile", has_text="冷链").get_by_text("严重").wait_for()
            page.get_by_text("通知失败：sms（webhook）").wait_for()
            page.wait_for_selector("div.js-plotly-plot .main-svg")
            page.locator("li.ops-alert").first.wait_for()
            left["overview"] = english_left(page, phrases, skip)
            shot(page, "overview")

            for title, name in [("人流", "crowd"), ("电力", "power"), ("冷链", "coldchain"),
                                ("接驳车", "shuttle"), ("天气", "weather")]:  # fmt: skip
                page.get_by_role("link", name=title).click()
                page.get_by_role("heading", name=title).wait_for()
                page.wait_for_selector("div.js-plotly-plot .main-svg")
                page.get_by_text("最新数据于").first.wait_for()
                page.get_by_text("图表每").first.wait_for()  # the charts' fragment is drawn too
                left[name] = english_left(page, phrases, skip)
                shot(page, name)

            page.get_by_role("link", name="告警").click()
            page.get_by_role("heading", name="告警", exact=True).wait_for()
            page.get_by_text("以 admin 身份确认").wait_for()
            page.get_by_role("heading", name="此告警的通知").wait_for()
            page.get_by_text("共 4 次尝试中的最新 4 次").wait_for()
            left["alerts"] = english_left(page, phrases, skip)
            shot(page, "alerts")

            page.get_by_role("link", name="值班日志").click()
            page.get_by_role("heading", name="值班日志", exact=True).wait_for()
            page.get_by_text("记录为：").wait_for()
            left["controllog"] = english_left(page, phrases, skip)
            shot(page, "controllog")

            wall = browser.new_page(viewport={"width": 1920, "height": 1080})
            wall.goto(f"{url}/?kiosk={KIOSK_TOKEN}")
            wall.get_by_role("heading", name="河畔音乐节 · 总览").wait_for()
            wall.wait_for_selector("div.js-plotly-plot .main-svg")
            left["kiosk"] = english_left(wall, phrases, skip)
            shot(wall, "kiosk")

            # a person may choose English for their own session in the sidebar: the scan
            # then finds English (it is not blind), and other sessions keep Chinese
            page.locator("[data-testid='stSelectbox']", has_text="Language").click()
            page.get_by_role("option", name="English").click()
            page.get_by_role("heading", name="Control log", exact=True).wait_for()
            page.get_by_role("link", name="Overview").click()
            page.get_by_role("heading", name="Riverside Festival · Overview").wait_for()
            page.get_by_text("Critical alerts").wait_for()
            # the alerts come further down the page, the map in its own (slower) fragment
            page.get_by_role("heading", name="Active alerts", exact=True).wait_for()
            page.get_by_role("heading", name="Venue map", exact=True).wait_for()
            in_english = english_left(page, phrases, skip)
            assert {"Critical alerts", "Venue map", "Active alerts"} <= set(in_english)
            other = browser.new_page()
            other.goto(url)
            other.get_by_role("button", name="登录").wait_for()
        finally:
            browser.close()
    assert {page: found for page, found in left.items() if found} == {}
