"""GPS trackers on the shuttle buses, and the routes they keep to.

Derived values: over_limit_kmh = speed minus the shuttle route's speed limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import Field

from opsroom.configfile import FieldError, Strict
from opsroom.families.base import (
    Derived,
    Family,
    Id,
    Lat,
    LatLon,
    Lon,
    NameZh,
    Section,
    Subject,
    ValueFn,
    reading_field,
)
from opsroom.i18n import N_
from opsroom.telemetry.base import Count, Number, Payload, Value


class ShuttlePayload(Payload):
    """A GPS fix of one shuttle bus."""

    lat: Number = Field(ge=-90, le=90)  # the globe's range
    lon: Number = Field(ge=-180, le=180)
    speed_kmh: Number = Field(ge=0, le=250)  # no road vehicle carrying passengers goes faster
    heading_deg: Number | None = Field(None, ge=0, le=360)  # compass degrees
    passengers: Count | None = Field(None, le=500)  # more than any articulated or double-deck bus


class Stop(Strict):
    """A shuttle stop."""

    id: Id
    name: str = ""
    name_zh: NameZh = None  # the name in Chinese, shown in zh-CN when given
    lat: Lat
    lon: Lon


class Route(Strict):
    """A shuttle route: stops in order, the corridor buses keep to, and the speed limit."""

    id: Id
    name: str = ""
    name_zh: NameZh = None  # the name in Chinese, shown in zh-CN when given
    stops: list[Stop] = Field(min_length=2)
    path: list[LatLon] | None = Field(
        None, min_length=2, description="the road's shape; straight lines between stops if absent"
    )
    corridor_m: float = Field(50, gt=0, le=5_000)
    speed_limit_kmh: float = Field(30, gt=0, le=200)
    loop: bool = True

    def geometry(self) -> list[LatLon]:
        """The route's line: its path, or its stops in order (closed if it loops)."""
        if self.path:
            return list(self.path)
        line: list[LatLon] = [(s.lat, s.lon) for s in self.stops]
        return [*line, line[0]] if self.loop else line


class Shuttle(Strict):
    """A shuttle bus with a GPS tracker, assigned to a route."""

    id: Id
    name: str = ""
    name_zh: NameZh = None  # the name in Chinese, shown in zh-CN when given
    route: Id
    seats: int = Field(50, gt=0, le=500)


def route_of(venue: Any, shuttle_id: str) -> Route | None:
    """The route a shuttle is assigned to."""
    routes: dict[str, Route] = {r.id: r for r in venue.routes}
    for s in venue.shuttles:
        if s.id == shuttle_id:
            return routes.get(s.route)
    return None


def _route(bus: Any, venue: Any) -> Route | None:
    return next((r for r in venue.routes if r.id == bus.route), None)


def _check(venue: Any) -> None:
    routes = {r.id for r in venue.routes}
    for i, bus in enumerate(venue.shuttles):
        if bus.route not in routes:
            raise FieldError(
                ("shuttles", i, "route"), f"{bus.route!r} is not a route of this venue"
            )


def _over_limit(subject: Subject) -> ValueFn:
    limit = subject.route.speed_limit_kmh if subject.route is not None else None

    def value(values: Mapping[str, Value], dt: float | None) -> float | None:
        speed = values.get("speed_kmh")
        return None if speed is None or limit is None else speed - limit

    return value


FAMILY = Family(
    log_category="transport",
    kind="shuttle",
    model=ShuttlePayload,
    sample={
        "ts": "2026-07-04T18:30:00Z",
        "lat": 52.0712,
        "lon": -1.0186,
        "speed_kmh": 27.5,
        "heading_deg": 112.0,
        "passengers": 31,
    },
    description="GPS on the shuttle buses",
    report_interval=timedelta(seconds=10),
    title=N_("Shuttles"),  # translated where shown
    order=40,
    sections=(Section("routes", Route), Section("shuttles", Shuttle, "shuttle", link=_route)),
    values=(
        reading_field("speed_kmh", "km/h", {"shuttles"}),
        reading_field("passengers", "persons", {"shuttles"}),
        Derived(
            "over_limit_kmh",
            "km/h over the limit",
            frozenset({"shuttles"}),
            "speed_kmh - route speed limit",
            _over_limit,
        ),
    ),
    key_fields=("speed_kmh",),
    required_field="lat",
    check=_check,
)
