"""The control log part of the store contract (Store.write_log / log_entries), every adapter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from opsroom.controllog import LogEntry, new_entry
from opsroom.store import Store

T0 = datetime(2026, 7, 4, 18, 0, 0, tzinfo=UTC)


def entry(seconds: float, text: str = "gate B queue", **fields: Any) -> LogEntry:
    fields.setdefault("category", "crowd")
    fields.setdefault("author", "Ann")
    return new_entry(text=text, event_ts=T0 + timedelta(seconds=seconds), **fields)


def test_log_round_trip_in_event_time_order(store: Store) -> None:
    late = entry(60, "second", priority="high", location="51.5,-0.12")
    early = entry(0, "first", location="gate-b")
    odd = entry(
        0,
        'quote " back\\slash ${x}\nnew line <script>alert(1)</script> ünïcode',
        category="medical",
        author='O\'Brien "Ops"',
    )
    precise = entry(0.000001, "a microsecond later")
    store.write_log([late, early])
    store.write_log([odd, precise])
    # same event time: insertion order (early before odd)
    assert store.log_entries() == [early, odd, precise, late]


def test_log_is_idempotent_per_id_and_keeps_the_first(store: Store) -> None:
    a = entry(0, "one")
    store.write_log([a, a])
    store.write_log([a])
    rewrite = a.model_copy(update={"text": "rewritten"})
    store.write_log([rewrite])  # the same id: nothing is edited in place
    assert store.log_entries() == [a]


def test_log_filters_window_incident_category_text(store: Store) -> None:
    opened = entry(0, "Lost child at gate B", kind="incident_open", category="lost_person")
    update = entry(30, "Child found by steward", kind="update", incident_id=opened.id,
                   category="found_person")  # fmt: skip
    other = entry(40, "Generator 2 noisy", category="power", author="Bob")
    decision = entry(50, "Hold gate B", kind="decision", decision="Close gate B for 10 min",
                     rationale="Density above 4 p/m²", decided_by="Silver")  # fmt: skip
    closed = entry(90, "Reunited", kind="incident_close", incident_id=opened.id,
                   category="lost_person")  # fmt: skip
    store.write_log([closed, other, update, opened, decision])
    assert store.log_entries(incident_id=opened.id) == [opened, update, closed]
    assert store.log_entries(category="power") == [other]
    assert store.log_entries(start=T0 + timedelta(seconds=30), end=T0 + timedelta(seconds=90)) == [
        update,
        other,
        decision,
    ]
    assert store.log_entries(text="GATE b") == [opened, decision]
    assert store.log_entries(text="p/m²") == [decision]  # the rationale is searched too
    assert store.log_entries(text="bob") == [other]  # and the author
    assert store.log_entries(category="lost_person", text="reunited") == [closed]
    assert store.log_entries(incident_id=other.id) == []


def test_log_is_scoped_to_the_event(scoped: Callable[[str], Store]) -> None:
    live, drill = scoped("live-day"), scoped("rehearsal")
    a, b = entry(0, "live"), entry(0, "drill", drill=True)
    live.write_log([a])
    drill.write_log([b])
    assert live.log_entries() == [a]
    assert drill.log_entries() == [b]
    assert drill.log_entries()[0].drill


def test_empty_log_answers(store: Store) -> None:
    store.write_log([])
    assert store.log_entries() == []
    assert store.log_entries(start=T0, end=T0) == []
    assert store.count() == 0
    store.write_log([entry(0)])
    assert store.count() == 0  # log entries are not readings


def test_plan_entries_round_trip_with_their_due_times(store: Store) -> None:
    """A plan's activation (each step's due time, to the microsecond) and a tick come back as
    written: plan runs are folded from them after a restart of every service."""
    due = {"keep-shut": T0 + timedelta(minutes=5, microseconds=7), "move": T0 + timedelta(hours=1)}
    plan = {"plan_id": "freezer-failure", "drill": True}
    started = entry(0, "Plan activated", kind="plan_activated", steps_due=due, **plan)
    tick = entry(120, "done", kind="plan_step", step_id="keep-shut", activation_id=started.id,
                 **plan)  # fmt: skip
    store.write_log([started, tick])
    back = store.log_entries()
    assert back == [started, tick]
    assert back[0].steps_due == due and back[1].activation_id == started.id
