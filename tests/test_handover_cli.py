"""`opsroom handover` and `opsroom event-report` on a real SQLite file (and a real Mosquitto for
the silences), as a duty officer runs them at the end of a shift; and bad input refused."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsroom.alerts import AlertEvent, NotificationAttempt
from opsroom.app.cli import main
from opsroom.broker import free_port
from opsroom.controllog import LogEntry
from opsroom.store.sqlite import SqliteStore

NOW = datetime.now(UTC).replace(microsecond=0)
SCRIPT = "<script>alert('x')</script>"
ROSTER = f"""
teams:
  - {{id: medics, name: Medical teams}}
people:
  - {{id: li-wei, name: Li Wei, role: duty-manager, team: medics}}
  - {{id: evil, name: "{SCRIPT} Eve", role: steward}}
"""


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def alert(alert_id: str, state: str, minutes: float, **kw: object) -> AlertEvent:
    fields: dict[str, object] = {
        "alert_id": alert_id,
        "rule": "freezer",
        "subject": "freezer-1",
        "kind": "coldchain",
        "severity": "critical",
        "state": state,
        "ts": ago(minutes),
        "message": "freezer above -12 C",
    }
    fields.update(kw)
    return AlertEvent.model_validate(fields)


def entry(kind: str, minutes: float, text: str, **kw: object) -> LogEntry:
    fields: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "event_ts": ago(minutes),
        "wall_ts": ago(minutes),
        "author": "ann",
        "kind": kind,
        "category": "medical",
        "text": text,
    }
    fields.update(kw)
    if kind == "incident_open":
        fields["incident_id"] = fields["id"]
    return LogEntry.model_validate(fields)


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A store with a shift's worth of alerts and log, a notification log, a roster."""
    for name in ("OPSROOM_EVENT", "OPSROOM_VENUE", "OPSROOM_RULES", "OPSROOM_AUTHOR"):
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "ops.db"
    monkeypatch.setenv("OPSROOM_STORE", f"sqlite:///{db}")
    monkeypatch.setenv("OPSROOM_MQTT_URL", f"mqtt://127.0.0.1:{free_port()}")
    monkeypatch.setenv("OPSROOM_DATA_DIR", str(tmp_path / "data"))
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER)
    monkeypatch.setenv("OPSROOM_ROSTER", str(roster))
    lost = entry("incident_open", 600, "Lost child, red coat")  # last shift, still open
    fall = entry("incident_open", 120, f"Fall at the stage {SCRIPT}", owner="evil")
    closed = entry("incident_open", 90, "Bag left at gate A", category="security")
    store = SqliteStore(str(db), event="demo")
    store.write_alert_events(
        [
            alert("a-unacked", "firing", 60),
            alert("a-acked", "firing", 50, subject="freezer-2"),
            alert("a-acked", "acknowledged", 45, subject="freezer-2", actor="tom"),
            alert("a-old", "firing", 30, subject="fridge-9"),
            alert("a-old", "resolved", 20, subject="fridge-9"),
            alert(
                "a-silent",
                "firing",
                40,
                rule="silent-device",
                subject="gen-7",
                kind="power",
                severity="warning",
                started_at=ago(44),
            ),
        ]
    )
    store.write_log(
        [
            lost,
            fall,
            closed,
            entry(
                "assigned",
                85,
                "to security",
                incident_id=closed.id,
                owner="li-wei",
                category="security",
            ),
            entry(
                "incident_close",
                30,
                "False alarm: owner found",
                incident_id=closed.id,
                category="security",
            ),
            entry(
                "decision",
                25,
                "Hold gate B",
                decision=f"Hold gate B {SCRIPT}",
                rationale="crowd at the exit",
                decided_by="Silver",
            ),
            entry(
                "assigned",
                55,
                "freezer to Li",
                alert_id="a-unacked",
                owner="li-wei",
                category="food_safety",
            ),
            entry(
                "alert",
                40,
                "escalated to tier 1, unacknowledged for 20 min: freezer",
                author="rules",
                alert_id="a-unacked",
                category="food_safety",
            ),
        ]
    )
    store.close()
    data = tmp_path / "data"
    data.mkdir()
    failed = NotificationAttempt(
        at=ago(35),
        notifier="duty-sms",
        type="apprise",
        alert_id="a-unacked",
        state="firing",
        severity="critical",
        attempt=3,
        ok=False,
        error="HTTP 503 from gateway",
        retryable=True,
    )
    ok = failed.model_copy(update={"ok": True, "error": None, "attempt": 4, "at": ago(34)})
    (data / "notifications-demo.jsonl").write_text(
        failed.model_dump_json() + "\n" + ok.model_dump_json() + "\n"
    )
    return {"db": db, "lost": lost, "fall": fall, "closed": closed}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def section(md: str, title: str) -> str:
    """The Markdown of one section (its heading to the next)."""
    start = md.index(f"## {title}")
    end = md.find("\n## ", start + 1)
    return md[start : end if end > 0 else None]


def test_handover_lists_the_shift_in_every_section(  # type: ignore[no-untyped-def]
    seeded, tmp_path: Path, capsys, broker, monkeypatch
) -> None:
    monkeypatch.setenv("OPSROOM_MQTT_URL", broker.url)
    code, _, err = run(
        capsys,
        "silence",
        "add",
        "--entity",
        "gen-7",
        "--for",
        "2h",
        "--reason",
        "swapping generator 7",
        "--author",
        "site",
    )
    assert code == 0, err
    out = tmp_path / "handover"
    code, text, err = run(capsys, "handover", "--since", "8h", "--out", str(out))
    assert code == 0, err
    assert "wrote" in text and err == ""
    md = (out / "handover.md").read_text()
    page = (out / "handover.html").read_text()

    opened = section(md, "Open incidents (2)")
    assert "Lost child, red coat" in opened and "| NOBODY |" in opened  # from the last shift
    assert "Fall at the stage &lt;script&gt;" in opened
    unacked = section(md, "Active alerts not acknowledged (2)")
    assert "| firing | CRITICAL | freezer-1 |" in unacked
    assert "| Li Wei | 1 |" in unacked  # owner, escalations
    assert "| tom | CRITICAL | freezer-2 |" in section(md, "Active alerts acknowledged (1)")
    assert "swapping generator 7" in section(md, "Silences in force or to come (1)")
    assert "crowd at the exit | Silver |" in section(md, "Decisions (1)")
    closed = section(md, "Incidents closed (1)")
    assert "Bag left at gate A | Li Wei |" in closed and "| 1h 00m 00s |" in closed
    assert "HTTP 503 from gateway" in section(md, "Notifications that failed (1)")
    assert "| gen-7 | silent-device |" in section(md, "Sensors that went silent (1)")

    for key in (
        "open-incidents",
        "unacknowledged-alerts",
        "silences",
        "decisions",
        "closed-incidents",
        "failed-notifications",
        "silent-sensors",
    ):
        assert f'<section id="{key}">' in page
    assert "<script>" not in page  # neither from the text, the decision nor the owner's name
    assert "Fall at the stage &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<td>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Eve</td>" in page
    assert "<script>" not in md


def test_event_report_has_response_per_category_and_a_timeline(  # type: ignore[no-untyped-def]
    seeded, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "day"
    code, _, err = run(capsys, "event-report", "--since", "12h", "--out", str(out))
    assert code == 0, err
    assert "silences not read from the broker" in err  # said, not fatal
    md = (out / "event-report.md").read_text()
    rows = section(md, "Response per category")
    # food safety: 3 alerts fired, one acknowledged after 5 min; security: closed after 1 h
    assert "| food_safety | 3 | 5m 00s | 5m 00s | 2 | 0 |" in rows
    assert "| security | 0 | — | — | 0 | 1 | 1h 00m 00s | 1h 00m 00s | 0 |" in rows
    assert "| medical | 0 | — | — | 0 | 2 |" in rows
    page = (out / "event-report.html").read_text()
    assert "Plotly.newPlot" in page and '<script src="https://cdn' not in page
    assert SCRIPT not in page


def test_bad_input_is_refused_and_nothing_is_stored(  # type: ignore[no-untyped-def]
    seeded, tmp_path: Path, capsys
) -> None:
    before = SqliteStore(str(seeded["db"]), event="demo").log_entries()
    fall = str(seeded["fall"].id)  # type: ignore[attr-defined]
    cases = [
        (
            ("log", "assign", "--incident", fall, "--owner", "Nobody Known"),
            "unknown owner 'Nobody Known': not a person or a team of the roster",
        ),
        (("log", "assign", "--alert", "a-unacked", "--owner", SCRIPT), "unknown owner"),
        (
            ("log", "assign", "--alert", "no-such-alert", "--owner", "li-wei"),
            "no alert 'no-such-alert' in the store",
        ),
        (("log", "assign", "--incident", fall, "--owner", "  "), "owner is empty"),
        (
            ("log", "open", "--category", "medical", "--text", "x", "--owner", "ghost"),
            "unknown owner 'ghost'",
        ),
        (("log", "add", "--category", "medical", "--text", "   "), "text is empty"),
        (
            ("log", "add", "--category", "medical", "--text", "x" * 2001),
            "text is 2001 characters, at most 2000",
        ),
        (("handover", "--since", "1h", "--until", "2h"), "is not before --until"),
    ]
    for args, message in cases:
        code, _, err = run(capsys, *args)
        assert code == 2 and message in err, (args, err)
    with pytest.raises(SystemExit):
        main(["log", "add", "--category", "aliens", "--text", "x"])
    assert "invalid choice: 'aliens'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["handover", "--since", "yesterday-ish"])
    assert "invalid time 'yesterday-ish'" in capsys.readouterr().err
    assert SqliteStore(str(seeded["db"]), event="demo").log_entries() == before


def test_an_alert_is_assigned_by_name_from_the_cli(seeded, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(
        capsys, "log", "assign", "--alert", "a-acked", "--owner", "medical TEAMS", "--author", "ann"
    )
    assert code == 0, err
    code, out, _ = run(capsys, "log", "list", "--json")
    mine = [e for e in json.loads(out) if e["alert_id"] == "a-acked"]
    assert [(e["kind"], e["owner"], e["incident_id"], e["category"]) for e in mine] == [
        ("assigned", "medics", None, "food_safety")
    ]
