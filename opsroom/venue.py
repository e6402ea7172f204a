"""The venue file: zones, gates, generators, catering units, shuttles and routes of one event.

Each entity's `id` is also the sensor id its device publishes under, e.g. zone `main-arena`
publishes on `opsroom/<event>/crowd/main-arena`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from opsroom.configfile import FieldError, Strict, load_model

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]
LatLon = tuple[Lat, Lon]


class EventInfo(Strict):
    """The event itself."""

    name: str = Field(min_length=1)
    timezone: str = "UTC"


class Zone(Strict):
    """An area with a people counter: licensed capacity and usable area."""

    id: Id
    name: str = ""
    area_m2: float = Field(gt=0, description="usable standing area in m²")
    capacity: int = Field(gt=0, description="licensed capacity, persons")
    location: LatLon | None = None
    polygon: list[LatLon] | None = Field(None, min_length=3)


class Gate(Strict):
    """An entry/exit gate with an in/out counter."""

    id: Id
    name: str = ""
    width_m: float = Field(gt=0, le=200)
    zone: Id | None = Field(None, description="the zone this gate leads into")
    location: LatLon | None = None


class Generator(Strict):
    """A generator (or distribution board) with a power meter."""

    id: Id
    name: str = ""
    rated_kva: float = Field(gt=0)
    nominal_v: float = Field(230.0, gt=0)
    nominal_hz: Literal[50, 60] = 50
    power_factor: float = Field(0.8, gt=0, le=1)
    location: LatLon | None = None


class CateringUnit(Strict):
    """A fridge, freezer or hot-holding unit with a temperature probe."""

    id: Id
    name: str = ""
    type: Literal["fridge", "freezer", "hot_holding"]
    vendor: str = ""
    location: LatLon | None = None


class Stop(Strict):
    """A shuttle stop."""

    id: Id
    name: str = ""
    lat: Lat
    lon: Lon


class Route(Strict):
    """A shuttle route: stops in order, the corridor buses keep to, and the speed limit."""

    id: Id
    name: str = ""
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
    route: Id
    seats: int = Field(50, gt=0, le=500)


class Venue(Strict):
    """One event's venue file."""

    event: EventInfo
    zones: list[Zone] = Field(default_factory=list)
    gates: list[Gate] = Field(default_factory=list)
    generators: list[Generator] = Field(default_factory=list)
    catering: list[CateringUnit] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    shuttles: list[Shuttle] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Venue:
        seen: dict[str, str] = {}
        for section in ("zones", "gates", "generators", "catering", "routes", "shuttles"):
            for i, item in enumerate(getattr(self, section)):
                where = f"{section}[{i}]"
                if item.id in seen:
                    raise FieldError(
                        (section, i, "id"), f"id {item.id!r} is already used by {seen[item.id]}"
                    )
                seen[item.id] = where
        zones = {z.id for z in self.zones}
        for i, gate in enumerate(self.gates):
            if gate.zone is not None and gate.zone not in zones:
                raise FieldError(("gates", i, "zone"), f"{gate.zone!r} is not a zone of this venue")
        routes = {r.id for r in self.routes}
        for i, bus in enumerate(self.shuttles):
            if bus.route not in routes:
                raise FieldError(
                    ("shuttles", i, "route"), f"{bus.route!r} is not a route of this venue"
                )
        return self

    def sensors(self) -> dict[tuple[str, str], str]:
        """Every (kind, sensor_id) the venue expects, mapped to its section name."""
        out: dict[tuple[str, str], str] = {}
        for z in self.zones:
            out[("crowd", z.id)] = "zone"
        for g in self.gates:
            out[("crowd", g.id)] = "gate"
        for p in self.generators:
            out[("power", p.id)] = "generator"
        for c in self.catering:
            out[("coldchain", c.id)] = c.type
        for s in self.shuttles:
            out[("shuttle", s.id)] = "shuttle"
        return out

    def route_of(self, shuttle_id: str) -> Route | None:
        """The route a shuttle is assigned to."""
        routes = {r.id: r for r in self.routes}
        for s in self.shuttles:
            if s.id == shuttle_id:
                return routes.get(s.route)
        return None


def load_venue(path: str | Path) -> Venue:
    """Load and validate a venue file; ConfigError names the file, line and field."""
    return load_model(Venue, path)
