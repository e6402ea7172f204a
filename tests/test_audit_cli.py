"""`opsroom audit export` as the README shows it: a subprocess on a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsroom.audit import AuditEntry
from opsroom.store.sqlite import SqliteStore
from tests.test_query_cli import ROOT, _env, opsroom

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two days of an ops room: logins, a lockout, an acknowledgement, in two events."""
    db = tmp_path_factory.mktemp("audit") / "opsroom.db"
    store = SqliteStore(db, event="fest")
    at = [NOW - timedelta(hours=h) for h in (30, 3, 2, 1)]
    store.write_audit(
        [
            AuditEntry(ts=at[0], user="ana", role="admin", action="login_ok", address="10.0.0.2"),
            AuditEntry(ts=at[1], user="=cmd|' /C calc'!A0", action="login_failed", address="::1"),
            AuditEntry(ts=at[2], user="sam", role="operator", action="login_ok"),
            AuditEntry(
                ts=at[3],
                user="sam",
                role="operator",
                action="ack",
                target="cold.fridge-1.1",
                detail='moved stock, "door" shut\nsecond line',
            ),
        ]
    )
    store.close()
    other = SqliteStore(db, event="rehearsal")
    other.write_audit([AuditEntry(ts=at[3], user="sam", action="ack", target="x")])
    other.close()
    return f"sqlite:///{db}"


def export(store_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return opsroom("audit", "export", "--store", store_url, "--event", "fest", *args)


def test_csv_lists_every_entry_of_the_event_with_a_header(store_url: str) -> None:
    done = export(store_url)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["user"], r["action"]) for r in rows] == [
        ("ana", "login_ok"),
        ("'=cmd|' /C calc'!A0", "login_failed"),  # never a formula in a spreadsheet
        ("sam", "login_ok"),
        ("sam", "ack"),
    ]
    ack = rows[-1]
    assert ack["target"] == "cold.fridge-1.1" and ack["role"] == "operator"
    assert ack["detail"] == 'moved stock, "door" shut\nsecond line'
    assert datetime.fromisoformat(ack["ts"]) == NOW - timedelta(hours=1)


def test_jsonl_since_user_and_action_filter(store_url: str) -> None:
    done = export(store_url, "--format", "jsonl", "--since", "-24h", "--user", "sam")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["action"] for line in done.stdout.splitlines()] == ["login_ok", "ack"]
    done = export(store_url, "--format", "jsonl", "--action", "login_failed")
    [line] = done.stdout.splitlines()
    assert json.loads(line)["user"] == "=cmd|' /C calc'!A0"  # JSON lines keep it exact
    assert export(store_url, "--since", "-24h", "--action", "logout").stdout == (
        "ts,user,role,action,target,detail,address\n"
    )


def test_output_file(store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    done = export(store_url, "--format", "jsonl", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "4 audit entries" in done.stderr
    assert len(out.read_text().splitlines()) == 4
    done = export(store_url, "-o", str(tmp_path / "no" / "such" / "dir" / "a.csv"))
    assert done.returncode == 1 and "cannot write" in done.stderr and "Traceback" not in done.stderr


def test_bad_arguments_are_clear_errors(store_url: str) -> None:
    done = export(store_url, "--since", "-2x")
    assert done.returncode == 2 and "invalid duration '2x'" in done.stderr
    done = export(store_url, "--format", "xml")
    assert done.returncode == 2 and "invalid choice: 'xml'" in done.stderr


def test_a_reader_that_stops_early_ends_the_export_quietly(tmp_path: Path) -> None:
    """`opsroom audit export | head -1` on a long trail: no error, like other Unix tools."""
    store = SqliteStore(tmp_path / "big.db", event="fest")
    store.write_audit(
        [
            AuditEntry(ts=NOW - timedelta(seconds=i), user=f"user-{i}", action="login_failed")
            for i in range(5000)  # ~0.3 MB: far more than a pipe's 64 KiB buffer
        ]
    )
    store.close()
    url = f"sqlite:///{tmp_path / 'big.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsroom", "audit", "export", "--event", "fest", "--store", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"ts,user,role,action,target,detail,address\n"
    proc.stdout.close()
    code = proc.wait(60)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert stderr == ""
    assert code in (0, 128 + signal.SIGPIPE, -signal.SIGPIPE)
