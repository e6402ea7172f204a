"""The audit entry's shape, and the SQLite file refusing to edit its audit trail."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from opsroom.audit import AuditEntry, untrusted_name
from opsroom.store.sqlite import SqliteStore

T0 = datetime(2026, 7, 4, 18, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("user", "", "is blank"),
        ("user", "sam\nadmin", "control character"),
        ("user", "x" * 101, "at most 100"),
        ("action", "Login OK", "lower-case word"),
        ("action", "x" * 41, "lower-case word"),
        ("role", "root!", "lower-case word"),
        ("target", "a\\b", "backslash"),
        ("detail", "x" * 2001, "at most 2000"),
        ("detail", "a\x00b", "NUL"),
        ("address", "\ud800", "lone surrogate"),
        ("password", "hunter2", "Extra inputs"),
    ],
)
def test_a_bad_entry_is_refused_naming_the_field(field: str, value: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AuditEntry.model_validate({"ts": T0, "user": "sam", "action": "ack", field: value})
    assert field in str(caught.value) and says in str(caught.value)


def test_new_actions_need_no_edit_and_detail_may_span_lines() -> None:
    entry = AuditEntry(ts=T0, user="sam", action="silence", detail="planned work\non gen-a")
    assert entry.action == "silence" and entry.target == "" and entry.role is None


def test_a_typed_name_is_made_recordable() -> None:
    shown = untrusted_name("adm\\in\x07\n" + "x" * 200)
    assert shown.startswith("adm<U+005C>in<U+0007><U+000A>x") and len(shown) == 100
    assert AuditEntry(ts=T0, user=shown, action="login_failed").user == shown
    assert untrusted_name("  ") == "?"


def test_the_sqlite_file_refuses_to_edit_or_delete_audit_rows(tmp_path: Path) -> None:
    """Not only the adapter: any client of the file (sqlite3 by hand) is refused."""
    store = SqliteStore(tmp_path / "o.db", event="fest")
    store.write_audit([AuditEntry(ts=T0, user="sam", action="ack", target="a1")])
    store.close()
    db = sqlite3.connect(tmp_path / "o.db")
    for sql in ("UPDATE audit SET user = 'ana'", "DELETE FROM audit"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    db.close()
    again = SqliteStore(tmp_path / "o.db", event="fest")  # reopening keeps table and triggers
    assert [e.user for e in again.audit_entries()] == ["sam"]
    again.close()
