"""The dashboard's language per session (Streamlit's AppTest): a user's own language from the
users file, and the sidebar choice, each for that session only."""

from __future__ import annotations

from pathlib import Path

from opsroom.users import UserEntry, hash_password, load_users, save_users
from tests.dashboard.test_auth_pages import PW, log_in, users_file  # noqa: F401 (fixture)


def titles(at) -> list[str]:
    return [t.value for t in at.title]


def test_a_user_with_a_language_in_the_users_file_reads_the_dashboard_in_it(
    users_file: Path,  # noqa: F811
) -> None:
    users = load_users(users_file)
    li = UserEntry(name="li", role="operator", password_hash=hash_password(PW), locale="zh-CN")
    save_users(users_file, users.model_copy(update={"users": [*users.users, li]}))
    at = log_in("li")
    assert titles(at) == ["河畔音乐节 · 总览"]
    assert "已登录：**li**（操作员）" in [c.value for c in at.caption]
    # a colleague without one, on the same server at the same time, reads English
    other = log_in("olga")
    assert titles(other) == ["Riverside Festival · Overview"]


def test_the_sidebar_choice_changes_this_session_only(users_file: Path) -> None:  # noqa: F811
    at = log_in("olga")
    assert titles(at) == ["Riverside Festival · Overview"]
    at.selectbox(key="opsroom_locale_picker").select("zh-CN").run()
    assert not at.exception, at.exception
    assert titles(at) == ["河畔音乐节 · 总览"]
    assert "严重告警" in [m.label for m in at.metric]
    assert titles(log_in("vic")) == ["Riverside Festival · Overview"]
