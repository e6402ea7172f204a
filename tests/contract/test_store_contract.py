"""The store contract (opsroom.store.base.Store): every adapter passes the same tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from opsroom.alerts import AlertEvent
from opsroom.audit import AuditEntry
from opsroom.store import Store, StoreError, active_alerts
from opsroom.telemetry import Reading

T0 = datetime(2026, 7, 4, 18, 0, 0, tzinfo=UTC)


def temp(sensor: str, seconds: float, value: float, *, drill: bool = False) -> Reading:
    return Reading("coldchain", sensor, T0 + timedelta(seconds=seconds), {"temp_c": value}, drill)


def test_write_then_latest_per_sensor(store: Store) -> None:
    store.write_readings(
        [temp("fridge-1", 0, 3.0), temp("fridge-1", 60, 4.0), temp("fridge-2", 30, -19.5)]
    )
    latest = {r.sensor_id: r for r in store.latest("coldchain")}
    assert set(latest) == {"fridge-1", "fridge-2"}
    assert latest["fridge-1"].values["temp_c"] == 4.0
    assert latest["fridge-1"].ts == T0 + timedelta(seconds=60)
    assert latest["fridge-2"].values["temp_c"] == -19.5


def test_latest_ignores_write_order(store: Store) -> None:
    store.write_readings([temp("fridge-1", 120, 9.0)])
    store.write_readings([temp("fridge-1", 60, 1.0)])  # a late, older reading (backlog)
    [latest] = store.latest("coldchain")
    assert latest.values["temp_c"] == 9.0
    assert latest.ts == T0 + timedelta(seconds=120)


def test_latest_is_the_newest_within_one_batch_in_any_order(store: Store) -> None:
    # a reconnecting device flushes its buffer: one batch, the newest reading not last
    store.write_readings(
        [temp("fridge-1", 60, 5.0), temp("fridge-1", 180, 7.0), temp("fridge-1", 120, 6.0)]
    )
    [latest] = store.latest("coldchain")
    assert (latest.ts, latest.values["temp_c"]) == (T0 + timedelta(seconds=180), 7.0)


def test_latest_filters_kind_and_sensors(store: Store) -> None:
    store.write_readings(
        [
            temp("fridge-1", 0, 3.0),
            temp("fridge-2", 0, 4.0),
            Reading("power", "gen-a", T0, {"voltage_v": 230.0, "frequency_hz": 50.0}),
        ]
    )
    assert [r.sensor_id for r in store.latest("coldchain", ["fridge-2"])] == ["fridge-2"]
    assert [r.sensor_id for r in store.latest("power")] == ["gen-a"]
    assert store.latest("shuttle") == []
    assert store.latest("coldchain", []) == []


def test_redelivered_readings_change_nothing(store: Store) -> None:
    batch = [temp("fridge-1", s, 3.0 + s / 100) for s in range(0, 600, 60)]
    store.write_readings(batch)
    store.write_readings(batch)
    store.write_readings(batch[3:5] + batch[3:5])  # duplicates inside one batch too
    assert store.count("coldchain") == 10
    assert store.count() == 10
    [latest] = store.latest("coldchain")
    assert latest.values["temp_c"] == pytest.approx(8.4)


def test_value_types_and_microseconds_survive(store: Store) -> None:
    ts = T0 + timedelta(microseconds=123_456)
    store.write_readings(
        [
            Reading("crowd", "gate north 1", ts, {"occupancy": 4210, "in": 12, "out": 0}),
            Reading("coldchain", "fridge,=1", ts, {"temp_c": 3.5, "door_open": True}, drill=True),
        ]
    )
    [crowd] = store.latest("crowd")
    assert crowd.ts == ts
    assert crowd.sensor_id == "gate north 1"
    assert crowd.values == {"occupancy": 4210, "in": 12, "out": 0}
    assert all(type(v) is int for v in crowd.values.values())
    [cold] = store.latest("coldchain")
    assert cold.sensor_id == "fridge,=1"
    assert cold.values == {"temp_c": 3.5, "door_open": True}
    assert cold.values["door_open"] is True
    assert cold.drill is True


def test_series_raw_window_is_half_open(store: Store) -> None:
    store.write_readings([temp("fridge-1", s, float(s)) for s in range(0, 300, 10)])
    store.write_readings([temp("fridge-2", s, -float(s)) for s in range(0, 300, 10)])
    points = store.series(
        "coldchain", "temp_c", ["fridge-1"], T0 + timedelta(seconds=50), T0 + timedelta(seconds=100)
    )
    assert [p.value for p in points] == [50.0, 60.0, 70.0, 80.0, 90.0]
    assert {p.sensor_id for p in points} == {"fridge-1"}
    assert points[0].ts == T0 + timedelta(seconds=50)


def test_series_downsampled_means_per_bucket(store: Store) -> None:
    # two sensors, one reading every 10 s for 5 minutes, 1-minute buckets
    store.write_readings([temp("a", s, float(s)) for s in range(0, 300, 10)])
    store.write_readings([temp("b", s, 100.0) for s in range(0, 300, 10)])
    points = store.series(
        "coldchain", "temp_c", ["a", "b"], T0, T0 + timedelta(minutes=5), every=timedelta(minutes=1)
    )
    a = [p for p in points if p.sensor_id == "a"]
    b = [p for p in points if p.sensor_id == "b"]
    assert [p.ts for p in a] == [T0 + timedelta(minutes=m) for m in range(5)]
    assert [p.value for p in a] == pytest.approx([25.0, 85.0, 145.0, 205.0, 265.0])
    assert [p.value for p in b] == pytest.approx([100.0] * 5)
    assert [p.sensor_id for p in points] == ["a"] * 5 + ["b"] * 5


def test_series_skips_readings_without_the_field(store: Store) -> None:
    store.write_readings(
        [
            Reading("crowd", "gate-1", T0, {"in": 5, "out": 1}),
            Reading("crowd", "gate-1", T0 + timedelta(seconds=10), {"occupancy": 40}),
        ]
    )
    points = store.series("crowd", "occupancy", ["gate-1"], T0, T0 + timedelta(minutes=1))
    assert [(p.ts, p.value) for p in points] == [(T0 + timedelta(seconds=10), 40.0)]


def test_series_many_is_series_of_each_field_in_one_call(store: Store) -> None:
    # readings with some fields missing, an integer and a boolean field, two sensors, 10 s apart
    store.write_readings(
        [
            Reading(
                "power",
                sensor,
                T0 + timedelta(seconds=s),
                {"voltage_v": 230.0 + s / 7, "power_kw": s // 10}
                | ({"fuel_pct": 80.5 - s / 100} if s % 30 else {})
                | ({"overload": s % 20 == 0} if s >= 120 else {}),
            )
            for sensor in ("gen-b", "gen-a")
            for s in range(0, 300, 10)
        ]
    )
    fields = ["voltage_v", "fuel_pct", "overload", "power_kw", "frequency_hz"]
    window = (T0 + timedelta(seconds=5), T0 + timedelta(minutes=5))
    for every in (None, timedelta(minutes=1), timedelta(seconds=45)):
        many = store.series_many("power", fields, ["gen-a", "gen-b"], *window, every)
        assert list(many) == fields
        for field in fields:
            assert many[field] == store.series("power", field, ["gen-a", "gen-b"], *window, every)
        assert many["frequency_hz"] == []
        assert len(many["voltage_v"]) == (
            58 if every is None else 10 if every.seconds == 60 else 14
        )
    minute = store.series_many("power", ["overload"], ["gen-a"], *window, timedelta(minutes=1))
    assert [(p.ts, p.value) for p in minute["overload"]] == [
        (T0 + timedelta(minutes=m), 0.5) for m in (2, 3, 4)
    ]
    assert store.series_many("power", fields, [], *window) == {f: [] for f in fields}
    with pytest.raises(StoreError):
        store.series_many("power", ["voltage_v", "x') OR 1=1 --"], ["gen-a"], *window)


def alert(alert_id: str, state: str, seconds: float, **kw: object) -> AlertEvent:
    return AlertEvent.model_validate(
        {
            "alert_id": alert_id,
            "rule": "fridge-warm",
            "subject": "fridge-1",
            "kind": "coldchain",
            "severity": "warning",
            "state": state,
            "ts": T0 + timedelta(seconds=seconds),
            "value": 6.2,
            "message": "fridge-1 above 5 °C for 15 min",
            **kw,
        }
    )


def test_alert_events_round_trip_in_order(store: Store) -> None:
    events = [
        alert("a1", "pending", 0),
        alert("a1", "firing", 900),
        alert("a1", "acknowledged", 950, actor="Sam, duty officer", note="vendor told"),
        alert("a2", "firing", 920, drill=True),
        alert("a1", "resolved", 1500),
    ]
    store.write_alert_events(events)
    back = store.alert_events()
    assert [(e.alert_id, e.state) for e in back] == [
        ("a1", "pending"),
        ("a1", "firing"),
        ("a2", "firing"),
        ("a1", "acknowledged"),
        ("a1", "resolved"),
    ]
    ack = back[3]
    assert ack.actor == "Sam, duty officer" and ack.note == "vendor told"
    assert back[2].drill is True
    assert [e.alert_id for e in active_alerts(back)] == ["a2"]


def test_an_acknowledgements_sent_ts_is_kept_and_a_resolution_is_final(store: Store) -> None:
    """The sender's time of an acknowledgement round-trips as information; an acknowledgement
    stamped at the same event time as the resolution after it sorts before it (insertion
    order), and one a sender dated in the future (stored before the rules service stamped
    acknowledgements itself) does not make a resolved alert active again."""
    forged = datetime(2199, 1, 1, tzinfo=UTC)
    store.write_alert_events([alert("a1", "firing", 900), alert("a2", "firing", 900)])
    store.write_alert_events([alert("a1", "acknowledged", 1000, actor="Sam", sent_ts=forged)])
    store.write_alert_events([alert("a1", "resolved", 1000)])
    store.write_alert_events([alert("a2", "resolved", 1200)])
    store.write_alert_events([alert("a2", "acknowledged", 2e9, actor="Old")])  # legacy forgery
    back = store.alert_events(alert_id="a1")
    assert [e.state for e in back] == ["firing", "acknowledged", "resolved"]
    assert back[1].sent_ts == forged and back[1].ts == T0 + timedelta(seconds=1000)
    assert active_alerts(store.alert_events()) == []


def test_alert_events_idempotent_and_filtered(store: Store) -> None:
    events = [alert("a1", "firing", 0), alert("a1", "resolved", 600), alert("a2", "firing", 300)]
    store.write_alert_events(events)
    store.write_alert_events(events[:2])
    assert len(store.alert_events()) == 3
    assert [e.state for e in store.alert_events(alert_id="a1")] == ["firing", "resolved"]
    window = store.alert_events(start=T0 + timedelta(seconds=300), end=T0 + timedelta(seconds=600))
    assert [(e.alert_id, e.state) for e in window] == [("a2", "firing")]


def test_empty_store_answers(store: Store) -> None:
    assert store.count() == 0
    assert store.latest("power") == []
    assert store.series("power", "voltage_v", ["gen-a"], T0, T0 + timedelta(hours=1)) == []
    assert store.alert_events() == []


def test_bad_field_name_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError):
        store.series("power", "voltage_v') OR 1=1 --", ["gen-a"], T0, T0 + timedelta(hours=1))


# ---------------------------------------------------------------- event scoping

A, B = "fest-2026", "fest-2026.rehearsal"


def test_stores_of_two_events_on_one_file_see_only_their_own(
    scoped: Callable[[str], Store],
) -> None:
    """A rehearsal and the live day share a file (bucket): same sensors, same timestamps."""
    live, rehearsal = scoped(A), scoped(B)
    live.write_readings([temp("fridge-1", 0, 3.0), temp("fridge-1", 60, 4.0)])
    rehearsal.write_readings(
        [temp("fridge-1", 60, 9.5, drill=True), temp("fridge-2", 30, 7.0, drill=True)]
    )
    assert [(r.sensor_id, r.values["temp_c"], r.drill) for r in live.latest("coldchain")] == [
        ("fridge-1", 4.0, False)
    ]
    assert [(r.sensor_id, r.values["temp_c"]) for r in rehearsal.latest("coldchain")] == [
        ("fridge-1", 9.5),
        ("fridge-2", 7.0),
    ]
    assert rehearsal.latest("coldchain", ["fridge-1"])[0].drill is True
    assert (live.count(), live.count("coldchain"), rehearsal.count()) == (2, 2, 2)
    window = (T0, T0 + timedelta(minutes=5))
    assert [p.value for p in live.series("coldchain", "temp_c", ["fridge-1"], *window)] == [
        3.0,
        4.0,
    ]
    assert [p.value for p in rehearsal.series("coldchain", "temp_c", ["fridge-1"], *window)] == [
        9.5
    ]
    means = live.series("coldchain", "temp_c", ["fridge-1"], *window, every=timedelta(minutes=5))
    assert [p.value for p in means] == pytest.approx([3.5])
    assert scoped("another").latest("coldchain") == []
    assert scoped("another").count() == 0


def test_alerts_of_two_events_on_one_file_stay_apart(scoped: Callable[[str], Store]) -> None:
    live, rehearsal = scoped(A), scoped(B)
    live.write_alert_events([alert("a1", "firing", 0)])
    # the same alert id, state and ts in the other event: its own transition, not a duplicate
    rehearsal.write_alert_events([alert("a1", "firing", 0, drill=True), alert("a2", "firing", 5)])
    rehearsal.write_alert_events([alert("a2", "resolved", 60)])
    assert [(e.alert_id, e.drill) for e in live.alert_events()] == [("a1", False)]
    assert [(e.alert_id, e.state) for e in rehearsal.alert_events()] == [
        ("a1", "firing"),
        ("a2", "firing"),
        ("a2", "resolved"),
    ]
    assert live.alert_events(alert_id="a2") == []
    assert [e.alert_id for e in active_alerts(live.alert_events())] == ["a1"]
    assert scoped("another").alert_events() == []


def test_idempotency_is_per_event(scoped: Callable[[str], Store]) -> None:
    """Writes are idempotent per (event, kind, sensor, ts): a redelivery changes nothing, the
    same reading in another event is that event's own."""
    live, rehearsal = scoped(A), scoped(B)
    batch = [temp("fridge-1", s, float(s)) for s in range(0, 300, 60)]
    live.write_readings(batch)
    live.write_readings(batch + batch[:2])
    rehearsal.write_readings(batch[:3])
    rehearsal.write_readings(batch[:3])
    live.write_alert_events([alert("a1", "firing", 0)] * 2)
    live.write_alert_events([alert("a1", "firing", 0)])
    rehearsal.write_alert_events([alert("a1", "firing", 0)])
    assert (live.count(), rehearsal.count()) == (5, 3)
    assert live.latest("coldchain")[0].values["temp_c"] == 240.0
    assert rehearsal.latest("coldchain")[0].values["temp_c"] == 120.0
    assert (len(live.alert_events()), len(rehearsal.alert_events())) == (1, 1)


def test_a_store_says_its_event(scoped: Callable[[str], Store]) -> None:
    assert scoped(A).event == A


# ---------------------------------------------------------------- audit trail


def entry(user: str, action: str, seconds: float, **kw: object) -> AuditEntry:
    return AuditEntry.model_validate(
        {"ts": T0 + timedelta(seconds=seconds), "user": user, "action": action, **kw}
    )


def test_audit_entries_round_trip_filtered_and_in_order(store: Store) -> None:
    written = [
        entry("sam", "login_ok", 0, role="operator", address="10.0.0.7"),
        entry("sam", "ack", 30.000001, role="operator", target="cold.fridge-1.1", detail="on it"),
        entry('mallory "x", =1', "login_failed", 10, address="10.0.0.66"),  # needs escaping
        entry("ana", "logout", 60, role="viewer"),
    ]
    store.write_audit(written[:2])
    store.write_audit(written[2:])
    assert store.audit_entries() == sorted(written, key=lambda e: e.ts)  # every field kept
    assert [e.action for e in store.audit_entries(user="sam")] == ["login_ok", "ack"]
    assert store.audit_entries(action="ack") == [written[1]]
    assert store.audit_entries(user="sam", action="logout") == []
    window = store.audit_entries(start=T0 + timedelta(seconds=10), end=T0 + timedelta(seconds=60))
    assert [e.user for e in window] == ['mallory "x", =1', "sam"]  # [start, end)
    assert store.audit_entries(start=T0 + timedelta(hours=1)) == []


def test_audit_is_append_only_and_a_rewrite_is_a_no_op(scoped: Callable[[str], Store]) -> None:
    live, rehearsal = scoped(A), scoped(B)
    ack = entry("sam", "ack", 0, target="a1", role="operator")
    live.write_audit([ack, ack])
    live.write_audit([ack])  # a service retrying after a failed batch
    rehearsal.write_audit([ack])  # the same entry in another event is that event's own
    assert live.audit_entries() == [ack]
    assert rehearsal.audit_entries() == [ack]
    assert scoped("another").audit_entries() == []
    # the protocol offers no way to change or remove an entry
    assert not {"delete_audit", "update_audit", "clear_audit"} & set(dir(live))
