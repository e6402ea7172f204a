"""The drill report in Chinese, rendered by a real Chromium with the CJK font CI installs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from opsroom.i18n import using
from simulators.matching import match
from simulators.report import read_log, write_report
from tests.browser.test_dashboard_browser import ARGS, CHROMIUM, SHOTS
from tests.simulators.test_report import EVENTS, write_log

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def test_the_chinese_drill_report_renders_in_chromium(tmp_path: Path) -> None:
    log = read_log(write_log(tmp_path / "log.jsonl"))
    result = match(log.incidents, EVENTS, window=(log.start, log.finish))
    with using("zh-CN"):
        _md, page = write_report(log, result, tmp_path / "report", timedelta(minutes=10))
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.goto(page.as_uri())
            tab.wait_for_selector("h1")
            assert tab.inner_text("h1") == "演练复盘报告：Known run"
            assert "未匹配任何事件的告警" in tab.inner_text("body")
            # which fonts Chromium drew the heading with (DevTools protocol): a CJK font, not
            # fallback boxes
            cdp = tab.context.new_cdp_session(tab)
            cdp.send("DOM.enable")
            cdp.send("CSS.enable")
            root = cdp.send("DOM.getDocument")["root"]["nodeId"]
            h1 = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "h1"})["nodeId"]
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": h1})["fonts"]
            cjk = [f for f in fonts if "CJK" in f["familyName"]]
            assert cjk and cjk[0]["glyphCount"] >= 6, f"no CJK font drew it: {fonts}"
            SHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(SHOTS / "drill-report-zh-CN.png"), full_page=False)
        finally:
            browser.close()
