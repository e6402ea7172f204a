"""The control log kernel: entries and their checks, the incident fold, exports, append-only."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from opsroom.alerts import AlertEvent
from opsroom.clock import fixed
from opsroom.controllog import LogEntry, LogError, alert_entry, corrected, incidents, new_entry
from opsroom.controllog.export import export, to_csv, to_markdown
from opsroom.store.influx import log_to_line
from opsroom.store.sqlite import SqliteStore

T0 = datetime(2026, 7, 4, 18, 0, 0, tzinfo=UTC)


def at(seconds: float, text: str = "t", **fields: Any) -> LogEntry:
    fields.setdefault("category", "medical")
    fields.setdefault("author", "Ann")
    return new_entry(text=text, event_ts=T0 + timedelta(seconds=seconds), **fields)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"text": "   "}, "text is empty"),
        ({"text": "x" * 2001}, "text is 2001 characters, at most 2000"),
        ({"category": "aliens"}, "category"),
        ({"priority": "asap"}, "priority"),
        ({"author": " "}, "author is empty"),
        ({"kind": "update"}, "a update entry needs incident_id"),
        ({"kind": "decision"}, "a decision entry needs decision and rationale"),
        ({"kind": "correction"}, "a correction entry needs corrects"),
        ({"kind": "assigned", "incident_id": "x"}, "incident_id 'x' is not an entry id"),
        ({"location": "gate/north"}, "neither a venue entity id nor 'lat,lon'"),
        ({"location": "95.0,10"}, "out of range"),
        ({"text": "a\x00b"}, "NUL"),
    ],
)
def test_bad_entries_are_refused_naming_the_field(fields: dict[str, Any], problem: str) -> None:
    args: dict[str, Any] = {"author": "Ann", "category": "medical", "text": "ok"} | fields
    with pytest.raises(LogError, match=re.escape(problem)):
        new_entry(**args)


def test_a_location_must_be_a_venue_entity_or_a_point() -> None:
    with pytest.raises(LogError, match="'gate-z' is not an entity of the venue"):
        new_entry(author="a", category="crowd", text="t", location="gate-z", entities={"gate-b"})
    ok = new_entry(author="a", category="crowd", text="t", location="gate-b", entities={"gate-b"})
    point = new_entry(author="a", category="crowd", text="t", location=" 51.5 , -0.1 ")
    assert (ok.location, point.point) == ("gate-b", (51.5, -0.1))


def test_new_entry_stamps_wall_and_event_time_and_opens_its_own_incident() -> None:
    e = new_entry(author="Ann", category="medical", text="Faint", kind="incident_open",
                  clock=fixed(T0))  # fmt: skip
    assert (e.wall_ts, e.event_ts, e.incident_id) == (T0, T0, e.id)


def test_incidents_fold_open_update_assign_close_and_time_to_close() -> None:
    a = at(0, "Lost child, red coat", kind="incident_open", category="lost_person")
    b = at(60, "Medical at stage", kind="incident_open", priority="urgent")
    entries = [
        a,
        b,
        at(120, "Searching zone 3", kind="update", incident_id=a.id),
        at(130, "Team Blue", kind="assigned", incident_id=a.id, owner="Team Blue"),
        at(600, "Found at gate B", kind="incident_close", incident_id=a.id),
        at(700, "unrelated note"),
    ]
    first, second = incidents(entries)  # newest opened first
    assert (first.id, first.is_open, first.time_to_close) == (b.id, True, None)
    assert (second.id, second.owner, second.updates) == (a.id, "Team Blue", 3)
    assert second.time_to_close == timedelta(minutes=10)
    assert first.age(T0 + timedelta(seconds=160)) == timedelta(seconds=100)


def test_a_correction_is_a_new_entry_pointing_at_the_old_one() -> None:
    wrong = at(0, "Gate C closed")
    fix = at(30, "Gate B closed, not C", kind="correction", corrects=wrong.id)
    assert corrected([wrong, fix]) == {wrong.id: fix}


def alert(state: str, **kw: Any) -> AlertEvent:
    fields: dict[str, Any] = {
        "alert_id": "cold.fridge-1.1",
        "rule": "cold_holding",
        "subject": "fridge-1",
        "kind": "coldchain",
        "severity": "critical",
        "state": state,
        "ts": T0,
        "message": "fridge-1 above 8 °C for 15 min",
    }
    return AlertEvent(**(fields | kw))


def test_an_alert_transition_becomes_one_entry_with_a_fixed_id() -> None:
    firing = alert_entry(alert("firing"), now=T0)
    again = alert_entry(alert("firing"), now=T0 + timedelta(hours=1))
    ack = alert_entry(alert("acknowledged", actor="Sam", note="on it"), now=T0)
    assert firing.id == again.id != ack.id
    assert (firing.kind, firing.category, firing.priority) == ("alert", "food_safety", "urgent")
    assert firing.alert_id == "cold.fridge-1.1" and firing.location == "fridge-1"
    assert (ack.author, ack.text) == (
        "Sam",
        "CRITICAL alert acknowledged by Sam: fridge-1 above 8 °C for 15 min (fridge-1) — on it",
    )


def test_exports_keep_every_entry_and_neutralise_markup_and_formulas() -> None:
    entries = [
        at(0, '=HYPERLINK("http://x")', kind="incident_open"),
        at(
            5,
            "Close | the <b>gate</b>",
            kind="decision",
            decision="Hold gate B",
            rationale="density 4.2",
            decided_by="Silver",
        ),
    ]
    rows = list(csv.DictReader(io.StringIO(to_csv(entries))))
    assert [r["id"] for r in rows] == [e.id for e in entries]
    assert rows[0]["text"] == '\'=HYPERLINK("http://x")'
    assert rows[1]["decided_by"] == "Silver"
    md = to_markdown(entries)
    decided = "DECISION: Hold gate B; rationale: density 4.2; decided by Silver"
    assert f"Close \\| the &lt;b&gt;gate&lt;/b&gt; — {decided}" in md
    assert "<b>" not in md
    lines = export(entries, "jsonl").splitlines()
    assert [LogEntry.model_validate_json(line) for line in lines] == entries
    with pytest.raises(ValueError, match="unknown export format 'pdf'"):
        export(entries, "pdf")


def test_sqlite_refuses_to_change_or_delete_an_entry(tmp_path: Path) -> None:
    """Append-only in the file itself: not even a direct SQL statement edits the log."""
    path = tmp_path / "log.db"
    store = SqliteStore(path, event="demo")
    kept = at(0, "original")
    store.write_log([kept])
    store.close()
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only: entries are never changed"):
        db.execute("UPDATE control_log SET data = '{}'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only: entries are never deleted"):
        db.execute("DELETE FROM control_log")
    db.close()
    assert SqliteStore(path, event="demo").log_entries() == [kept]


def test_the_log_line_round_trips_the_entry_with_its_id_as_a_tag() -> None:
    e = at(0.5, 'say "hi" \\ there\nline two', kind="incident_open", category="security")
    line = log_to_line(e, 7, event_id="rehearsal 1")
    assert line.startswith(
        rf"control_log,category=security,event_id=rehearsal\ 1,incident_id={e.id},log_id={e.id}"
    )
    assert line.endswith(f",seq=7i {int(T0.timestamp()) * 1_000_000 + 500_000}")
    assert "\n" not in line
    raw = re.search(r' entry="((?:[^"\\]|\\.)*)"', line)
    assert raw is not None
    unescaped = raw.group(1).replace('\\"', '"').replace("\\\\", "\\")
    assert LogEntry.model_validate(orjson.loads(unescaped)) == e


def test_an_acknowledgement_with_a_nul_or_a_long_name_is_still_logged() -> None:
    """What a sender put in an acknowledgement never stops its transition being logged."""
    e = alert_entry(alert("acknowledged", actor="S\x00am" + "x" * 200, note="ok\x00 \ud800"))
    assert e.author == "Sam" + "x" * 97
    assert "\x00" not in e.text and e.text.endswith("— ok ?")
