"""Drill files: the scenario (doors, crowd waves, egress) and the incidents to inject.

A drill is a timeline on top of a venue. Offsets (`at`, `duration`, ...) are durations from
the drill's start: `90s`, `15m`, `1h30m`, or a number of seconds.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from opsroom.configfile import (
    ConfigError,
    FieldError,
    PathKey,
    Strict,
    parse_yaml,
    validation_problems,
)
from opsroom.venue import Id, Venue

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([hms])")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
# ingest refuses readings older than 48 h; a drill's clock starts at most `duration` ago
MAX_DURATION = timedelta(hours=47)


def parse_duration(value: object) -> object:
    """`90s`, `15m`, `1h30m` or seconds as a number -> timedelta (anything else is left as is)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        parts = _PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"not a duration: use e.g. 90s, 15m, 1h30m (got {value!r})")
        return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))
    return value


Offset = Annotated[timedelta, BeforeValidator(parse_duration), Field(ge=timedelta(0))]
Length = Annotated[timedelta, BeforeValidator(parse_duration), Field(gt=timedelta(0))]


def _time_of_day(value: object) -> object:
    if isinstance(value, datetime):
        return value.time()
    if isinstance(value, str) and "T" in value:
        return datetime.fromisoformat(value).time()
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 10:00 as the base-60 number 600: take it as HH:MM (and a
        # bigger number as HH:MM:SS)
        if value < 24 * 60:
            return time(value // 60, value % 60)
        return time(value // 3600 % 24, value // 60 % 60, value % 60)
    return value


TimeOfDay = Annotated[time, BeforeValidator(_time_of_day)]


class Wave(Strict):
    """A headline act: the crowd gathers in a zone before it, and drifts away after."""

    zone: Id
    at: Offset = Field(description="when the act starts")
    length: Length = timedelta(hours=1)
    draw: float = Field(0.85, gt=0, le=1.0, description="fraction of capacity it draws")
    build_up: Length = timedelta(minutes=45)


class Crowd(Strict):
    """When doors open, how many come, the waves before headline acts, and the egress."""

    doors: Offset = timedelta(0)
    attendance: float = Field(0.6, gt=0, le=1.0, description="fraction of total capacity")
    arrival: Length = Field(timedelta(hours=2), description="most people arrive within this")
    initial: float = Field(0.0, ge=0, le=1.0, description="fill of every zone at drill start")
    egress: Offset | None = Field(None, description="when the site starts to empty")
    egress_length: Length = timedelta(minutes=45)
    waves: list[Wave] = Field(default_factory=list)


class _Incident(Strict):
    at: Offset = Field(description="offset from the drill's start")
    target: Id = Field(description="the venue entity (= sensor id) it happens to")
    duration: Length = timedelta(minutes=30)
    note: str = ""


class FreezerFailure(_Incident):
    """A freezer's compressor stops: it warms toward the ambient temperature."""

    type: Literal["freezer_failure"]
    ambient_c: float = 22.0


class FridgeDoorOpen(_Incident):
    """A fridge (or freezer) door is left open."""

    type: Literal["fridge_door_open"]
    ambient_c: float = 24.0


class HotHoldingCooling(_Incident):
    """A hot-holding unit's heater fails: food cools toward ambient."""

    type: Literal["hot_holding_cooling"]
    ambient_c: float = 20.0


class GeneratorTrip(_Incident):
    """A generator trips: voltage, current, power and frequency fall to zero."""

    type: Literal["generator_trip"]


class VoltageSag(_Incident):
    """Voltage drops by `depth_pct` of nominal."""

    type: Literal["voltage_sag"]
    depth_pct: float = Field(20.0, gt=0, lt=90)


class Overload(_Incident):
    """The load rises to `load_pct` of the rated kVA."""

    type: Literal["overload"]
    load_pct: float = Field(100.0, gt=0, le=150)


class GateSurge(_Incident):
    """A surge at a gate: inflow at `rate_ppm` persons per metre of width per minute."""

    type: Literal["gate_surge"]
    rate_ppm: float = Field(90.0, gt=0, le=200)


class ZoneOverCapacity(_Incident):
    """A zone fills to `fill_pct` of its licensed capacity."""

    type: Literal["zone_over_capacity"]
    fill_pct: float = Field(102.0, gt=0, le=150)


class ShuttleBreakdown(_Incident):
    """A bus breaks down away from a stop and stands still."""

    type: Literal["shuttle_breakdown"]


class ShuttleOffRoute(_Incident):
    """A bus leaves its corridor by `offset_m` (a diversion or a wrong turn)."""

    type: Literal["shuttle_off_route"]
    offset_m: float = Field(300.0, gt=0, le=10_000)


class Overspeed(_Incident):
    """A bus drives at `speed_kmh` (default: its route's limit + 15), skipping stops."""

    type: Literal["overspeed"]
    speed_kmh: float | None = Field(None, gt=0, le=200)


class SensorSilent(_Incident):
    """A device stops reporting; `mode` offline also publishes its status as offline,
    disconnect drops its own MQTT connection so the broker publishes its last will."""

    type: Literal["sensor_silent"]
    mode: Literal["silent", "offline", "disconnect"] = "silent"


MalformedKind = Literal[
    "not_json", "nan", "wrong_type", "missing_field", "epoch_ms", "future_ts", "not_object"
]
MALFORMED_KINDS: tuple[MalformedKind, ...] = (
    "not_json",
    "nan",
    "wrong_type",
    "missing_field",
    "epoch_ms",
    "future_ts",
    "not_object",
)


class MalformedPayloads(_Incident):
    """A device sends broken payloads (between its good ones) that ingest must dead-letter."""

    type: Literal["malformed_payloads"]
    per_minute: float = Field(6.0, gt=0, le=600)
    kinds: list[MalformedKind] = Field(default_factory=lambda: list(MALFORMED_KINDS))


Incident = Annotated[
    FreezerFailure
    | FridgeDoorOpen
    | HotHoldingCooling
    | GeneratorTrip
    | VoltageSag
    | Overload
    | GateSurge
    | ZoneOverCapacity
    | ShuttleBreakdown
    | ShuttleOffRoute
    | Overspeed
    | SensorSilent
    | MalformedPayloads,
    Field(discriminator="type"),
]

# which venue entities each incident type may target: (section, catering types or None)
TARGETS: dict[str, tuple[str, frozenset[str] | None]] = {
    "freezer_failure": ("catering", frozenset({"freezer"})),
    "fridge_door_open": ("catering", frozenset({"fridge", "freezer"})),
    "hot_holding_cooling": ("catering", frozenset({"hot_holding"})),
    "generator_trip": ("generators", None),
    "voltage_sag": ("generators", None),
    "overload": ("generators", None),
    "gate_surge": ("gates", None),
    "zone_over_capacity": ("zones", None),
    "shuttle_breakdown": ("shuttles", None),
    "shuttle_off_route": ("shuttles", None),
    "overspeed": ("shuttles", None),
    "sensor_silent": ("*", None),
    "malformed_payloads": ("*", None),
}
INCIDENT_TYPES: tuple[str, ...] = tuple(TARGETS)


class Drill(Strict):
    """A drill file: scenario, pacing, seed and the incident timeline."""

    name: str = Field(min_length=1)
    description: str = ""
    venue: Path | None = Field(None, description="venue file, relative to the drill file")
    start: TimeOfDay = Field(
        time(10, 0), description="the scenario's local time of day at the drill's start"
    )
    duration: Length
    speed: float = Field(60.0, ge=0, le=100_000, description="simulated s per wall s; 0 = max")
    seed: int = 0
    crowd: Crowd = Field(default_factory=Crowd)
    incidents: list[Incident] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Drill:
        if self.duration > MAX_DURATION:
            raise FieldError(
                ("duration",), f"at most {MAX_DURATION} (ingest refuses readings older than 48 h)"
            )
        for i, inc in enumerate(self.incidents):
            if inc.at + inc.duration > self.duration:
                raise FieldError(
                    ("incidents", i, "duration"),
                    f"incident ends at {inc.at + inc.duration}, after the drill ({self.duration})",
                )
        for i, wave in enumerate(self.crowd.waves):
            if wave.at > self.duration:
                raise FieldError(("crowd", "waves", i, "at"), "after the end of the drill")
        venue = (info.context or {}).get("venue")
        if isinstance(venue, Venue):
            check_against_venue(self, venue)
        return self


def _entities(venue: Venue, section: str, types: frozenset[str] | None) -> set[str]:
    if section == "*":
        return {sid for _, sid in venue.sensors()}
    items: list[Any] = getattr(venue, section)
    return {x.id for x in items if types is None or x.type in types}


def check_against_venue(drill: Drill, venue: Venue) -> None:
    """Raise FieldError if an incident or wave names something the venue does not have."""
    for i, inc in enumerate(drill.incidents):
        section, types = TARGETS[inc.type]
        if inc.target not in _entities(venue, section, types):
            what = section if types is None else " or ".join(sorted(types)) + " units"
            what = "sensors" if section == "*" else what
            raise FieldError(
                ("incidents", i, "target"), f"{inc.target!r} is not one of the venue's {what}"
            )
    zones = {z.id for z in venue.zones}
    for i, wave in enumerate(drill.crowd.waves):
        if wave.zone not in zones:
            raise FieldError(("crowd", "waves", i, "zone"), f"{wave.zone!r} is not a zone")


def _drop_union_tag(problems: list[str]) -> list[str]:
    # pydantic names the union member in the path: incidents[0].freezer_failure.at
    out = []
    for problem in problems:
        text = problem
        for t in INCIDENT_TYPES:
            text = text.replace(f"].{t}.", "].")
        out.append(text)
    return out


def _with_union_tags(data: Any, lines: dict[PathKey, int]) -> dict[PathKey, int]:
    """Line numbers also under pydantic's tagged paths: incidents[0].overload.load_pct."""
    out = dict(lines)
    incidents = data.get("incidents") if isinstance(data, dict) else None
    if not isinstance(incidents, list):
        return out
    for i, item in enumerate(incidents):
        tag = item.get("type") if isinstance(item, dict) else None
        if not isinstance(tag, str):
            continue
        prefix = ("incidents", i)
        for key, line in lines.items():
            if key[:2] == prefix and len(key) > 2:
                out[(*prefix, tag, *key[2:])] = line
    return out


def load_drill(path: str | Path, venue: Venue | None = None) -> Drill:
    """Load a drill file (checked against `venue` if given); ConfigError names file/line/field."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, [f"cannot read file: {exc.strerror or exc}"]) from exc
    return load_drill_text(text, source, venue)


def load_drill_text(text: str, source: str, venue: Venue | None = None) -> Drill:
    """Validate drill YAML text; errors name `source`, the line and the field."""
    data, lines = parse_yaml(text, source)
    if data is None:
        raise ConfigError(source, ["file is empty"])
    try:
        return Drill.model_validate(data, context={"venue": venue})
    except ValidationError as exc:
        raise ConfigError(
            source, _drop_union_tag(validation_problems(exc, _with_union_tags(data, lines)))
        ) from exc


def resolve_venue_path(drill: Drill, drill_path: Path) -> Path | None:
    """The drill's venue file, relative to the drill file's folder."""
    if drill.venue is None:
        return None
    return drill.venue if drill.venue.is_absolute() else drill_path.parent / drill.venue


__all__ = [
    "INCIDENT_TYPES",
    "MALFORMED_KINDS",
    "Crowd",
    "Drill",
    "Incident",
    "Wave",
    "load_drill",
    "load_drill_text",
]
