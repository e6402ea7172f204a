"""A freezer alert's plan in Chromium: its steps with who and due time, an operator ticks one
(it shows done, by whom and when), an overdue step is red on the Alerts page and on the
Overview's "plans in progress" panel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsroom.alerts import AlertEvent
from opsroom.planrun import runs
from opsroom.plans import load_plans
from opsroom.store.sqlite import SqliteStore
from rules.writer import plan_activations
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

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RED = "rgb(198, 40, 40)"
MOVE = "Move the stock to the standby freezer (see resources)"


@pytest.fixture
def plans_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard started by the `dashboard` fixture reads the example plans and roster."""
    monkeypatch.setenv("OPSROOM_PLANS", str(EXAMPLES / "plans.yaml"))
    monkeypatch.setenv("OPSROOM_ROSTER", str(EXAMPLES / "roster.yaml"))


def freezer_alert(at: datetime) -> AlertEvent:
    return AlertEvent(
        alert_id="freezer.scoops-freezer-1.1", rule="freezer", subject="scoops-freezer-1",
        kind="coldchain", severity="critical", state="firing", ts=at, started_at=at,
        value=-10.0, message="Scoops Ice Cream - freezer 1 above -12 °C",
    )  # fmt: skip


def colour(page: Any, selector: str) -> str:
    return str(page.locator(selector).first.evaluate("e => getComputedStyle(e).color"))


def test_an_operator_ticks_a_step_and_an_overdue_step_is_red(
    plans_env: None,
    dashboard: tuple[str, Path],  # noqa: F811
    event: str,
) -> None:
    url, store_path = dashboard
    SHOTS.mkdir(parents=True, exist_ok=True)
    plans = load_plans(EXAMPLES / "plans.yaml")
    fired = datetime.now(UTC) - timedelta(minutes=12)  # keep-shut (5 min) is overdue
    alert = freezer_alert(fired)
    store = SqliteStore(store_path, event=event)
    try:
        store.write_alert_events([alert])
        store.write_log(plan_activations([alert], plans))  # as the rules service does
    finally:
        store.close()
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 2600})
            page.set_default_timeout(30_000)
            page.goto(url)
            log_in(page, "admin", PASSWORD)
            page.get_by_text("Active alerts", exact=True).wait_for()
            # the wall screen's panel: the plan in progress, its overdue step red
            panel = "div.ops-plans-panel li[data-step-id='keep-shut'][data-state='overdue']"
            page.locator(panel).wait_for()
            assert colour(page, panel) == RED
            assert "Tom Okafor" in page.locator(panel).inner_text()  # the roster's operator

            page.get_by_role("link", name="Alerts").click()
            page.get_by_role("heading", name="Alerts").wait_for()
            page.get_by_label("Alert", exact=True).click()
            page.get_by_role(
                "option", name="CRITICAL · scoops-freezer-1 · freezer (firing)"
            ).click()
            steps = "div.ops-plan[data-plan-id='freezer-failure']"
            page.locator(steps).wait_for()
            overdue = f"{steps} li[data-step-id='keep-shut'][data-state='overdue']"
            assert colour(page, overdue) == RED
            assert "OVERDUE" in page.locator(overdue).inner_text()
            page.get_by_role("button", name=f"Done: {MOVE}").click()
            done = page.locator(f"{steps} li[data-step-id='move-stock'][data-state='done']")
            done.wait_for(timeout=10_000)
            assert "done by admin at" in done.inner_text()
            assert colour(page, f"{steps} li[data-step-id='move-stock']") != RED
            page.screenshot(path=SHOTS / "09-plan-steps.png", full_page=True)
        finally:
            browser.close()
    store = SqliteStore(store_path, event=event)
    try:
        entries = store.log_entries()
        audit = store.audit_entries()
    finally:
        store.close()
    (tick,) = [e for e in entries if e.kind == "plan_step"]
    assert (tick.author, tick.step_id, tick.plan_id) == ("admin", "move-stock", "freezer-failure")
    (run,) = runs(entries, plans, datetime.now(UTC))
    assert [s.state for s in run.steps][:2] == ["overdue", "done"]
    assert any(a.action == "plan_step" and a.user == "admin" for a in audit)
