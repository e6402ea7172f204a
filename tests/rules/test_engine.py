"""The engine's contract: lifecycle, acknowledgements, silence, order, restarts, event time."""

from __future__ import annotations

import re
from datetime import timedelta

import orjson
import pytest

from opsroom import topics
from opsroom.alerts import AlertEvent
from tests.rules.engine_helpers import (
    T0,
    at,
    bus_at,
    digest,
    engine,
    feed,
    reading,
    secs,
)

COLD = """
rules:
  - id: cold
    kind: threshold
    applies_to: fridge
    value: temp_c
    hold: 15m
    levels:
      - {severity: warning, above: 5, clear: 4.5}
      - {severity: critical, above: 8, clear: 7.5}
  - id: silent
    kind: no_data
    applies_to: fridge
    intervals: 3
"""

DANGER = """
rules:
  - id: danger
    kind: cumulative
    applies_to: fridge
    value: temp_c
    above: 5
    below: 60
    levels:
      - {severity: warning, after: 2h}
      - {severity: critical, after: 4h}
"""


def fridge(points: list[tuple[float, float]], drill: bool = False) -> list:
    return [reading("coldchain", "f1", t, drill=drill, temp_c=v) for t, v in points]


def minutes(start: int, stop: int, value: float) -> list[tuple[float, float]]:
    """One reading a minute from `start` to `stop` minutes (inclusive) at `value`."""
    return [(m * 60.0, value) for m in range(start, stop + 1)]


def firing_cold_engine():
    """A fridge at 6 °C for 16 minutes: `cold` is firing at warning."""
    eng = engine(COLD)
    events = feed(eng, fridge(minutes(0, 16, 6.0)))
    assert [e.state for e in events] == ["pending", "firing"]
    return eng, events[-1]


# --- lifecycle and acknowledgements -----------------------------------------------------------


def test_acknowledge_then_resolve() -> None:
    eng, firing = firing_cold_engine()
    ack = eng.acknowledge(firing.alert_id, "duty-1", "vendor told to close the door", at(1000))
    assert ack is not None
    assert (ack.state, ack.actor, ack.note, ack.ts) == (
        "acknowledged",
        "duty-1",
        "vendor told to close the door",
        at(1000),
    )
    assert eng.active() == [ack]
    # still too warm: acknowledged alerts stay active until the condition clears
    assert feed(eng, fridge(minutes(17, 20, 5.5))) == []
    assert eng.acknowledge(firing.alert_id, "duty-2", None, at(1300)) is None  # already acked
    resolved = feed(eng, fridge([(21 * 60, 4.0)]))
    assert [(e.state, e.alert_id, e.actor) for e in resolved] == [
        ("resolved", firing.alert_id, "duty-1")
    ]
    assert eng.active() == []
    assert eng.acknowledge(firing.alert_id, "duty-1", None, at(1400)) is None  # resolved


def test_an_alerts_transitions_are_stamped_in_order() -> None:
    """An acknowledgement stamped by an event clock that ran on ahead of this fridge's readings
    still sorts before the resolution a later reading brings; one dated before the firing is
    dated at the firing."""
    eng, firing = firing_cold_engine()
    early = eng.acknowledge(firing.alert_id, "duty-1", None, at(100))
    assert early is not None and early.ts == firing.ts  # not before the firing
    eng, firing = firing_cold_engine()
    ack = eng.acknowledge(firing.alert_id, "duty-1", None, at(2000))
    assert ack is not None and ack.ts == at(2000)
    [resolved] = feed(eng, fridge([(1000.0, 3.0)]))
    assert resolved.state == "resolved"
    assert resolved.ts == ack.ts  # not 1000 s: that would sort it before the acknowledgement


def test_acknowledge_refuses_unknown_and_pending() -> None:
    eng = engine(COLD)
    (pending,) = feed(eng, fridge([(0, 6.0)]))
    assert pending.state == "pending"
    assert eng.acknowledge(pending.alert_id, "duty-1", None, at(10)) is None
    assert eng.acknowledge("no.such.alert", "duty-1", None, at(10)) is None


def test_escalation_after_acknowledgement_needs_a_new_one() -> None:
    eng, firing = firing_cold_engine()
    eng.acknowledge(firing.alert_id, "duty-1", None, at(1000))
    events = feed(eng, fridge(minutes(17, 33, 9.0)))
    assert [(e.state, e.severity, e.actor) for e in events] == [("firing", "critical", None)]
    assert events[0].alert_id == firing.alert_id
    again = eng.acknowledge(firing.alert_id, "duty-2", "fridge emptied", at(2000))
    assert again is not None and (again.state, again.severity) == ("acknowledged", "critical")
    # falling back to warning keeps the acknowledgement
    events = feed(eng, fridge([(34 * 60, 6.0)]))
    assert [(e.state, e.severity) for e in events] == [("acknowledged", "warning")]


def test_one_alert_per_rule_and_subject_with_stable_safe_ids() -> None:
    eng, firing = firing_cold_engine()
    assert firing.alert_id == f"cold.f1.{int(T0.timestamp())}"
    assert topics.valid_id(firing.alert_id)
    assert [a.alert_id for a in eng.active()] == [firing.alert_id]


def test_a_new_occurrence_in_the_same_second_gets_its_own_id() -> None:
    eng = engine(
        """
rules:
  - id: hot
    kind: threshold
    applies_to: fridge
    value: temp_c
    levels: [{severity: warning, above: 5, clear: 4.5}]
"""
    )
    events = feed(eng, fridge([(0.1, 6.0), (0.4, 4.0), (0.7, 6.0)]))
    assert [e.state for e in events] == ["firing", "resolved", "firing"]
    first, _, second = (e.alert_id for e in events)
    assert second == f"{first}-2"
    assert re.fullmatch(r"[A-Za-z0-9_.:-]+", second)


def test_drill_flag_comes_from_the_reading() -> None:
    eng = engine(COLD)
    events = feed(eng, fridge(minutes(0, 16, 6.0), drill=True))
    assert events and all(e.drill for e in events)


# --- order: late and duplicate readings -------------------------------------------------------


def test_late_and_duplicate_readings_are_counted_and_ignored() -> None:
    eng = engine(COLD)
    assert [e.state for e in feed(eng, fridge([(60, 4.0), (120, 6.0)]))] == ["pending"]
    # an older reading (and a redelivered one) must not clear the pending alert or move its hold
    assert feed(eng, fridge([(90, 3.0), (120, 3.0), (100, 9.0)])) == []
    assert eng.stats()["late"] == 3
    events = feed(eng, fridge([(t, 6.0) for t in range(180, 1021, 60)]))
    assert [(secs(e.ts), e.state) for e in events] == [(1020, "firing")]


def test_readings_of_unknown_sensors_are_counted() -> None:
    eng = engine(COLD)
    assert eng.process(reading("coldchain", "nobody", 0, temp_c=40.0)) == []
    assert eng.stats()["unknown"] == 1


def test_a_reading_without_the_value_moves_nothing() -> None:
    eng = engine(
        """
rules:
  - id: load
    kind: threshold
    applies_to: generators
    value: load_pct
    levels: [{severity: warning, above: 80, clear: 75}]
"""
    )
    assert [e.state for e in feed(eng, [reading("power", "gen1", 0, power_kw=70.0)])] == ["firing"]
    assert feed(eng, [reading("power", "gen1", 10, frequency_hz=50.0)]) == []
    assert [a.state for a in eng.active()] == ["firing"]


# --- silence ----------------------------------------------------------------------------------


def test_silence_while_firing_keeps_the_alert_and_raises_a_silent_device_alert() -> None:
    eng, firing = firing_cold_engine()
    # the fridge goes quiet; the event clock moves on (other devices, or a drill's clock)
    assert eng.tick(at(16 * 60 + 170)) == []  # 170 s: not yet 3 report intervals
    silent = eng.tick(at(16 * 60 + 600))
    assert digest(silent) == [(16 * 60 + 180, "f1", "firing", "warning")]
    assert silent[0].rule == "silent"
    assert "no reading from this fridge for 3 min" in silent[0].message
    assert eng.tick(at(3600)) == []  # no repeats
    # the cold-holding alert is exactly as it was: silence is not recovery
    assert {(a.rule, a.state) for a in eng.active()} == {("cold", "firing"), ("silent", "firing")}
    assert next(a for a in eng.active() if a.rule == "cold") == firing
    # data returns, still warm: the silent alert resolves, cold-holding stays firing
    back = feed(eng, fridge([(3700, 6.5)]))
    assert [(e.rule, e.state) for e in back] == [("silent", "resolved")]
    assert [(a.rule, a.state) for a in eng.active()] == [("cold", "firing")]


def test_offline_status_raises_silence_at_once_and_data_resolves_it() -> None:
    eng = engine(COLD)
    feed(eng, fridge([(0, 3.0)]))
    (offline,) = eng.device_status("f1", online=False, ts=at(30))
    assert (offline.rule, offline.state, secs(offline.ts)) == ("silent", "firing", 30)
    assert "reported offline" in offline.message
    assert eng.device_status("f1", online=True, ts=at(40)) == []  # a connection is not data
    assert eng.device_status("f1", online=False, ts=at(45)) == []  # already raised
    assert [e.state for e in feed(eng, fridge([(50, 3.0)]))] == ["resolved"]
    # a stale offline (older than the newest reading) is ignored
    assert eng.device_status("f1", online=False, ts=at(20)) == []


def test_a_device_never_heard_from_is_silent_from_the_first_clock() -> None:
    eng = engine(COLD)
    assert eng.tick(at(0)) == []
    assert digest(eng.tick(at(200))) == [(180, "f1", "firing", "warning")]


def test_silence_transition_time_does_not_depend_on_when_the_tick_comes() -> None:
    def run(ticks: list[float]) -> list[tuple[float, str, str, str]]:
        eng = engine(COLD)
        feed(eng, fridge([(0, 3.0), (60, 3.0)]))
        out: list[AlertEvent] = []
        for t in ticks:
            out += eng.tick(at(t))
        return digest(out)

    assert (
        run([250, 500])
        == run([241])
        == run(list(range(61, 900, 7)))
        == [(240, "f1", "firing", "warning")]
    )


# --- restart ----------------------------------------------------------------------------------


def roundtrip(state: dict) -> dict:
    return orjson.loads(orjson.dumps(state))


def test_restart_mid_alert_neither_duplicates_nor_loses() -> None:
    readings = fridge(minutes(0, 10, 6.0) + minutes(11, 27, 9.0) + minutes(28, 30, 4.0))
    whole = feed(engine(COLD), readings)
    assert [(e.state, e.severity) for e in whole] == [
        ("pending", "warning"),
        ("firing", "warning"),
        ("firing", "critical"),
        ("resolved", "critical"),
    ]

    # cut while pending, pending with critical's hold running, firing, critical, resolved
    for cut in (5, 12, 16, 27, 30):
        first = engine(COLD)
        events = feed(first, readings[:cut])
        second = engine(COLD, state=roundtrip(first.snapshot()))
        assert second.active() == first.active()
        events += feed(second, readings[cut:])
        assert digest(events) == digest(whole), f"restart after {cut} readings"
        assert [e.alert_id for e in events] == [e.alert_id for e in whole]


def test_restart_keeps_acknowledgements_and_silence() -> None:
    eng, firing = firing_cold_engine()
    eng.acknowledge(firing.alert_id, "duty-1", "on it", at(1000))
    eng.tick(at(2000))
    restarted = engine(COLD, state=roundtrip(eng.snapshot()))
    assert restarted.active() == eng.active()
    assert restarted.tick(at(2100)) == []  # silence already raised: not raised twice
    back = feed(restarted, fridge([(2200, 4.0)]))
    assert sorted((e.rule, e.state, e.actor) for e in back) == [
        ("cold", "resolved", "duty-1"),
        ("silent", "resolved", None),
    ]


def test_danger_zone_time_survives_a_restart() -> None:
    points = [(t, 7.0) for t in range(0, 8000, 300)]
    whole = digest(feed(engine(DANGER), fridge(points)))
    assert whole == [(7200, "f1", "firing", "warning")]
    first = engine(DANGER)
    feed(first, fridge(points[:10]))  # 45 min in the danger zone
    second = engine(DANGER, state=roundtrip(first.snapshot()))
    assert digest(feed(second, fridge(points[10:]))) == whole


def test_alerts_of_a_removed_rule_resolve_after_restart() -> None:
    eng, firing = firing_cold_engine()
    without = engine(
        """
rules:
  - id: silent
    kind: no_data
    applies_to: fridge
""",
        state=roundtrip(eng.snapshot()),
    )
    assert [a.alert_id for a in without.active()] == [firing.alert_id]
    gone = without.tick(at(16 * 60 + 1))
    assert [(e.alert_id, e.state) for e in gone] == [(firing.alert_id, "resolved")]
    assert "no longer in the rules" in gone[0].message
    assert without.active() == []


def test_a_snapshot_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError, match="snapshot version"):
        engine(COLD, state={"version": 99})


# --- event time -------------------------------------------------------------------------------

SCENARIO = """
rules:
  - id: cold
    kind: threshold
    applies_to: fridge
    value: temp_c
    hold: 5m
    levels: [{severity: warning, above: 5, clear: 4.5}]
  - id: load
    kind: threshold
    applies_to: generators
    value: load_pct
    hold: 30s
    levels:
      - {severity: warning, above: 80, clear: 75}
      - {severity: critical, above: 95, clear: 90}
  - id: drop
    kind: rate
    applies_to: generators
    value: power_kw
    direction: fall
    change_pct: 50
    within: 10s
  - id: fence
    kind: geofence
    applies_to: shuttles
    hold: 60s
  - id: silent
    kind: no_data
    applies_to: all
  - id: danger
    kind: cumulative
    applies_to: fridge
    value: temp_c
    above: 5
    below: 60
    levels: [{severity: warning, after: 10m}]
"""


def twenty_minutes() -> list:
    """20 minutes of an event: a fridge warms, a generator overloads then trips, a bus strays,
    the zone counter goes quiet for 3 minutes and comes back, the gate counter dies."""
    out = []
    for t in range(0, 1200, 10):
        if t % 60 == 0:
            out.append(reading("coldchain", "f1", t, temp_c=4.0 if t < 240 else 6.5))
            out.append(reading("coldchain", "fz1", t, temp_c=-20.0))
            out.append(reading("coldchain", "h1", t, temp_c=70.0))
        if t % 30 == 0 and not 400 <= t < 580:
            out.append(reading("crowd", "z1", t, occupancy=300))
        if t % 30 == 0 and t < 600:
            out.append(reading("crowd", "g1", t, **{"in": 10, "out": 2}))
        kw = 60.0 if t < 300 else 78.0 if t < 700 else 2.0
        out.append(reading("power", "gen1", t, power_kw=kw, voltage_v=230.0))
        offset = 150.0 if 500 <= t < 640 else 8.0
        out.append(bus_at(t, offset))
    return out


def test_twenty_minutes_at_once_gives_the_same_transitions_as_live() -> None:
    readings = twenty_minutes()

    # live: readings arrive over 20 minutes; the event clock is ticked every second
    live = engine(SCENARIO)
    live_events: list[AlertEvent] = []
    pending = iter(readings)
    nxt = next(pending, None)
    for second in range(1200):
        now = at(second)
        while nxt is not None and nxt.ts <= now:
            live_events += live.process(nxt)
            nxt = next(pending, None)
        live_events += live.tick(now)

    # backlog: all 20 minutes at once, the clock following the readings
    burst = engine(SCENARIO)
    burst_events = feed(burst, readings, tick=True)

    def key(e: AlertEvent) -> tuple:
        return (e.ts, e.alert_id, e.state, e.severity, e.value, e.message)

    assert sorted(map(key, live_events)) == sorted(map(key, burst_events))
    rules_seen = {(e.rule, e.subject, e.state) for e in live_events}
    assert {
        ("cold", "f1", "firing"),
        ("load", "gen1", "firing"),
        ("drop", "gen1", "firing"),
        ("fence", "bus1", "firing"),
        ("fence", "bus1", "resolved"),
        ("silent", "z1", "firing"),
        ("silent", "z1", "resolved"),
        ("silent", "g1", "firing"),
        ("danger", "f1", "firing"),
    } <= rules_seen
    assert live.snapshot()["subjects"] == burst.snapshot()["subjects"]

    # reading-driven transitions do not even need the ticks
    no_ticks = engine(SCENARIO)
    quiet = [key(e) for e in feed(no_ticks, readings) if e.rule != "silent"]
    assert sorted(quiet) == sorted(key(e) for e in burst_events if e.rule != "silent")


def test_a_fifteen_minute_hold_fires_after_fifteen_minutes_of_event_time() -> None:
    # a drill at 60x: fifteen simulated minutes arrive in fifteen wall seconds
    eng = engine(COLD)
    events = feed(eng, fridge([(t, 6.0) for t in range(0, 901, 60)]))
    assert [(secs(e.ts), e.state) for e in events] == [(0, "pending"), (900, "firing")]
    assert events[-1].ts - events[-1].started_at == timedelta(minutes=15)


def test_snapshot_is_plain_json() -> None:
    eng, _ = firing_cold_engine()
    eng.tick(at(5000))
    state = eng.snapshot()
    assert orjson.loads(orjson.dumps(state)) == state


def test_a_gap_in_a_replayed_backlog_raises_the_same_silence_as_live() -> None:
    # the fridge reports every minute, falls silent for 10 minutes, then reports again
    points = [(m * 60.0, 3.0) for m in (0, 1, 2, 3)] + [(m * 60.0, 3.0) for m in (13, 14, 15)]

    # live: readings arrive on time and the clock is ticked every second in between
    live = engine(COLD)
    live_events: list[AlertEvent] = []
    pending = iter(fridge(points))
    nxt = next(pending, None)
    for second in range(0, 15 * 60 + 1):
        while nxt is not None and nxt.ts <= at(second):
            live_events += live.process(nxt)
            nxt = next(pending, None)
        live_events += live.tick(at(second))

    # backlog: the same readings replayed at once after an outage, the clock following them
    burst_events = feed(engine(COLD), fridge(points), tick=True)
    # and with no ticks at all: the reading that ends the gap still shows it
    bare_events = feed(engine(COLD), fridge(points))

    expected = [(180 + 180, "f1", "firing", "warning"), (780, "f1", "resolved", "warning")]
    assert digest(live_events) == expected
    assert digest(burst_events) == expected
    assert digest(bare_events) == expected
    assert [e.message for e in burst_events] == [e.message for e in live_events]
    assert "after 10 min" in burst_events[-1].message


def test_before_any_reading_devices_that_never_reported_are_silent_on_the_wall_clock() -> None:
    eng = engine(COLD)
    # no reading, no event clock: the service gives the wall clock from its start
    assert eng.tick_unheard(at(0)) == []
    assert eng.tick_unheard(at(170)) == []
    (silent,) = eng.tick_unheard(at(200))
    assert (secs(silent.ts), silent.subject, silent.state, silent.drill) == (
        180,
        "f1",
        "firing",
        False,
    )
    assert silent.message == "silent: no reading from this fridge yet, 3 min after monitoring began"
    assert eng.tick_unheard(at(900)) == []  # no repeats
    # a drill starts: its clock runs from an hour ago. The alert resolves with the first
    # reading, not before it fired, and the wall clock no longer counts
    (resolved,) = feed(eng, fridge([(-3600, 3.0)], drill=True))
    assert (resolved.state, secs(resolved.ts)) == ("resolved", 180)
    assert eng.tick_unheard(at(5000)) == []
    assert eng.tick(at(-3600 + 170)) == []  # event time from here on: nothing is silent yet
    assert digest(eng.tick(at(-3600 + 200))) == [(-3600 + 180, "f1", "firing", "warning")]


def test_the_wall_clock_is_not_used_once_readings_flow() -> None:
    eng = engine(COLD)
    feed(eng, fridge([(-3600, 3.0)], drill=True))  # a drill's first reading, an hour back
    assert eng.tick_unheard(at(0)) == [] and eng.tick_unheard(at(10_000)) == []
    assert eng.active() == []
