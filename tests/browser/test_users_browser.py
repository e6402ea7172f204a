"""Named users in a real headless Chromium: a viewer has no acknowledge control anywhere, an
operator's acknowledgement shows their name in another browser, six wrong passwords lock the
account, an idle session returns to the login, and the kiosk URL rotates the pages with no
controls. Each test runs its own `opsroom dashboard` (lockouts are per process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest import IngestService
from opsroom import topics
from opsroom.broker import Mosquitto, free_port
from opsroom.rulesfile.model import load_rules
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from opsroom.users import UserEntry, UsersFile, hash_password, save_users
from opsroom.venue import load_venue
from rules.engine import Engine
from rules.service import RulesService
from tests.browser.test_dashboard_browser import ARGS, CHROMIUM, SHOTS
from tests.browser.waits import log_in
from tests.conftest import publisher, wait_dashboard, wait_until
from tests.dashboard import data

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
ROOT = Path(__file__).resolve().parents[2]
PW = {"vic": "viewer's long password", "olga": "operator's long password"}
TOKEN = "wall-screen-kiosk-token-42"
FRIDGE = "smokestack-fridge"
# what a viewer or the wall screen must not have: the acknowledge form, or any input at all
ACK_CONTROLS = "[data-testid='stForm'], [data-testid='stFormSubmitButton'], textarea"
CONTROLS = (
    "input, textarea, [data-testid='stButton'], [data-testid='stFormSubmitButton'], "
    "[data-testid='stSelectbox'], [data-testid='stMultiSelect'], [data-testid='stExpander'], "
    "[data-testid='stButtonGroup'], [data-testid='stSidebar']"
)
PAGE_TITLES = ["Crowd", "Power", "Cold chain", "Shuttles", "Weather", "Alerts"]

Start = Callable[..., str]


@pytest.fixture
def start_dashboard(tmp_path: Path, broker: Mosquitto, event: str) -> Iterator[Start]:
    """start(store, **env) runs `opsroom dashboard` with a users file (vic: viewer, olga:
    operator) and returns its URL once healthy."""
    users = tmp_path / "users.yaml"
    save_users(
        users,
        UsersFile(
            users=[
                UserEntry(name="vic", role="viewer", password_hash=hash_password(PW["vic"])),
                UserEntry(name="olga", role="operator", password_hash=hash_password(PW["olga"])),
            ]
        ),
    )
    procs: list[subprocess.Popen[bytes]] = []
    logs = []

    def start(store: Path, **extra: str) -> str:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPSROOM_")} | {
            "OPSROOM_USERS_FILE": str(users),
            "OPSROOM_DATA_DIR": str(tmp_path / "data"),
            **{f"OPSROOM_{k.upper()}": v for k, v in extra.items()},
        }
        log_path = tmp_path / f"dashboard-{port}.log"
        log = log_path.open("wb")
        logs.append(log)
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "opsroom", "dashboard",
                "--port", str(port),
                "--event", event,
                "--mqtt-url", broker.url,
                "--store", f"sqlite:///{store}",
                "--venue", str(data.VENUE),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_dashboard(url, proc, log_path)
        return url

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for log in logs:
        log.close()


@pytest.fixture
def store(tmp_path: Path, event: str) -> Path:
    """A store with 30 minutes of readings and a firing alert."""
    path = tmp_path / "store.db"
    data.fill(path, datetime.now(UTC), event=event)
    return path


@pytest.fixture
def chromium() -> Iterator[object]:
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: object, url: str) -> object:
    page = browser.new_context(viewport={"width": 1600, "height": 2000}).new_page()  # type: ignore[attr-defined]
    page.set_default_timeout(30_000)
    page.goto(url)
    return page


def test_a_viewer_has_no_acknowledge_control_on_any_page(start_dashboard, store, chromium):
    page = new_page(chromium, start_dashboard(store))
    log_in(page, "vic", PW["vic"])
    page.get_by_text("Active alerts", exact=True).wait_for()
    page.get_by_text("Logged in as vic (viewer)").wait_for()
    assert page.locator(ACK_CONTROLS).count() == 0
    for title in PAGE_TITLES:
        page.get_by_role("link", name=title).click()
        page.get_by_role("heading", name=title, exact=True).wait_for()
        if title == "Alerts":
            page.get_by_text("Viewing only: your role cannot acknowledge alerts.").wait_for()
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SHOTS / "20-viewer-alerts.png", full_page=True)
        assert page.locator(ACK_CONTROLS).count() == 0, title
        assert page.get_by_role("button", name="Acknowledge").count() == 0, title


def test_an_operators_acknowledgement_shows_their_name_in_another_browser(
    start_dashboard, chromium, broker: Mosquitto, event: str, tmp_path: Path
) -> None:
    db = tmp_path / "pipeline.db"
    settings = Settings.load(
        {
            "event": event,
            "mqtt_url": broker.url,
            "data_dir": tmp_path / "rules-data",
            "spool_dir": tmp_path / "spool",
            "session_expiry_s": 120,
        },
        env={},
    )
    venue = load_venue(data.VENUE)
    ruleset = load_rules(ROOT / "examples" / "rules.yaml", venue)
    store = SqliteStore(db, event=event)
    ingest = IngestService(settings, store, venue)
    rules = RulesService(settings, store, lambda state: Engine(ruleset, venue, state), venue)
    ingest.start()
    rules.start()
    try:
        assert ingest.wait_connected(10) and rules.wait_connected(10)
        pub = publisher(broker.port)
        start = datetime.now(UTC) - timedelta(minutes=30)
        for minute in range(31):  # 9.5 °C for 30 minutes: a critical cold-holding alert
            ts = (start + timedelta(minutes=minute)).isoformat()
            pub.publish(
                topics.reading(event, "coldchain", FRIDGE),
                json.dumps({"ts": ts, "temp_c": 9.5}),
                qos=1,
            ).wait_for_publish(5)
        pub.loop_stop()

        def firing() -> list:
            return [e for e in store.alert_events() if e.subject == FRIDGE and e.state == "firing"]

        assert wait_until(lambda: bool(firing()), timeout=20), store.alert_events()
        alert_id = firing()[0].alert_id
        url = start_dashboard(db)

        watcher = new_page(chromium, url)  # another browser session: a viewer on the wall
        log_in(watcher, "vic", PW["vic"])
        watcher.get_by_role("link", name="Alerts").click()
        watcher.get_by_role("heading", name="Alerts", exact=True).wait_for()

        page = new_page(chromium, url)
        log_in(page, "olga", PW["olga"])
        page.get_by_role("link", name="Alerts").click()
        page.get_by_text("Acknowledging as olga").wait_for()
        page.locator("[data-testid='stSelectbox']").filter(has_text="Alert").click()
        page.get_by_role("option", name=f"CRITICAL · {FRIDGE} · cold-holding (firing)").click()
        page.get_by_label("Note").fill("Stock moved to the spare fridge")
        page.get_by_role("button", name="Acknowledge").click()
        page.get_by_text("Acknowledgement sent").wait_for()

        # the viewer's page refreshes by itself and names who acknowledged
        item = watcher.locator(f'li.ops-ack[data-alert-id="{alert_id}"]')
        playwright_api.expect(item).to_have_attribute("data-actor", "olga", timeout=20_000)
        playwright_api.expect(item).to_contain_text("acknowledged by olga")
        watcher.get_by_role("link", name="Overview").click()
        playwright_api.expect(
            watcher.locator(f'li.ops-alert[data-alert-id="{alert_id}"]')
        ).to_contain_text("acknowledged · by olga")
        SHOTS.mkdir(parents=True, exist_ok=True)
        watcher.screenshot(path=SHOTS / "21-acknowledged-by-olga.png", full_page=True)
    finally:
        rules.stop()
        ingest.stop()
    [ack] = [e for e in store.alert_events(alert_id=alert_id) if e.state == "acknowledged"]
    assert ack.actor == "olga" and ack.note == "Stock moved to the spare fridge"
    store.close()


def test_six_wrong_passwords_lock_the_account(start_dashboard, store, chromium, event) -> None:
    # a lockout longer than the test, however slow the machine: it must not lapse mid-test
    page = new_page(chromium, start_dashboard(store, login_lockout_s="600"))
    trail = SqliteStore(str(store), event=event)

    def refusals() -> int:
        return sum(
            e.action in ("login_failed", "login_refused_locked") for e in trail.audit_entries()
        )

    for n in range(6):
        log_in(page, "olga", f"wrong guess {n}")
        # each attempt is taken before the next is typed (the message of the one before is
        # still on the page): the dashboard records it in the audit trail
        assert wait_until(lambda n=n: refusals() == n + 1, timeout=30), refusals()
        page.get_by_text(
            "Too many failed logins" if n >= 4 else "Wrong user name or password."
        ).first.wait_for()
    page.get_by_text("Too many failed logins for this account").first.wait_for()
    log_in(page, "olga", PW["olga"])  # the right password, during the lockout
    page.get_by_text("Too many failed logins").first.wait_for()
    assert page.get_by_text("Active alerts", exact=True).count() == 0
    # a fresh browser session is locked out as well
    other = new_page(chromium, page.url)
    log_in(other, "olga", PW["olga"])
    other.get_by_text("Too many failed logins").first.wait_for()
    assert other.get_by_text("Active alerts", exact=True).count() == 0


def test_an_idle_session_returns_to_the_login(start_dashboard, store, chromium) -> None:
    page = new_page(chromium, start_dashboard(store, session_idle_minutes="0.1"))  # 6 s
    log_in(page, "olga", PW["olga"])
    page.get_by_text("Active alerts", exact=True).wait_for()
    # no click: the page keeps refreshing its data, which is not activity
    page.get_by_text("Your session expired after 0.1 min without activity.").wait_for(
        timeout=30_000
    )
    page.get_by_role("button", name="Log in").wait_for()
    assert page.get_by_text("Active alerts", exact=True).count() == 0


def test_the_kiosk_url_rotates_the_pages_with_no_controls(start_dashboard, store, chromium):
    url = start_dashboard(store, kiosk_token=TOKEN, kiosk_rotate_s="3")
    page = new_page(chromium, f"{url}/?kiosk={TOKEN}")
    page.get_by_text("Active alerts", exact=True).wait_for()
    size = page.evaluate("getComputedStyle(document.documentElement).fontSize")
    assert size == "24px"  # larger type
    seen = []
    for title in PAGE_TITLES[:3]:  # Crowd, Power, Cold chain in turn, nobody clicking
        page.get_by_role("heading", name=title, exact=True).wait_for(timeout=20_000)
        # the page's table is drawn after its (absent) controls would have been
        page.locator("[data-testid='stDataFrame']").first.wait_for()
        assert page.locator(CONTROLS).count() == 0, title
        seen.append(title)
        if title == "Power":
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SHOTS / "22-kiosk-power.png", full_page=True)
    assert seen == PAGE_TITLES[:3]


def test_a_wrong_kiosk_token_gets_the_login_page(start_dashboard, store, chromium) -> None:
    url = start_dashboard(store, kiosk_token=TOKEN)
    page = new_page(chromium, f"{url}/?kiosk=not-the-token-at-all")
    page.get_by_role("button", name="Log in").wait_for()
    assert page.get_by_text("Active alerts", exact=True).count() == 0
