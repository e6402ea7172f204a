"""Drill files: the examples load and cover every incident type; errors say where."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from opsroom.configfile import ConfigError
from opsroom.venue import Venue
from simulators.drill import INCIDENT_TYPES, Drill, load_drill, load_drill_text, parse_duration
from tests.simulators.conftest import DRILLS


def test_examples_together_cover_every_incident_type(
    opening_rush: Drill, festival_day: Drill
) -> None:
    types = {i.type for d in (opening_rush, festival_day) for i in d.incidents}
    assert types == set(INCIDENT_TYPES)
    assert opening_rush.duration == timedelta(hours=1)
    assert festival_day.duration == timedelta(hours=24)
    assert opening_rush.start == time(9, 45)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("1h30m", 5400), ("2h", 7200), (45, 45), (1.5, 1.5)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_bad_duration() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("ten minutes")


BAD = [
    # (body, fragment of the error naming the field, line)
    ("duration: 2 hours\n", "duration", 2),
    ("duration: 1h\nspeed: -1\n", "speed", 3),
    ("duration: 1h\nbogus: 1\n", "bogus", 3),
    (
        "duration: 1h\nincidents:\n"
        "  - {type: freezer_failure, at: 5m, target: smokestack-fridge}\n",
        "incidents[0].target",
        4,
    ),
    (
        "duration: 1h\nincidents:\n  - type: meteor_strike\n    at: 5m\n    target: gen-family\n",
        "incidents[0]",
        4,
    ),
    (
        "duration: 1h\nincidents:\n  - type: overload\n    at: 5m\n    target: gen-family\n"
        "    load_pct: lots\n",
        "incidents[0].load_pct",
        7,
    ),
    (
        "duration: 1h\nincidents:\n  - type: overload\n    at: 50m\n    target: gen-family\n"
        "    duration: 20m\n",
        "incidents[0].duration",
        7,
    ),
    (
        "duration: 1h\nincidents:\n  - type: gate_surge\n    at: 5m\n    target: nowhere-gate\n",
        "incidents[0].target",
        6,
    ),
    ("duration: 1h\ncrowd:\n  waves:\n    - {zone: moon, at: 10m}\n", "crowd.waves[0].zone", 5),
    ("duration: 48h\n", "duration", 2),
]


@pytest.mark.parametrize(("body", "field", "line"), BAD)
def test_errors_name_file_line_and_field(
    venue: Venue, tmp_path: Path, body: str, field: str, line: int
) -> None:
    path = tmp_path / "broken-drill.yaml"
    path.write_text("name: broken\n" + body)
    with pytest.raises(ConfigError) as err:
        load_drill(path, venue)
    text = str(err.value)
    assert str(path) in text
    assert field in text
    assert f"line {line}" in text, text


def test_type_tag_is_not_in_the_field_path(venue: Venue) -> None:
    body = "incidents:\n  - {type: overload, at: 5m, target: gen-family, load_pct: lots}\n"
    with pytest.raises(ConfigError) as err:
        load_drill_text("name: t\nduration: 1h\n" + body, "d.yaml", venue)
    assert "incidents[0].load_pct" in str(err.value)
    assert "overload.load_pct" not in str(err.value)


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_drill(tmp_path / "missing.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="empty"):
        load_drill(empty)


def test_examples_name_their_venue() -> None:
    for path in DRILLS.glob("*.yaml"):
        drill = load_drill(path)
        assert drill.venue is not None
        assert (path.parent / drill.venue).is_file()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"09:45"', time(9, 45)),
        ("09:45", time(9, 45)),  # YAML 1.1: the number 585
        ("21:30:15", time(21, 30, 15)),
        ("2026-07-04T18:30:00", time(18, 30)),
        ('"2026-07-04T18:30:00+01:00"', time(18, 30)),
    ],
)
def test_start_time_of_day(venue: Venue, text: str, expected: time) -> None:
    drill = load_drill_text(f"name: t\nduration: 1h\nstart: {text}\n", "d.yaml", venue)
    assert drill.start == expected
