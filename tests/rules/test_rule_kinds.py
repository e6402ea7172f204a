"""Every rule kind, table-driven on a pinned event clock: readings in, transitions out."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from tests.rules.engine_helpers import at, bus_at, digest, engine, feed, reading, series

COLD = """
rules:
  - id: cold
    kind: threshold
    applies_to: fridge
    value: temp_c
    hold: 15m
    levels:
      - {severity: warning, above: 5, clear: 4.5}
"""

COLD_TWO_LEVELS = """
rules:
  - id: cold
    kind: threshold
    applies_to: fridge
    value: temp_c
    hold: 15m
    levels:
      - {severity: warning, above: 5, clear: 4.5}
      - {severity: critical, above: 8, clear: 7.5}
"""

HOT = """
rules:
  - id: hot
    kind: threshold
    applies_to: hot_holding
    value: temp_c
    hold: 15m
    levels:
      - {severity: critical, below: 63, clear: 64}
"""

VOLTAGE = """
rules:
  - id: volts
    kind: threshold
    applies_to: generators
    value: voltage_dev_pct
    hold: 10s
    levels:
      - {severity: warning, above: 10, clear: 8}
      - {severity: warning, below: -15, clear: -13}
  - id: outage
    kind: threshold
    applies_to: generators
    value: voltage_pct
    levels:
      - {severity: critical, below: 10, clear: 85}
"""

DENSITY = """
rules:
  - id: density
    kind: threshold
    applies_to: zones
    value: density_ppm2
    hold: 30s
    levels:
      - {severity: warning, above: 2, clear: 1.8}
      - {severity: critical, above: 4, clear: 3.5}
"""

OCCUPANCY = """
rules:
  - id: occupancy
    kind: threshold
    applies_to: zones
    value: occupancy_pct
    levels:
      - {severity: warning, above: 85, clear: 82}
      - {severity: critical, above: 95, clear: 92}
"""

FLOW = """
rules:
  - id: flow
    kind: threshold
    applies_to: gates
    value: flow_ppmm
    hold: 1m
    levels:
      - {severity: warning, above: 66, clear: 60}
      - {severity: critical, above: 82, clear: 75}
"""

LOAD = """
rules:
  - id: load
    kind: threshold
    applies_to: generators
    value: load_pct
    hold: 1m
    levels:
      - {severity: warning, above: 80, clear: 75}
      - {severity: critical, above: 95, clear: 90}
"""

FREQUENCY = """
rules:
  - id: hz
    kind: threshold
    applies_to: generators
    value: frequency_dev_pct
    hold: 10s
    levels:
      - {severity: warning, above: 2, clear: 1.5}
      - {severity: warning, below: -2, clear: -1.5}
"""

OVERSPEED = """
rules:
  - id: overspeed
    kind: threshold
    applies_to: shuttles
    value: over_limit_kmh
    hold: 30s
    levels:
      - {severity: warning, above: 0, clear: -3}
"""

DROP = """
rules:
  - id: drop
    kind: rate
    applies_to: generators
    value: power_kw
    direction: fall
    change_pct: 50
    within: 10s
    min_base: 5
    clear_fraction: 0.4
    accept_after: 5m
"""

RISE = """
rules:
  - id: warming
    kind: rate
    applies_to: fridge
    value: temp_c
    direction: rise
    change: 3
    within: 10m
    severity: warning
"""

DANGER = """
rules:
  - id: danger
    kind: cumulative
    applies_to: catering
    value: temp_c
    above: 5
    below: 60
    levels:
      - {severity: warning, after: 2h}
      - {severity: critical, after: 4h}
    reset_after: 1h
    max_gap: 10m
"""

GEOFENCE = """
rules:
  - id: fence
    kind: geofence
    applies_to: shuttles
    clear_margin_m: 10
    hold: 60s
"""

STOPPED = """
rules:
  - id: stopped
    kind: stopped
    applies_to: shuttles
    below_kmh: 3
    moving_kmh: 5
    hold: 5m
    stop_radius_m: 50
"""


# GPS fixes every 5 s with seeded jitter (the same on every run): hugging the corridor's edge
# at 48 ± 5 m for 10 minutes, and 20 m outside it at 70 ± 15 m for 5 minutes
_rng = random.Random(1)
_EDGE = [48 + _rng.uniform(-5, 5) for _ in range(120)]
_FIRST_OVER_50 = 5 * next(i for i, d in enumerate(_EDGE) if d > 50)
_OUTSIDE = [70 + _rng.uniform(-15, 15) for _ in range(60)]


@dataclass
class Case:
    name: str
    rules: str
    readings: list
    expected: list  # (seconds after T0, subject, state, severity)


def every(step: float, values: list[float], start: float = 0.0) -> list[tuple[float, float]]:
    """(t, value) points `step` seconds apart."""
    return [(start + i * step, v) for i, v in enumerate(values)]


def _minutes(*pairs: tuple[int, float]) -> list[tuple[float, float]]:
    """A reading a minute: each (minute, value) holds until the next pair's minute."""
    out: list[tuple[float, float]] = []
    for (m, v), (upto, _) in zip(pairs, [*pairs[1:], (pairs[-1][0] + 1, 0.0)], strict=True):
        out += [(minute * 60, v) for minute in range(m, upto)]
    return out


CASES = [
    Case(
        "above: pending, fires after the hold, stays in the dead band, clears at the clear level",
        COLD,
        series("coldchain", "f1", "temp_c", _minutes((0, 4.0), (1, 5.5), (8, 5.6), (16, 5.5))),
        [(60, "f1", "pending", "warning"), (960, "f1", "firing", "warning")],
    ),
    Case(
        "dead band: the alert stays pending and the hold restarts; firing needs an unbroken hold",
        COLD,
        series(
            "coldchain",
            "f1",
            "temp_c",
            _minutes((0, 5.5), (10, 4.8), (17, 5.2), (25, 5.4), (32, 5.3), (33, 4.7), (34, 4.5)),
        ),
        [
            (0, "f1", "pending", "warning"),
            (1920, "f1", "firing", "warning"),  # 15 min above 5 °C from minute 17
            (2040, "f1", "resolved", "warning"),  # 4.7 is in the dead band; 4.5 clears
        ],
    ),
    Case(
        "noise 4.9/5.1 around 5 °C with clear 4.5: one pending alert, no flapping, no firing",
        COLD,
        series("coldchain", "f1", "temp_c", every(60, [4.9, 5.1] * 30)),
        [(60, "f1", "pending", "warning")],
    ),
    Case(
        "noise 4.6/5.4 after firing: stays firing, one alert",
        COLD,
        series("coldchain", "f1", "temp_c", every(60, [6.0] * 16 + [4.6, 5.4] * 30)),
        [(0, "f1", "pending", "warning"), (900, "f1", "firing", "warning")],
    ),
    Case(
        "pending that clears before the hold is resolved, and never fires",
        COLD,
        series("coldchain", "f1", "temp_c", _minutes((0, 6.0), (5, 6.0), (6, 4.0), (30, 4.0))),
        [(0, "f1", "pending", "warning"), (360, "f1", "resolved", "warning")],
    ),
    Case(
        "escalation warning -> critical and back down, one alert",
        COLD_TWO_LEVELS,
        series(
            "coldchain",
            "f1",
            "temp_c",
            _minutes((0, 4.0), (1, 6.0), (6, 9.0), (16, 9.0), (21, 9.0), (22, 7.0), (23, 4.0)),
        ),
        [
            (60, "f1", "pending", "warning"),
            (960, "f1", "firing", "warning"),
            (1260, "f1", "firing", "critical"),
            (1320, "f1", "firing", "warning"),
            (1380, "f1", "resolved", "warning"),
        ],
    ),
    Case(
        "below: hot holding under 63 °C for 15 min",
        HOT,
        series(
            "coldchain",
            "h1",
            "temp_c",
            _minutes((0, 65), (1, 62), (16, 61), (17, 63.5), (18, 64.5)),
        ),
        [
            (60, "h1", "pending", "critical"),
            (960, "h1", "firing", "critical"),
            (1080, "h1", "resolved", "critical"),
        ],
    ),
    Case(
        "voltage band: +13 % for 10 s fires; back to +4 % resolves",
        VOLTAGE,
        series("power", "gen1", "voltage_v", every(10, [230, 260, 260, 240])),
        [
            (10, "gen1", "pending", "warning"),
            (20, "gen1", "firing", "warning"),
            (30, "gen1", "resolved", "warning"),
        ],
    ),
    Case(
        "interruption (below 10 % of nominal) fires on the first report; band rule keeps quiet",
        VOLTAGE,
        series("power", "gen1", "voltage_v", every(10, [230, 0, 0, 0, 231])),
        [(10, "gen1", "firing", "critical"), (40, "gen1", "resolved", "critical")],
    ),
    Case(
        "frequency ±2 %: 48.5 Hz for 10 s",
        FREQUENCY,
        series("power", "gen1", "frequency_hz", every(10, [50.0, 48.5, 48.5, 49.5])),
        [
            (10, "gen1", "pending", "warning"),
            (20, "gen1", "firing", "warning"),
            (30, "gen1", "resolved", "warning"),
        ],
    ),
    Case(
        "crowd density = occupancy / area: 2.5 then 4.5 persons/m²",
        DENSITY,
        series("crowd", "z1", "occupancy", every(30, [1000, 2500, 2500, 4500, 4500, 1500])),
        [
            (30, "z1", "pending", "warning"),
            (60, "z1", "firing", "warning"),
            (120, "z1", "firing", "critical"),
            (150, "z1", "resolved", "critical"),
        ],
    ),
    Case(
        "occupancy % of capacity, no hold: 93 % is in critical's dead band, 90 % clears it",
        OCCUPANCY,
        series("crowd", "z1", "occupancy", every(30, [800, 860, 960, 930, 900, 800])),
        [
            (30, "z1", "firing", "warning"),
            (60, "z1", "firing", "critical"),
            (120, "z1", "firing", "warning"),
            (150, "z1", "resolved", "warning"),
        ],
    ),
    Case(
        "gate flow per metre per minute from in+out counts and the time between reports",
        FLOW,
        # 2 m gate, 30 s reports: 70 persons in 30 s = 70 /m/min; 90 = 90 /m/min
        [
            reading("crowd", "g1", 0, **{"in": 10, "out": 0}),
            reading("crowd", "g1", 30, **{"in": 60, "out": 10}),
            reading("crowd", "g1", 60, **{"in": 70, "out": 0}),
            reading("crowd", "g1", 90, **{"in": 80, "out": 10}),
            reading("crowd", "g1", 120, **{"in": 90, "out": 0}),
            reading("crowd", "g1", 150, **{"in": 90, "out": 0}),
            reading("crowd", "g1", 180, **{"in": 20, "out": 0}),
        ],
        [
            (30, "g1", "pending", "warning"),
            (90, "g1", "firing", "warning"),
            (150, "g1", "firing", "critical"),
            (180, "g1", "resolved", "critical"),
        ],
    ),
    Case(
        "generator load % of rated kW (100 kVA x 0.8): 85 % then 97 %",
        LOAD,
        series("power", "gen1", "power_kw", every(30, [50, 68, 68, 68, 78, 78, 78, 50])),
        [
            (30, "gen1", "pending", "warning"),
            (90, "gen1", "firing", "warning"),
            (180, "gen1", "firing", "critical"),
            (210, "gen1", "resolved", "critical"),
        ],
    ),
    Case(
        "overspeed above the route's limit (30 km/h) for 30 s, clears 3 km/h under",
        OVERSPEED,
        [bus_at(t, 0, speed=s) for t, s in every(10, [25, 35, 36, 34, 35, 28, 26])],
        [
            (10, "bus1", "pending", "warning"),
            (40, "bus1", "firing", "warning"),
            (60, "bus1", "resolved", "warning"),
        ],
    ),
    Case(
        "rate: active power falls by more than 50 % within 10 s; resolves when 80 % is back",
        DROP,
        series("power", "gen1", "power_kw", every(10, [100, 100, 40, 45, 70, 85, 85])),
        [(20, "gen1", "firing", "critical"), (50, "gen1", "resolved", "critical")],
    ),
    Case(
        "rate: a load shed on purpose is taken as normal after accept_after (5 min)",
        DROP,
        series("power", "gen1", "power_kw", every(10, [100, 100] + [30, 31] * 20)),
        [(20, "gen1", "firing", "critical"), (320, "gen1", "resolved", "critical")],
    ),
    Case(
        "rate: without accept_after a drop that never recovers still ends, after 30 min",
        DROP.replace("    accept_after: 5m\n", ""),
        series("power", "gen1", "power_kw", every(10, [100, 100] + [30, 31] * 95)),
        [(20, "gen1", "firing", "critical"), (1820, "gen1", "resolved", "critical")],
    ),
    Case(
        "rate: a slow decline (20 % per 10 s) is not a drop; nor is one from idle",
        DROP,
        series(
            "power",
            "gen1",
            "power_kw",
            every(10, [100, 80, 64, 51, 41, 33, 26, 21, 17, 14, 11, 9, 7, 4, 1.5, 4]),
        ),
        [],
    ),
    Case(
        "rate: rise by more than 3 °C within 10 min",
        RISE,
        series(
            "coldchain",
            "f1",
            "temp_c",
            _minutes((0, 3), (2, 3.5), (4, 5.0), (6, 6.5), (8, 5), (10, 4)),
        ),
        [(360, "f1", "firing", "warning"), (600, "f1", "resolved", "warning")],
    ),
    Case(
        "cumulative: 2 h in the danger zone warns, 4 h is critical, 1 h out of it resets",
        DANGER,
        series(
            "coldchain",
            "f1",
            "temp_c",
            [(t, 7.0) for t in range(0, 15001, 600)] + [(t, 3.0) for t in range(15600, 20000, 600)],
        ),
        [
            (7200, "f1", "firing", "warning"),
            (14400, "f1", "firing", "critical"),
            (19200, "f1", "resolved", "critical"),
        ],
    ),
    Case(
        "cumulative: time adds up across episodes shorter than the reset",
        DANGER,
        series(
            "coldchain",
            "f1",
            "temp_c",
            [(t, 7.0) for t in range(0, 3601, 600)]
            + [(t, 3.0) for t in range(4200, 5401, 600)]
            + [(t, 7.0) for t in range(6000, 9601, 600)],
        ),
        # 0..4200 counts 4200 s (the step from the last warm reading), 6000.. adds the rest
        [(9000, "f1", "firing", "warning")],
    ),
    Case(
        "cumulative: a gap between readings counts at most max_gap",
        DANGER,
        series("coldchain", "f1", "temp_c", [(0, 7.0), (7200, 7.0), (7800, 7.0)]),
        [],
    ),
    Case(
        "geofence: 120 m off the route for 60 s fires; back on the road resolves",
        GEOFENCE,
        [bus_at(t, d) for t, d in every(10, [5, 120, 130, 140, 150, 160, 170, 180, 10])],
        [
            (10, "bus1", "pending", "warning"),
            (70, "bus1", "firing", "warning"),
            (80, "bus1", "resolved", "warning"),
        ],
    ),
    Case(
        "geofence: GPS jitter across the corridor edge (48 ± 5 m): pending, never fires",
        GEOFENCE,
        [bus_at(5 * i, d) for i, d in enumerate(_EDGE)]
        + [bus_at(t, 5) for t in range(600, 660, 5)],
        [(_FIRST_OVER_50, "bus1", "pending", "warning"), (600, "bus1", "resolved", "warning")],
    ),
    Case(
        "geofence: jitter 20 m outside the corridor (70 ± 15 m): fires once, resolves once",
        GEOFENCE,
        [bus_at(5 * i, d) for i, d in enumerate(_OUTSIDE)]
        + [bus_at(t, 5) for t in range(300, 360, 5)],
        [
            (0, "bus1", "pending", "warning"),
            (60, "bus1", "firing", "warning"),
            (300, "bus1", "resolved", "warning"),
        ],
    ),
    Case(
        "geofence: a 30 s excursion is held back by the hold time",
        GEOFENCE,
        [bus_at(t, d) for t, d in every(10, [5, 80, 90, 80, 10, 5, 5, 5])],
        [(10, "bus1", "pending", "warning"), (40, "bus1", "resolved", "warning")],
    ),
    Case(
        "stopped 5 min away from a stop fires; moving again resolves",
        STOPPED,
        [
            bus_at(t, 5, speed=s)
            for t, s in every(30, [20, 1, 0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 4, 0, 12])
        ],
        [
            (30, "bus1", "pending", "warning"),
            (330, "bus1", "firing", "warning"),
            (420, "bus1", "resolved", "warning"),
        ],
    ),
    Case(
        "stopped at a stop (within 50 m) is normal",
        STOPPED,
        [bus_at(t, 10, speed=0, along=0.0005) for t in range(0, 1201, 30)],
        [],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rule_kind(case: Case) -> None:
    eng = engine(case.rules)
    assert digest(feed(eng, case.readings)) == case.expected


def test_escalated_alert_keeps_its_id_and_start() -> None:
    eng = engine(COLD_TWO_LEVELS)
    events = feed(
        eng,
        series("coldchain", "f1", "temp_c", _minutes((0, 6.0), (5, 9.0), (15, 9.0), (20, 9.0))),
    )
    assert [e.severity for e in events] == ["warning", "warning", "critical"]
    assert len({e.alert_id for e in events}) == 1
    assert {e.started_at for e in events} == {at(0)}


def test_messages_say_what_and_how_long() -> None:
    eng = engine(COLD)
    events = feed(eng, series("coldchain", "f1", "temp_c", _minutes((0, 6.0), (15, 6.2), (16, 4))))
    assert events[0].message == "cold: 6 °C, above 5 (fires if it holds for 15 min)"
    assert events[1].message == "cold: 6.2 °C, above 5 for 15 min"
    assert events[1].value == pytest.approx(6.2)
    assert events[2].state == "resolved"


def test_without_hold_and_clear_margin_the_same_jitter_would_flap() -> None:
    # the geofence's defences are what keeps the edge quiet: remove them and it flaps
    naked = GEOFENCE.replace("clear_margin_m: 10", "clear_margin_m: 0").replace("60s", "0s")
    events = feed(engine(naked), [bus_at(5 * i, d) for i, d in enumerate(_EDGE)])
    assert len(events) > 20
    assert len(feed(engine(GEOFENCE), [bus_at(5 * i, d) for i, d in enumerate(_EDGE)])) == 1


# --- a hold across a gap in the data ----------------------------------------------------------


def _gap_fridge() -> list:
    """Above 8 °C at 300-450 s, silent from 480 to 1170 s, above 8 again from 1200 s."""
    before = [(t, 9.0) for t in range(300, 451, 30)]
    after = [(t, 9.0) for t in range(1200, 2201, 60)]
    return series("coldchain", "f1", "temp_c", before + after)


def test_a_long_gap_restarts_a_pending_hold_rather_than_counting_as_breach() -> None:
    events = feed(engine(COLD_TWO_LEVELS), _gap_fridge())
    # 2.5 minutes seen, 11.5 unseen: no 15-minute hold yet at 1200 s; the pending alert
    # stays (silence is not recovery) and fires after 15 minutes of readings from 1200 s
    assert digest(events) == [(300, "f1", "pending", "warning"), (2100, "f1", "firing", "critical")]
    assert events[-1].message == "cold: 9 °C, above 8 for 15 min"
    assert events[-1].started_at == at(300)


def test_a_short_gap_is_bridged_and_the_message_says_how_much_was_unseen() -> None:
    # one reading a minute, none at 5 and 6 min: a gap of 3 report intervals, bridged
    points = [(m * 60.0, 6.0) for m in range(16) if m not in (5, 6)]
    events = feed(engine(COLD), series("coldchain", "f1", "temp_c", points))
    assert digest(events) == [(0, "f1", "pending", "warning"), (900, "f1", "firing", "warning")]
    assert events[-1].message == "cold: 6 °C, above 5 for 15 min, 2 min of it without data"


def test_max_gap_in_the_rules_file_decides_what_a_hold_may_bridge() -> None:
    bridged = COLD_TWO_LEVELS.replace("hold: 15m", "hold: 15m\n    max_gap: 15m")
    events = feed(engine(bridged), _gap_fridge())
    assert digest(events) == [(300, "f1", "pending", "warning"), (1200, "f1", "firing", "critical")]
    assert events[-1].message == "cold: 9 °C, above 8 for 15 min, 12 min of it without data"


def test_a_firing_alert_stays_firing_across_a_long_gap() -> None:
    points = [(m * 60.0, 9.0) for m in range(17)] + [(m * 60.0, 9.0) for m in range(40, 42)]
    events = feed(engine(COLD_TWO_LEVELS), series("coldchain", "f1", "temp_c", points))
    assert [e.state for e in events] == ["pending", "firing"]
