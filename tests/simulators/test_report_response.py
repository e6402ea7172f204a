"""The drill report's control-log columns: time to assign, to close the linked incident, and
escalations, from a hand-built log of known times."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from opsroom.app.cli import main
from opsroom.controllog import LogEntry
from opsroom.reports.shift import escalations
from opsroom.store.sqlite import SqliteStore
from simulators.matching import match, with_responses
from simulators.report import html_page, markdown, read_log
from tests.simulators.test_report import EVENTS, at, write_log


def entry(kind: str, minute: float, **kw: object) -> LogEntry:
    fields: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "event_ts": at(minute),
        "wall_ts": at(minute),
        "author": "ops",
        "category": "food_safety",
        "kind": kind,
        "text": kw.pop("text", kind),
        "drill": True,
    }
    fields.update(kw)
    return LogEntry.model_validate(fields)


def hand_built_log() -> list[LogEntry]:
    opened = entry("incident_open", 32, alert_id="a1", text="freezer 1 failing")
    return [
        # the freezer's alert a1: an incident opened from it, assigned at +23 min, closed +60
        opened,
        entry("assigned", 33, incident_id=opened.id, owner="chen-jing"),
        entry("alert", 40, author="rules", alert_id="a1", text="escalated to tier 1, x"),
        entry("alert", 45, author="rules", alert_id="a1", text="escalated to tier 2, x"),
        entry("incident_close", 70, incident_id=opened.id, text="freezer swapped"),
        # the gate surge's alert a2: assigned on its own (no incident), never closed
        entry("assigned", 36, alert_id="a2", owner="stewards-north", category="crowd"),
        # another alert's assignment: counts for nobody
        entry("assigned", 37, alert_id="zz", owner="medics"),
    ]


def test_time_to_assign_close_and_escalations_per_incident(tmp_path: Path) -> None:
    log = read_log(write_log(tmp_path / "log.jsonl"))
    entries = hand_built_log()
    result = with_responses(
        match(log.incidents, EVENTS, window=(log.start, log.finish)),
        entries,
        escalations(entries),
    )
    by_type = {o.incident.type: o for o in result.outcomes}
    freezer, surge = by_type["freezer_failure"], by_type["gate_surge"]  # injected at 10, 30
    assert freezer.time_to_assign == timedelta(minutes=23)
    assert freezer.time_to_close == timedelta(minutes=60)
    assert freezer.response is not None and freezer.response.escalations == 2
    assert surge.time_to_assign == timedelta(minutes=6)
    assert surge.time_to_close is None  # no incident opened from it
    assert by_type["fridge_door_open"].time_to_assign is None

    md = markdown(log, result, timedelta(minutes=10))
    assert "| to assign | to close incident | escalations |" in md
    row = next(line for line in md.splitlines() if "| freezer_failure |" in line)
    assert row.endswith("| 23m 00s | 1h 00m 00s | 2 |")
    page = html_page(log, result, timedelta(minutes=10))
    assert "<th>to assign</th><th>to close incident</th><th>escalations</th>" in page
    assert "<td>23m 00s</td><td>1h 00m 00s</td><td>2</td>" in page


def test_drill_report_command_reads_the_control_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "store.db"
    store = SqliteStore(str(db), event="e1")
    store.write_alert_events(EVENTS)
    store.write_log(hand_built_log())
    store.close()
    out = tmp_path / "report"
    code = main(["drill-report", "--incidents", str(write_log(tmp_path / "log.jsonl")),
                 "--store", f"sqlite:///{db}", "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    md = (out / "drill-report.md").read_text()
    row = next(line for line in md.splitlines() if "| freezer_failure |" in line)
    assert row.endswith("| 23m 00s | 1h 00m 00s | 2 |")
