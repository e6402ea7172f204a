"""`opsroom users`: passwords from stdin (never argv), the file rewritten whole, errors named."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from opsroom.app.cli import main
from opsroom.users import load_users, verify_password

PW = "long enough password"


def users(argv: list[str], stdin: str = "", monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    assert monkeypatch is not None
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))  # not a terminal: read a line
    return main(["users", *argv])


def test_add_list_passwd_disable_enable(tmp_path: Path, monkeypatch, capsys) -> None:
    path = tmp_path / "users.yaml"
    monkeypatch.setenv("OPSROOM_USERS_FILE", str(path))
    assert users(["add", "sam", "--role", "operator"], PW + "\n", monkeypatch) == 0
    assert users(["add", "vic", "--role", "viewer"], "another long one\n", monkeypatch) == 0
    assert f"{path}: added sam (operator)" in capsys.readouterr().out
    text = path.read_text()
    assert PW not in text and "$argon2id$" in text
    entry = load_users(path).get("sam")
    assert (
        entry is not None and entry.role == "operator" and verify_password(entry.password_hash, PW)
    )

    assert users(["passwd", "sam"], "a new long password\n", monkeypatch) == 0
    entry = load_users(path).get("sam")
    assert entry is not None and verify_password(entry.password_hash, "a new long password")
    assert users(["disable", "vic"], monkeypatch=monkeypatch) == 0
    capsys.readouterr()
    assert users(["list"], monkeypatch=monkeypatch) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split() for line in listed] == [
        ["sam", "operator", "active"],
        ["vic", "viewer", "disabled"],
    ]
    assert users(["--file", str(path), "enable", "vic"], monkeypatch=monkeypatch) == 0
    vic = load_users(path).get("vic")
    assert vic is not None and not vic.disabled


def test_refusals_say_why(tmp_path: Path, monkeypatch, capsys) -> None:
    path = tmp_path / "users.yaml"
    monkeypatch.setenv("OPSROOM_USERS_FILE", str(path))
    assert users(["add", "sam", "--role", "operator"], "short\n", monkeypatch) == 2
    assert "at least 12 characters" in capsys.readouterr().err and not path.exists()
    assert users(["add", "sam", "--role", "operator"], PW + "\n", monkeypatch) == 0
    assert users(["add", "sam", "--role", "admin"], PW + "\n", monkeypatch) == 2
    assert "user 'sam' exists" in capsys.readouterr().err
    assert users(["passwd", "nobody"], PW + "\n", monkeypatch) == 2
    assert "no user 'nobody'" in capsys.readouterr().err
    assert users(["add", "bad name", "--role", "viewer"], PW + "\n", monkeypatch) == 2
    assert "invalid user name" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        users(["add", "kim", "--role", "boss"], PW + "\n", monkeypatch)
    monkeypatch.delenv("OPSROOM_USERS_FILE")
    assert users(["list"], monkeypatch=monkeypatch) == 2
    assert "OPSROOM_USERS_FILE" in capsys.readouterr().err


def test_there_is_no_password_argument(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["users", "add", "sam", "--role", "viewer", "--password", PW])
    assert "unrecognized arguments" in capsys.readouterr().err


def test_a_malformed_file_names_file_line_and_field(tmp_path: Path, monkeypatch, capsys) -> None:
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  - name: sam\n    role: boss\n    password_hash: '$argon2id$x'\n")
    before = path.read_text()
    assert main(["users", "--file", str(path), "list"]) == 2
    err = capsys.readouterr().err
    assert f"configuration error: {path}: line 3: users[0].role: Input should be" in err
    assert users(["--file", str(path), "disable", "sam"], monkeypatch=monkeypatch) == 2
    assert path.read_text() == before  # never rewritten from a file it could not read


def test_a_bad_users_file_stops_the_dashboard_before_it_starts(tmp_path: Path) -> None:
    """Start-up, for real: `opsroom dashboard` exits 2 naming file, line and field."""
    path = tmp_path / "users.yaml"
    path.write_text(
        "users:\n  - name: sam\n    role: superuser\n    password_hash: '$argon2id$x'\n"
    )
    venue = Path(__file__).resolve().parents[1] / "examples" / "venue.yaml"
    env = {"PATH": "/usr/bin:/bin", "OPSROOM_USERS_FILE": str(path)}
    out = subprocess.run(
        [sys.executable, "-m", "opsroom", "dashboard", "--venue", str(venue), "--port", "1"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert f"{path}: line 3: users[0].role: Input should be 'viewer', 'operator' or 'admin'" in (
        out.stderr
    )


def test_a_password_from_a_pipe_never_reaches_argv_or_output(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    out = subprocess.run(
        [sys.executable, "-m", "opsroom", "users", "--file", str(path), "add", "kim", "--role",
         "admin"],
        input=PW + "\n",
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert PW not in out.stdout + out.stderr and PW not in path.read_text()
    entry = load_users(path).get("kim")
    assert entry is not None and entry.role == "admin"
