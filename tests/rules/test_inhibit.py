"""Inhibition: one condition, one alert. A tripped generator is an interruption, not also a
power-drop alert. (Voltage and frequency deviation are undefined during an interruption, see
opsroom/rulesfile/values.py, so those rules keep quiet by themselves.)"""

from __future__ import annotations

import orjson
import pytest

from opsroom.configfile import ConfigError
from rules.engine import Engine
from tests.rules.engine_helpers import VENUE, engine, feed, reading, rules

POWER = """
rules:
  - id: interruption
    kind: threshold
    applies_to: generators
    value: voltage_pct
    levels:
      - {severity: critical, below: 10, clear: 85}
  - id: voltage
    kind: threshold
    applies_to: generators
    value: voltage_dev_pct
    hold: 10s
    inhibited_by: interruption
    levels:
      - {severity: warning, below: -15, clear: -13}
  - id: drop
    kind: rate
    applies_to: generators
    value: power_kw
    direction: fall
    change_pct: 50
    within: 10s
    min_base: 5
    severity: critical
    inhibited_by: [interruption]
"""

HEALTHY = {"voltage_v": 230.0, "frequency_hz": 50.0, "power_kw": 60.0}
TRIPPED = {"voltage_v": 0.0, "frequency_hz": 0.0, "power_kw": 0.0}
SAGGING = {"voltage_v": 180.0, "frequency_hz": 50.0, "power_kw": 60.0}  # -22 %
UNLOADED = {"voltage_v": 230.0, "frequency_hz": 50.0, "power_kw": 0.0}  # back, board still off


def gen(t: float, values: dict[str, float]):
    return reading("power", "gen1", t, **values)


def run(points: list[tuple[float, dict[str, float]]], eng: Engine | None = None) -> list:
    eng = eng or engine(POWER)
    return [(e.rule, e.state) for e in feed(eng, [gen(t, v) for t, v in points])]


def test_a_trip_is_one_alert_not_two() -> None:
    points = [(0, HEALTHY), (10, HEALTHY), *[(t, TRIPPED) for t in range(20, 120, 10)]]
    assert run(points) == [("interruption", "firing")]


def test_without_inhibition_the_same_trip_raises_both() -> None:
    plain = POWER.replace("inhibited_by: interruption", "").replace(
        "inhibited_by: [interruption]", ""
    )
    points = [(0, HEALTHY), (10, HEALTHY), *[(t, TRIPPED) for t in range(20, 120, 10)]]
    got = run(points, engine(plain))
    assert got == [("interruption", "firing"), ("drop", "firing")]


def test_an_alert_already_open_carries_on_when_the_inhibitor_fires() -> None:
    # the voltage sags first (and fires), then the set trips: the voltage alert stays
    points = [(t, SAGGING) for t in range(0, 30, 10)] + [(30, TRIPPED), (40, TRIPPED)]
    assert run(points) == [
        ("voltage", "pending"),
        ("voltage", "firing"),
        ("interruption", "firing"),
    ]


def test_a_condition_that_outlasts_the_inhibitor_is_raised_then() -> None:
    # the set trips, is restarted, but the stage's board stays off: the drop is real on its own
    points = [(0, HEALTHY), (10, TRIPPED), (20, TRIPPED), (30, UNLOADED), (40, UNLOADED)]
    eng = engine(POWER)
    events = feed(eng, [gen(t, v) for t, v in points])
    assert [(e.rule, e.state) for e in events] == [
        ("interruption", "firing"),
        ("interruption", "resolved"),
        ("drop", "firing"),
    ]
    drop = events[-1]
    assert drop.ts == gen(30, UNLOADED).ts and drop.started_at == gen(10, TRIPPED).ts
    assert eng.stats()["inhibited"] == 2


def test_holding_back_survives_a_restart() -> None:
    first = engine(POWER)
    assert run([(0, HEALTHY), (10, TRIPPED), (20, TRIPPED)], first) == [("interruption", "firing")]
    second = engine(POWER, state=orjson.loads(orjson.dumps(first.snapshot())))
    assert run([(30, UNLOADED), (40, UNLOADED)], second) == [
        ("interruption", "resolved"),
        ("drop", "firing"),
    ]


def test_another_subject_is_not_held_back() -> None:
    venue = VENUE.model_copy(
        update={
            "generators": [
                *VENUE.generators,
                VENUE.generators[0].model_copy(update={"id": "gen2"}),
            ]
        }
    )
    eng = Engine(rules(POWER), venue)
    out = feed(eng, [gen(0, TRIPPED)])
    out += feed(eng, [reading("power", "gen2", t, **SAGGING) for t in (0, 10, 20)])
    assert [(e.subject, e.rule, e.state) for e in out] == [
        ("gen1", "interruption", "firing"),
        ("gen2", "voltage", "pending"),
        ("gen2", "voltage", "firing"),
    ]


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        ("inhibited_by: nope", "no rule has the id 'nope'"),
        ("inhibited_by: voltage", "a rule cannot inhibit itself"),
    ],
)
def test_bad_inhibited_by_names_the_field(replacement: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        rules(POWER.replace("inhibited_by: interruption", replacement))
    assert message in str(err.value) and "inhibited_by" in str(err.value)


def test_a_silence_rule_cannot_be_inhibited() -> None:
    text = (
        POWER
        + """
  - id: silent
    kind: no_data
    applies_to: generators
    inhibited_by: interruption
"""
    )
    with pytest.raises(ConfigError, match="a no_data rule cannot be inhibited"):
        rules(text)
