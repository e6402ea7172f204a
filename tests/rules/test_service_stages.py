"""The rules service's small stages, alone: event clock, status and ack parsing, alert messages,
atomic state writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsroom import topics
from opsroom.alerts import AlertEvent
from rules.messages import EventClock, parse_ack, parse_status
from rules.state import write_state
from rules.writer import alert_messages

T0 = datetime(2026, 7, 4, 12, 0, tzinfo=UTC)
S = timedelta(seconds=1)


def test_event_clock_is_none_before_any_reading() -> None:
    assert EventClock(wall=T0).now(T0 + 10 * S) is None


def test_event_clock_follows_the_newest_reading_in_a_backlog() -> None:
    """A backlog an hour old replayed at once: the clock is the readings' time, not the wall's."""
    wall = T0
    clock = EventClock(wall=wall)
    for minute in range(20):
        clock.observe(T0 - timedelta(hours=1) + minute * 60 * S, wall)
    assert clock.now(wall) == T0 - timedelta(hours=1) + 19 * 60 * S


def test_event_clock_runs_on_at_wall_speed_while_quiet() -> None:
    clock = EventClock(wall=T0)
    clock.observe(T0 - 3600 * S, T0)
    assert clock.now(T0 + 30 * S) == T0 - 3570 * S


def test_event_clock_never_runs_ahead_of_the_wall_clock() -> None:
    clock = EventClock(wall=T0)
    clock.observe(T0 - 5 * S, T0)
    assert clock.now(T0 + 60 * S) == T0 + 60 * S - 5 * S
    clock.observe(T0 + 60 * S, T0 + 60 * S)  # a live reading: clock is the wall
    assert clock.now(T0 + 61 * S) == T0 + 61 * S


def test_event_clock_never_goes_backwards() -> None:
    clock = EventClock(wall=T0)
    clock.observe(T0, T0)
    seen = clock.now(T0 + 10 * S)
    clock.observe(T0 + 2 * S, T0 + 10 * S)  # older than the clock's run-on: ignored
    assert clock.now(T0 + 10 * S) == seen
    clock.observe(T0 + 20 * S, T0 + 10 * S)  # a device ahead of the wall: taken as is
    assert clock.now(T0 + 10 * S) == T0 + 20 * S
    assert clock.now(T0 + 11 * S) == T0 + 20 * S  # and not run on past the wall


def test_event_clock_restored_runs_on_from_the_restart_not_from_the_save() -> None:
    saved = T0 - timedelta(hours=2)
    clock = EventClock(saved, wall=T0)  # restarted at T0 after two hours down
    assert clock.now(T0 + 5 * S) == saved + 5 * S


@pytest.mark.parametrize(
    ("payload", "online", "ts", "drill"),
    [
        (b"online", True, None, False),
        (b"offline", False, None, False),
        (b" OFFLINE\n", False, None, False),
        (b'{"state": "offline"}', False, None, False),
        (
            b'{"state": "online", "ts": "2026-07-04T12:00:00Z", "drill": true, "rssi": -70}',
            True,
            T0,
            True,
        ),
    ],
)
def test_status_payloads(payload: bytes, online: bool, ts: datetime | None, drill: bool) -> None:
    status = parse_status(payload)
    assert status is not None
    assert (status.online, status.ts, status.drill) == (online, ts, drill)


def test_empty_status_is_a_cleared_retained_message() -> None:
    assert parse_status(b"") is None


@pytest.mark.parametrize(
    "payload", [b"gone", b'{"state": "asleep"}', b'{"status": "offline"}', b"[1]", b"\xff"]
)
def test_bad_status_payloads_say_why(payload: bytes) -> None:
    with pytest.raises(ValueError, match="status must be"):
        parse_status(payload)


def test_ack_payload() -> None:
    ack = parse_ack(b'{"actor": " duty-1 ", "note": "on my way", "extra": 1}')
    assert (ack.actor, ack.note, ack.ts) == ("duty-1", "on my way", None)
    ack = parse_ack(b'{"actor": "duty-1", "ts": 1783166400}')
    assert ack.ts == datetime(2026, 7, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        (b"{}", "actor"),
        (b'{"actor": ""}', "actor"),
        (b'{"actor": 5}', "actor"),
        (b'{"actor": "x", "ts": "soon"}', "ts"),
        (b"not json", "payload"),
    ],
)
def test_bad_ack_payloads_say_why(payload: bytes, where: str) -> None:
    with pytest.raises(ValueError, match=f"bad acknowledgement: {where}"):
        parse_ack(payload)


def _alert(state: str) -> AlertEvent:
    return AlertEvent(
        alert_id="cold.fridge-1.1",
        rule="cold",
        subject="fridge-1",
        kind="coldchain",
        severity="critical",
        state=state,
        ts=T0,
    )


@pytest.mark.parametrize("state", ["pending", "firing", "acknowledged"])
def test_an_active_alert_is_one_retained_message(state: str) -> None:
    alert = _alert(state)
    [(topic, payload, retain)] = alert_messages("ev", alert, alert.model_dump_json().encode())
    assert topic == topics.alert("ev", "cold.fridge-1.1")
    assert retain
    assert AlertEvent.model_validate_json(payload) == _alert(state)


def test_a_resolved_alert_is_published_then_its_retained_message_cleared() -> None:
    alert = _alert("resolved")
    (t1, p1, r1), (t2, p2, r2) = alert_messages("ev", alert, alert.model_dump_json().encode())
    assert t1 == t2 == topics.alert("ev", "cold.fridge-1.1")
    assert AlertEvent.model_validate_json(p1).state == "resolved" and not r1
    assert p2 == b"" and r2


def test_write_state_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_state(path, b'{"n": 1}')
    write_state(path, b'{"n": 2}')
    assert json.loads(path.read_text()) == {"n": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_write_state_leaves_the_old_file_when_it_fails(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_state(path, b'{"n": 1}')
    (tmp_path / "state.json.tmp").mkdir()  # the temp file cannot be written
    with pytest.raises(OSError):
        write_state(path, b'{"n": 2}')
    assert json.loads(path.read_text()) == {"n": 1}
