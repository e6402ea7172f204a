"""Named users in the app (Streamlit's AppTest): roles, disabled accounts, idle expiry, the
kiosk URL, and a users file that does not load."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import auth, login
from opsroom.store.sqlite import SqliteStore
from opsroom.users import UserEntry, UsersFile, hash_password, save_users
from tests.dashboard import data
from tests.dashboard.test_pages import APP, PAGES, errors, markdown

PW = "operators long password"
TOKEN = "wall-screen-token-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(auth, "clock", c)
    return c


@pytest.fixture
def users_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A store with a firing alert, and a users file: a viewer, an operator, a disabled one."""
    for name in ("OPSROOM_DASHBOARD_NO_AUTH", "OPSROOM_DASHBOARD_PASSWORD", "OPSROOM_EVENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OPSROOM_RULES", raising=False)
    store = tmp_path / "store.db"
    data.fill(store, datetime.now(UTC))
    monkeypatch.setenv("OPSROOM_STORE", f"sqlite:///{store}")
    monkeypatch.setenv("OPSROOM_VENUE", str(data.VENUE))
    monkeypatch.setenv("OPSROOM_DATA_DIR", str(tmp_path / "data"))
    h = hash_password(PW)
    path = tmp_path / "users.yaml"
    save_users(
        path,
        UsersFile(
            users=[
                UserEntry(name="vic", role="viewer", password_hash=h),
                UserEntry(name="olga", role="operator", password_hash=h),
                UserEntry(name="gone", role="operator", password_hash=h, disabled=True),
            ]
        ),
    )
    monkeypatch.setenv("OPSROOM_USERS_FILE", str(path))
    login.GUARD.reset()
    yield path
    login.GUARD.reset()


def log_in(name: str, password: str = PW, at: AppTest | None = None) -> AppTest:
    at = at or AppTest.from_file(APP, default_timeout=30).run()
    at.text_input(key="login_user").input(name)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_a_viewer_sees_every_page_and_no_acknowledge_control(users_file) -> None:
    at = log_in("vic")
    assert "ops-tile" in markdown(at)
    assert "Logged in as **vic** (viewer)" in [c.value for c in at.caption]
    for page in (*PAGES.values(), "views/controllog.py"):
        at.switch_page(page).run()
        assert not at.exception, page
        assert not [b for b in at.button if "Acknowledge" in b.label], page
        assert not at.text_area, page
    # the control log is read, not written: no category buttons, no incident actions
    assert not [b for b in at.button if (b.key or "").startswith("log_cat_")]
    assert not [b for b in at.button if "incident" in (b.label or "").lower()]
    at.switch_page(PAGES["alerts"]).run()
    assert any("cannot acknowledge" in c.value for c in at.caption)


def test_an_operator_acknowledges_as_themselves(users_file) -> None:
    at = log_in("olga")
    at.switch_page(PAGES["alerts"]).run()
    assert any(c.value == "Acknowledging as **olga**" for c in at.caption)
    # no name to type anywhere: the acknowledgement and the silence forms sign with the login
    assert not [t for t in at.text_input if "name" in t.label.lower()]
    assert "As olga" in [c.value for c in at.caption]


def test_a_disabled_account_is_told_so(users_file) -> None:
    at = log_in("gone")
    assert "This account is disabled" in errors(at) and "ops-tile" not in markdown(at)
    at = log_in("gone", "a wrong password", at)
    assert "Wrong user name or password." in errors(at)  # no hint without the password


def test_a_locked_account_refuses_its_right_password_from_another_session(users_file) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    for _ in range(login.FREE_FAILURES + 1):
        log_in("olga", "not her password", at)
    assert "Too many failed logins" in errors(at)
    again = log_in("olga")
    assert "Too many failed logins" in errors(again) and "ops-tile" not in markdown(again)


def test_an_idle_session_expires_and_activity_keeps_it(users_file, clock, monkeypatch) -> None:
    monkeypatch.setenv("OPSROOM_SESSION_IDLE_MINUTES", "10")
    at = log_in("olga")
    clock.now += 9 * 60
    at.run()  # activity: the idle timer starts again
    clock.now += 9 * 60
    at.run()
    assert "ops-tile" in markdown(at)
    clock.now += 10 * 60 + 1
    at.run()
    assert "ops-tile" not in markdown(at)
    assert any("expired after 10 min without activity" in i.value for i in at.info)
    assert at.text_input(key="login_password")


def test_logout_returns_to_the_login(users_file) -> None:
    at = log_in("vic")
    at.button(key="logout").click().run()
    assert "ops-tile" not in markdown(at)
    assert "You are logged out." in [i.value for i in at.info]


def test_a_disabled_account_loses_its_open_session(users_file) -> None:
    at = log_in("olga")
    text = users_file.read_text().replace("disabled: false", "disabled: true")
    users_file.write_text(text)
    at.run()
    assert "ops-tile" not in markdown(at) and at.text_input(key="login_password")


def test_the_kiosk_url_is_a_viewer_with_no_controls(users_file, monkeypatch) -> None:
    monkeypatch.setenv("OPSROOM_KIOSK_TOKEN", TOKEN)
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["kiosk"] = TOKEN
    at.run()
    assert not at.exception and "ops-tile" in markdown(at)
    assert "font-size: 24px" in markdown(at)  # the larger type
    # the wall shows one page at a time and moves on when its ticker says so: every page in
    # turn, none with a control
    titles = []
    for turn in range(8):
        if turn:
            at.session_state["opsroom_kiosk_next"] = True  # what the ticker sets when due
            at.run()
        assert not at.exception, titles
        assert not at.button and not at.text_input and not at.multiselect, titles
        assert not at.selectbox and not at.get("button_group"), titles
        titles.append(at.title[0].value if at.title else markdown(at)[:40])
    assert len(set(titles)) == 8 and "Control log" in titles and "Alerts" in titles, titles


def test_a_wrong_kiosk_token_is_a_failed_login(users_file, monkeypatch, caplog) -> None:
    monkeypatch.setenv("OPSROOM_KIOSK_TOKEN", TOKEN)
    caplog.set_level("INFO", logger="opsroom.dashboard")
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["kiosk"] = TOKEN[:-1] + "x"
    at.run()
    assert "ops-tile" not in markdown(at) and at.text_input(key="login_password")
    at.run()  # counted once per session, not on every rerun
    logged = [r.getMessage() for r in caplog.records]
    assert len([m for m in logged if m.startswith("failed dashboard login from local")]) == 1
    assert "audit login_failed user=kiosk role=- address=local wrong kiosk token" in logged
    assert not [m for m in logged if TOKEN[:-1] in m]


def test_every_login_event_goes_through_the_audit_hook(users_file, caplog) -> None:
    caplog.set_level("INFO", logger="opsroom.dashboard.audit")
    at = log_in("olga", "not her password")
    log_in("olga", PW, at)
    at.button(key="logout").click().run()
    audit = [r.getMessage() for r in caplog.records if r.name == "opsroom.dashboard.audit"]
    assert audit == [
        "audit login_failed user=olga role=- address=local",
        "audit login user=olga role=operator address=local",
        "audit logout user=olga role=operator address=local",
    ]
    # and each is in the store's append-only audit trail, with role and address
    trail = SqliteStore(str(users_file.parent / "store.db"), event="demo").audit_entries()
    assert [(e.action, e.user, e.role, e.address) for e in trail] == [
        ("login_failed", "olga", None, "local"),
        ("login", "olga", "operator", "local"),
        ("logout", "olga", "operator", "local"),
    ]


def test_a_users_file_that_does_not_load_shows_where(users_file) -> None:
    users_file.write_text("users:\n  - name: sam\n    role: chief\n    password_hash: x\n")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert "Cannot load the users file" in errors(at)
    assert "line 3: users[0].role" in errors(at) and not at.text_input


def test_a_users_file_broken_during_a_session_ends_it_without_a_crash(users_file) -> None:
    at = log_in("olga")
    users_file.write_text("users: [\n")
    at.run()
    assert not at.exception and "ops-tile" not in markdown(at)
    assert "Cannot load the users file" in errors(at) and "not valid YAML" in errors(at)
