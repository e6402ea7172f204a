"""The users file, its hashes and the account check: what a login can and cannot learn."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import pytest

from opsroom.configfile import ConfigError
from opsroom.users import (
    ENV_ADMIN,
    Directory,
    User,
    UserEntry,
    UsersFile,
    directory,
    hash_password,
    load_users,
    save_users,
    verify_password,
)

PW = "correct horse battery"


@pytest.fixture(scope="module")
def users() -> UsersFile:
    h = hash_password(PW)
    return UsersFile(
        users=[
            UserEntry(name="vic", role="viewer", password_hash=h),
            UserEntry(name="olga", role="operator", password_hash=h),
            UserEntry(name="ada", role="admin", password_hash=h),
            UserEntry(name="gone", role="operator", password_hash=h, disabled=True),
        ]
    )


def test_hashes_are_salted_argon2id_and_check_the_password() -> None:
    a, b = hash_password(PW), hash_password(PW)
    assert a.startswith("$argon2id$") and a != b and PW not in a
    assert verify_password(a, PW) and verify_password(b, PW)
    assert not verify_password(a, PW + "x") and not verify_password("not a hash", PW)


def test_roles_grant_what_they_say() -> None:
    assert not User("v", "viewer").can("ack")
    assert User("o", "operator").can("ack") and not User("o", "operator").can("manage_users")
    assert User("a", "admin").can("ack") and User("a", "admin").can("manage_users")


def test_authenticate_by_name_and_password(users: UsersFile) -> None:
    d = Directory(users)
    assert d.authenticate("olga", PW) == ("ok", User("olga", "operator"))
    assert d.authenticate(" vic ", PW) == ("ok", User("vic", "viewer"))
    assert d.authenticate("olga", "wrong password!") == ("wrong", None)
    assert d.authenticate("nobody", PW) == ("wrong", None)  # as a wrong password
    assert d.authenticate("OLGA", PW) == ("wrong", None)
    # a disabled account says so only to someone who knows its password
    assert d.authenticate("gone", PW) == ("disabled", None)
    assert d.authenticate("gone", "a guess at it") == ("wrong", None)


def test_the_dashboard_password_alone_is_one_admin_account() -> None:
    d = directory(None, "a long dashboard password")
    assert d.authenticate(ENV_ADMIN, "a long dashboard password") == (
        "ok",
        User(ENV_ADMIN, "admin"),
    )
    assert d.authenticate("sam", "a long dashboard password") == ("wrong", None)
    assert d.authenticate(ENV_ADMIN, "a long dashboard passwore") == ("wrong", None)
    assert d.authenticate("ädmin", "x") == ("wrong", None)  # non-ASCII names do not crash
    assert Directory(None, None).authenticate(ENV_ADMIN, "") == ("wrong", None)


def _time(d: Directory, name: str, password: str) -> float:
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        d.authenticate(name, password)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def test_an_unknown_name_costs_as_much_as_a_wrong_password(users: UsersFile) -> None:
    """Timing must not tell which names exist: an unknown name runs one argon2 check too."""
    d = Directory(users)
    d.authenticate("warm-up", PW)
    known, unknown = _time(d, "olga", "wrong password!"), _time(d, "nobody", "wrong password!")
    assert known > 0.005  # argon2 is deliberately slow
    assert 0.5 < unknown / known < 2.0, (known, unknown)


def test_save_and_load_round_trip_owner_only(tmp_path: Path, users: UsersFile) -> None:
    path = tmp_path / "users.yaml"
    save_users(path, users)
    assert load_users(path) == users
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert PW not in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["users.yaml"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_whole(
    tmp_path: Path, users: UsersFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "users.yaml"
    save_users(path, users)
    before = path.read_text()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        save_users(path, UsersFile(users=users.users[:1]))
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["users.yaml"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "users:\n  - name: sam\n    role: boss\n    password_hash: '$argon2id$x'\n",
            "line 3: users[0].role: Input should be 'viewer', 'operator' or 'admin' (got 'boss')",
        ),
        (
            "users:\n  - name: sam\n    role: viewer\n",
            "line 2: users[0].password_hash: Field required",
        ),
        (
            "users:\n  - name: sam\n    role: viewer\n    password_hash: hunter2\n",
            "line 4: users[0].password_hash: Value error, must be an argon2id hash",
        ),
        (
            "users:\n  - {name: sam, role: viewer, password_hash: '$argon2id$a'}\n"
            "  - {name: sam, role: admin, password_hash: '$argon2id$b'}\n",
            "line 3: users[1].name: user 'sam' is listed twice",
        ),
        (
            "users:\n  - name: sam\n    role: viewer\n    password_hash: '$argon2id$x'\n"
            "    pasword: x\n",
            "line 5: users[0].pasword: Extra inputs are not permitted",
        ),
        ("users:\n  - name: [sam\n", "line 2: not valid YAML"),
    ],
)
def test_a_malformed_users_file_names_file_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        directory(path, None)
    assert str(err.value).startswith(f"{path}: ") and expected in str(err.value), err.value


def test_a_users_file_that_is_missing_or_empty_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        directory(tmp_path / "absent.yaml", None)
    (tmp_path / "empty.yaml").write_text("users: []\n")
    with pytest.raises(ConfigError, match="no account"):
        directory(tmp_path / "empty.yaml", None)
