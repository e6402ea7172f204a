"""The audit entries the rules service derives from the acknowledgements it applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsroom.alerts import AlertEvent
from rules.writer import audit_of

T0 = datetime(2026, 7, 4, 18, 0, 0, tzinfo=UTC)


def event(state: str, **kw: object) -> AlertEvent:
    base = {"alert_id": "cold.f1", "rule": "cold", "subject": "f1", "kind": "coldchain"}
    return AlertEvent.model_validate(
        {**base, "severity": "warning", "state": state, "ts": T0, **kw}
    )


def test_only_applied_acknowledgements_become_entries_dated_when_taken() -> None:
    taken = T0 + timedelta(hours=2)  # a drill's event clock runs behind the wall
    events = [
        event("firing"),
        event("acknowledged", actor="sam", note="on it", recorded_at=taken),
        event("resolved"),
    ]
    [entry] = audit_of(events)
    assert (entry.ts, entry.user, entry.action, entry.target, entry.detail) == (
        taken,
        "sam",
        "ack",
        "cold.f1",
        "on it",
    )


def test_a_hostile_actor_or_note_is_recorded_never_raised() -> None:
    [entry] = audit_of([event("acknowledged", actor="sam\\\x1b[2J", note="a\x00b\ud800")])
    assert entry.user == "sam<U+005C><U+001B>[2J"
    assert entry.detail == "ab\ufffd"
