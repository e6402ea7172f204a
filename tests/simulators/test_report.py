"""After-action matching and report on a hand-built drill: known incidents, known alerts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsroom.alerts import AlertEvent
from opsroom.app.cli import main
from opsroom.i18n import using
from opsroom.store.sqlite import SqliteStore
from simulators.matching import InjectedIncident, lives, match
from simulators.report import fmt_delta, html_page, markdown, read_log

T0 = datetime(2026, 7, 4, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def incident(n: int, type_: str, target: str, start: float, end: float, **kw: object) -> dict:
    return {
        "record": "incident",
        "id": f"{n:02d}-{type_}-{target}",
        "type": type_,
        "target": target,
        "subjects": kw.get("subjects", [target]),
        "start": at(start).isoformat(),
        "end": at(end).isoformat(),
        "expected": {
            "kind": "x",
            "alert": "something",
            "alerting": kw.get("alerting", True),
            "rules": kw.get("rules", []),
        },
    }


def ev(
    alert_id: str, rule: str, subject: str, state: str, minute: float, **kw: object
) -> AlertEvent:
    return AlertEvent(
        alert_id=alert_id,
        rule=rule,
        subject=subject,
        kind="coldchain",
        severity=kw.get("severity", "warning"),
        state=state,
        ts=at(minute),
        drill=kw.get("drill", True),
        actor=kw.get("actor"),
    )


RECORDS = [
    {
        "record": "drill",
        "name": "Known run",
        "event": "e1",
        "seed": 1,
        "speed": 60,
        "start": T0.isoformat(),
        "end": at(120).isoformat(),
    },
    # detected, acknowledged, resolved
    incident(1, "freezer_failure", "freezer-1", 10, 70, rules=["freezer"]),
    # missed: nothing on the fridge
    incident(2, "fridge_door_open", "fridge-1", 20, 50, rules=["cold-holding"]),
    # detected on a related subject (the zone of a surging gate), never acknowledged
    incident(3, "gate_surge", "gate-1", 30, 40, subjects=["gate-1", "zone-1"]),
    # not meant to alert
    incident(4, "malformed_payloads", "gen-1", 60, 65, alerting=False),
    {"record": "end", "completed": True},
]

EVENTS = [
    ev("a1", "freezer", "freezer-1", "pending", 12),
    ev("a1", "freezer", "freezer-1", "firing", 27, severity="warning"),
    ev("a1", "freezer", "freezer-1", "firing", 50, severity="critical"),
    ev("a1", "freezer", "freezer-1", "acknowledged", 31, actor="sam"),
    ev("a1", "freezer", "freezer-1", "resolved", 85),
    ev("a2", "zone-occupancy", "zone-1", "firing", 35),
    # before the fridge incident: not its alert, and outside every window -> unmatched
    ev("a3", "cold-holding", "fridge-1", "firing", 5),
    ev("a3", "cold-holding", "fridge-1", "resolved", 8),
    # live (non-drill) alert: ignored
    ev("a4", "cold-holding", "fridge-1", "firing", 25, drill=False),
    # the drill's end marks every device offline: after the window, not listed
    ev("a5", "silent-device", "fridge-1", "firing", 121),
    # pending, never fired: nobody was alerted, not listed
    ev("a6", "shuttle-stopped", "bus-1", "pending", 3),
    ev("a6", "shuttle-stopped", "bus-1", "resolved", 4),
]


def write_log(path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    return path


def test_match_known_run(tmp_path: Path) -> None:
    log = read_log(write_log(tmp_path / "log.jsonl"))
    result = match(log.incidents, EVENTS, window=(log.start, log.finish))
    by_type = {o.incident.type: o for o in result.outcomes}

    freezer = by_type["freezer_failure"]
    assert freezer.detected is True
    assert freezer.time_to_alert == timedelta(minutes=17)
    assert freezer.time_to_ack == timedelta(minutes=21)
    assert freezer.time_to_resolve == timedelta(minutes=75)
    assert freezer.expected_rule_fired is True
    assert freezer.alerts[0].severity == "critical"
    assert freezer.alerts[0].acked_by == "sam"

    fridge = by_type["fridge_door_open"]
    assert fridge.detected is False
    assert fridge.time_to_alert is None and fridge.alerts == ()
    assert fridge.expected_rule_fired is False

    surge = by_type["gate_surge"]
    assert surge.detected is True
    assert surge.time_to_alert == timedelta(minutes=5)
    assert surge.time_to_ack is None and surge.time_to_resolve is None
    assert surge.expected_rule_fired is None  # no rule ids known

    assert by_type["malformed_payloads"].detected is None

    assert result.detected == 2 and result.expected == 3
    assert [a.alert_id for a in result.unmatched] == ["a3"]


def test_grace_decides_late_alerts() -> None:
    inc = InjectedIncident("1", "overload", "gen-1", ("gen-1",), at(0), at(10))
    late = [ev("x", "generator-load", "gen-1", "firing", 19)]
    assert match([inc], late, grace=timedelta(minutes=10)).outcomes[0].detected
    assert not match([inc], late, grace=timedelta(minutes=5)).outcomes[0].detected


def test_an_alert_that_fires_again_is_a_new_occurrence() -> None:
    events = [
        ev("x", "r", "s", "firing", 1),
        ev("x", "r", "s", "resolved", 2),
        ev("x", "r", "s", "firing", 3),
    ]
    got = lives(events)
    assert [(a.first_at, a.resolved_at) for a in got] == [(at(1), at(2)), (at(3), None)]


def test_markdown_and_html(tmp_path: Path) -> None:
    log = read_log(write_log(tmp_path / "log.jsonl"))
    result = match(log.incidents, EVENTS, window=(log.start, log.finish))
    md = markdown(log, result, timedelta(minutes=10))
    assert "**2 of 3 incidents detected**" in md
    assert "| 1 | freezer_failure | freezer-1 | +10m 00s | 1h 00m 00s | detected | 17m 00s " in md
    assert "| MISSED |" in md
    assert "cold-holding" in md and "## Missed" in md
    page = html_page(log, result, timedelta(minutes=10))
    assert '<script src="https://cdn' not in page
    assert "Plotly.newPlot" in page and len(page) > 1_000_000  # plotly.js inlined
    assert fmt_delta(timedelta(seconds=-61)) == "-1m 01s"


def test_drill_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "store.db"
    store = SqliteStore(str(db), event="e1")  # the event the drill ran as (its log says so)
    store.write_alert_events(EVENTS)
    store.close()
    out = tmp_path / "report"
    code = main(
        [
            "drill-report",
            "--incidents",
            str(write_log(tmp_path / "log.jsonl")),
            "--store",
            f"sqlite:///{db}",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "2 of 3 incidents detected" in capsys.readouterr().out
    assert (out / "drill-report.md").read_text().startswith("# After-action report: Known run")
    assert (out / "drill-report.html").stat().st_size > 1_000_000


def test_drill_report_scores_only_its_events_alerts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rehearsal and the live day in one store: the report scores the drill's event (the
    log's, or --event), never the other's alerts."""
    db = tmp_path / "store.db"
    for event, events in (("e1", EVENTS[:2]), ("live", EVENTS)):
        store = SqliteStore(str(db), event=event)
        store.write_alert_events(events)
        store.close()
    log = str(write_log(tmp_path / "log.jsonl"))

    def report(*extra: str) -> str:
        args = ["drill-report", "--incidents", log, "--store", f"sqlite:///{db}", *extra]
        assert main([*args, "--out", str(tmp_path / "report")]) == 0
        return capsys.readouterr().out

    assert "1 of 3 incidents detected" in report()  # the log's event, e1: one alert only
    assert "of event 'e1'" in report()
    assert "2 of 3 incidents detected" in report("--event", "live")
    assert "0 of 3 incidents detected" in report("--event", "other")


def test_report_of_a_log_that_is_not_one(tmp_path: Path) -> None:
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"record": "incident"}\n')
    assert (
        main(["drill-report", "--incidents", str(bad), "--store", f"sqlite:///{tmp_path}/s.db"])
        == 2
    )


def test_the_report_in_chinese(tmp_path: Path) -> None:
    log = read_log(write_log(tmp_path / "log.jsonl"))
    result = match(log.incidents, EVENTS, window=(log.start, log.finish))
    with using("zh-CN"):
        md = markdown(log, result, timedelta(minutes=10))
        page = html_page(log, result, timedelta(minutes=10))
    assert md.startswith("# 演练复盘报告：Known run")
    assert "**3 个事件中发现 2 个**" in md
    assert "| # | 事件 | 对象 | 时间 | 持续 | 结果 | 至告警 | 至确认 | 至解除 | 告警 |" in md
    assert "| 漏报 |" in md and "## 漏报" in md
    assert '<html lang="zh-CN">' in page and "<h2>未匹配任何事件的告警</h2>" in page
    # the English report is unchanged outside the block
    assert markdown(log, result, timedelta(minutes=10)).startswith("# After-action report")
