"""The example weather rules on the example venue, with a pinned event clock.

Wind: each structure is a subject of its own, fed by its nearest station's gust. Lightning: warning
within 16 km, critical within 8 km, all-clear 30 minutes after the last close strike (the
30-minute rule), not with the first quiet reading. Heat: the NWS heat index bands.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from opsroom.alerts import AlertEvent
from opsroom.families.weather import heat_index_c, nearest_station
from opsroom.rulesfile.model import load_rules
from opsroom.venue import load_venue
from rules.engine import Engine
from tests.rules.engine_helpers import reading
from tests.rules.test_rules_file import EXAMPLE_RULES, EXAMPLE_VENUE

VENUE = load_venue(EXAMPLE_VENUE)
CALM = {"wind_ms": 3.0, "gust_ms": 5.0, "air_temp_c": 20.0, "humidity_pct": 60.0, "strikes": 0}


def _engine() -> Engine:
    return Engine(load_rules(EXAMPLE_RULES, VENUE), VENUE)


def _wx(eng: Engine, t_min: float, station: str = "wx-arena", **values: Any) -> list[AlertEvent]:
    return eng.process(reading("weather", station, t_min * 60.0, **{**CALM, **values}))


def _states(events: list[AlertEvent], rule: str) -> list[tuple[str, str]]:
    return [(e.state, e.severity) for e in events if e.rule == rule]


def test_each_structure_takes_its_wind_from_the_nearest_station() -> None:
    by_structure = {s.id: nearest_station(s, VENUE.stations) for s in VENUE.structures}
    assert {k: v.id for k, v in by_structure.items() if v} == {
        "main-stage-roof": "wx-arena",
        "dance-tent-big-top": "wx-arena",
        "family-marquee": "wx-campsite",
    }


def _wind(events: list[AlertEvent]) -> list[tuple[str, str, str, str]]:
    return [
        (e.rule, e.subject, e.state, e.severity) for e in events if e.rule.startswith("structure")
    ]


def test_each_structure_gets_its_own_wind_alert_against_its_own_limits() -> None:
    # wx-arena feeds the Main Stage roof (18 / 22 m/s) and the Dance Tent (15 / 20 m/s)
    eng = _engine()
    assert _wx(eng, 0, gust_ms=14.9) == []
    out = _wx(eng, 1, gust_ms=15.5)
    assert _wind(out) == [("structure-wind", "dance-tent-big-top", "firing", "warning")]
    [event] = out
    assert (event.kind, event.value) == ("weather", pytest.approx(15.5 * 100 / 15))
    assert event.message.startswith("Dance Tent big top (tent), from station wx-arena: ")
    assert "main-stage-roof" not in event.message
    out = _wx(eng, 2, gust_ms=21.0)
    assert _wind(out) == [
        ("structure-wind", "main-stage-roof", "firing", "warning"),
        ("structure-wind-evacuate", "dance-tent-big-top", "firing", "critical"),
    ]
    # wx-campsite feeds the Family marquee only: 13.5 m/s is past its operating limit (13)
    assert _wind(_wx(eng, 2, "wx-campsite", gust_ms=13.5)) == [
        ("structure-wind", "family-marquee", "firing", "warning")
    ]
    assert {(a.subject, a.rule) for a in eng.active()} >= {
        ("main-stage-roof", "structure-wind"),
        ("dance-tent-big-top", "structure-wind"),
        ("dance-tent-big-top", "structure-wind-evacuate"),
        ("family-marquee", "structure-wind"),
    }
    assert not [a for a in eng.active() if a.subject.startswith("wx-")]
    # back under 90 % of every limit: each structure's alerts resolve, the marquee's stays
    out = _wx(eng, 3, gust_ms=12.0)
    assert sorted(_wind(out)) == [
        ("structure-wind", "dance-tent-big-top", "resolved", "warning"),
        ("structure-wind", "main-stage-roof", "resolved", "warning"),
        ("structure-wind-evacuate", "dance-tent-big-top", "resolved", "critical"),
    ]


def test_a_structure_alert_survives_a_snapshot_and_restore() -> None:
    eng = _engine()
    [fired] = _wx(eng, 0, gust_ms=16.0)
    eng = Engine(load_rules(EXAMPLE_RULES, VENUE), VENUE, state=eng.snapshot())
    assert _wx(eng, 1, gust_ms=16.5) == []  # still the same alert: nothing new
    [resolved] = _wx(eng, 2, gust_ms=10.0)
    assert (resolved.alert_id, resolved.subject, resolved.state) == (
        fired.alert_id,
        "dance-tent-big-top",
        "resolved",
    )
    # a late reading of the station is late for the structures it feeds too: counted once
    assert _wx(eng, 1.5, gust_ms=30.0) == [] and eng.stats()["late"] == 1


def test_lightning_all_clear_only_after_30_minutes_without_a_close_strike() -> None:
    eng = _engine()
    assert _states(_wx(eng, 0, strike_km=25.0, strikes=1), "lightning") == []
    assert _states(_wx(eng, 1, strike_km=12.0, strikes=3), "lightning") == [("firing", "warning")]
    assert _states(_wx(eng, 2, strike_km=6.0, strikes=4), "lightning") == [("firing", "critical")]
    # quiet readings: the latest reading has no strike, but the 30 minutes are not up
    for minute in range(3, 32):
        assert _states(_wx(eng, minute), "lightning") == [], minute
    # 30 minutes after the strike at 6 km the critical level ends; the 12 km strike at
    # minute 1 is already older than 30 minutes, so the alert resolves
    assert _states(_wx(eng, 32), "lightning") == [("resolved", "critical")]


def test_a_new_close_strike_restarts_the_30_minutes() -> None:
    eng = _engine()
    assert _states(_wx(eng, 0, strike_km=10.0, strikes=2), "lightning") == [("firing", "warning")]
    assert _states(_wx(eng, 20, strike_km=14.0, strikes=1), "lightning") == []
    assert _states(_wx(eng, 49), "lightning") == []  # 29 min after the last close strike
    assert _states(_wx(eng, 50), "lightning") == [("resolved", "warning")]


def test_a_far_strike_does_not_hold_the_alert() -> None:
    eng = _engine()
    _wx(eng, 0, strike_km=10.0, strikes=2)
    assert _states(_wx(eng, 20, strike_km=30.0, strikes=5), "lightning") == []
    assert _states(_wx(eng, 30), "lightning") == [("resolved", "warning")]


@pytest.mark.parametrize(
    ("temp_c", "rh", "hi_c"),
    [
        # NWS heat index chart: 90 °F at 50 % -> 95 °F; 100 °F at 55 % -> 124 °F (rounded)
        (32.2222, 50.0, 35.0),
        (37.7778, 55.0, 51.1),
        (20.0, 50.0, 19.4),  # the simple form below 80 °F
    ],
)
def test_heat_index_matches_the_nws_chart(temp_c: float, rh: float, hi_c: float) -> None:
    assert heat_index_c(temp_c, rh) == pytest.approx(hi_c, abs=0.6)


def test_heat_stress_after_ten_minutes_in_a_band() -> None:
    eng = _engine()
    hot = {"air_temp_c": 36.0, "humidity_pct": 55.0}  # heat index about 44 °C: danger
    assert [s for s, _ in _states(_wx(eng, 0, **hot), "heat-stress")] == ["pending"]
    for minute in range(1, 10):
        assert _states(_wx(eng, minute, **hot), "heat-stress") == [], minute
    assert _states(_wx(eng, 10, **hot), "heat-stress") == [("firing", "critical")]
    assert _states(_wx(eng, 11, air_temp_c=25.0), "heat-stress") == [("resolved", "critical")]


def test_the_30_minutes_carry_on_through_a_restart_of_the_rules_engine() -> None:
    """The strike window is saved with the engine: a restart does not bring the all-clear early."""
    eng = _engine()
    assert _states(_wx(eng, 0, strike_km=5.0, strikes=3), "lightning") == [("firing", "critical")]
    saved = json.loads(json.dumps(eng.snapshot()))  # as the rules state file keeps it
    eng = Engine(load_rules(EXAMPLE_RULES, VENUE), VENUE, state=saved)
    for minute in range(1, 21):  # no strike for 20 minutes
        assert _states(_wx(eng, minute), "lightning") == [], minute
    assert [a.severity for a in eng.active() if a.rule == "lightning"] == ["critical"]
    eng = Engine(load_rules(EXAMPLE_RULES, VENUE), VENUE, state=eng.snapshot())
    for minute in range(21, 30):
        assert _states(_wx(eng, minute), "lightning") == [], minute
    assert _states(_wx(eng, 30), "lightning") == [("resolved", "critical")]


def test_the_window_runs_on_event_time_not_on_the_count_of_readings() -> None:
    # one reading 31 minutes after the strike, after a gap: the window is over
    eng = _engine()
    _wx(eng, 0, strike_km=5.0, strikes=3)
    assert _states(_wx(eng, 31), "lightning") == [("resolved", "critical")]
