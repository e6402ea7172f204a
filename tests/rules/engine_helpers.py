"""Shared by the rules-engine tests: a small venue, a pinned clock, readings, and event digests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from opsroom.alerts import AlertEvent
from opsroom.rulesfile.model import RuleSet, load_rules_text
from opsroom.telemetry import Reading
from opsroom.venue import Venue
from rules.engine import Engine

T0 = datetime(2026, 7, 4, 12, 0, tzinfo=UTC)  # the pinned event clock's zero
M_PER_DEG_LAT = 111_195.0

# A straight east-west road about 2 km long at latitude 52, stops at both ends.
ROUTE_LAT, ROUTE_LON0, ROUTE_LON1 = 52.0, -1.0, -0.97

VENUE = Venue.model_validate(
    {
        "event": {"name": "Test event"},
        "zones": [{"id": "z1", "area_m2": 1000, "capacity": 1000}],
        "gates": [{"id": "g1", "width_m": 2, "zone": "z1"}],
        "generators": [{"id": "gen1", "rated_kva": 100, "nominal_v": 230, "nominal_hz": 50}],
        "catering": [
            {"id": "f1", "type": "fridge"},
            {"id": "fz1", "type": "freezer"},
            {"id": "h1", "type": "hot_holding"},
        ],
        "routes": [
            {
                "id": "r1",
                "corridor_m": 50,
                "speed_limit_kmh": 30,
                "loop": False,
                "stops": [
                    {"id": "west", "lat": ROUTE_LAT, "lon": ROUTE_LON0},
                    {"id": "east", "lat": ROUTE_LAT, "lon": ROUTE_LON1},
                ],
            }
        ],
        "shuttles": [{"id": "bus1", "route": "r1"}],
    }
)


def at(seconds: float) -> datetime:
    """The pinned clock `seconds` after T0."""
    return T0 + timedelta(seconds=seconds)


def secs(ts: datetime) -> float:
    """Seconds after T0."""
    return (ts - T0).total_seconds()


def rules(yaml_text: str) -> RuleSet:
    """A rule set from YAML text (validated against the test venue)."""
    return load_rules_text(yaml_text, "test-rules.yaml", VENUE)


def engine(yaml_text: str, state: dict[str, Any] | None = None) -> Engine:
    """An engine over the test venue with these rules."""
    return Engine(rules(yaml_text), VENUE, state)


def reading(kind: str, sensor: str, t: float, drill: bool = False, **values: Any) -> Reading:
    """A reading `t` seconds after T0."""
    return Reading(kind, sensor, at(t), values, drill)


def bus_at(t: float, offset_m: float, speed: float = 25.0, along: float = 0.5) -> Reading:
    """A fix of bus1 `offset_m` metres north of the road, `along` (0..1) of the way east."""
    lon = ROUTE_LON0 + along * (ROUTE_LON1 - ROUTE_LON0)
    return reading(
        "shuttle", "bus1", t, lat=ROUTE_LAT + offset_m / M_PER_DEG_LAT, lon=lon, speed_kmh=speed
    )


def feed(eng: Engine, readings: Iterable[Reading], tick: bool = False) -> list[AlertEvent]:
    """Process readings in order (ticking the clock to each if asked); all transitions."""
    out: list[AlertEvent] = []
    for r in readings:
        out += eng.process(r)
        if tick:
            out += eng.tick(r.ts)
    return out


def digest(events: Iterable[AlertEvent]) -> list[tuple[float, str, str, str]]:
    """(seconds after T0, subject, state, severity) of each transition."""
    return [(secs(e.ts), e.subject, e.state, e.severity) for e in events]


def series(
    kind: str, sensor: str, field: str, points: Iterable[tuple[float, float]]
) -> list[Reading]:
    """Readings of one field at (t, value) points."""
    return [reading(kind, sensor, t, **{field: v}) for t, v in points]
