"""Drill files: the scenario (doors, crowd waves, egress) and the incidents to inject.

A drill is a timeline on top of a venue. Offsets (`at`, `duration`, ...) are durations from
the drill's start: `90s`, `15m`, `1h30m`, or a number of seconds.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

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
from opsroom.plans import PlanSet
from opsroom.venue import Id, Venue
from simulators.families import INCIDENTS
from simulators.families.base import IncidentBase, Length, Offset, parse_duration

# ingest refuses readings older than 48 h; a drill's clock starts at most `duration` ago
MAX_DURATION = timedelta(hours=47)


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


class SensorSilent(IncidentBase):
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


class MalformedPayloads(IncidentBase):
    """A device sends broken payloads (between its good ones) that ingest must dead-letter."""

    type: Literal["malformed_payloads"]
    per_minute: float = Field(6.0, gt=0, le=600)
    kinds: list[MalformedKind] = Field(default_factory=lambda: list(MALFORMED_KINDS))


# every family's incident types, then the two any sensor can have
_FAMILY_INCIDENTS = tuple(t.model for t in INCIDENTS.values())
_ALL_INCIDENTS = (*_FAMILY_INCIDENTS, SensorSilent, MalformedPayloads)
if TYPE_CHECKING:
    Incident = IncidentBase
else:
    Incident = Annotated[Union[_ALL_INCIDENTS], Field(discriminator="type")]  # noqa: UP007

# which venue entities each incident type may target: (section, subtypes or None)
TARGETS: dict[str, tuple[str, frozenset[str] | None]] = {
    **{name: (t.section, t.subtypes) for name, t in INCIDENTS.items()},
    "sensor_silent": ("*", None),
    "malformed_payloads": ("*", None),
}
INCIDENT_TYPES: tuple[str, ...] = tuple(TARGETS)


class PlanStepAction(Strict):
    """The step of a plan an operator ticks."""

    plan: Id
    step: Id


class OperatorAction(Strict):
    """What a scripted operator does at a drill offset (so a drill is scored without a
    person): today, tick a step of a plan under way (`plan_step`)."""

    at: Offset
    plan_step: PlanStepAction


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
    operator: list[OperatorAction] = Field(default_factory=list)

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
        for i, action in enumerate(self.operator):
            if action.at > self.duration:
                raise FieldError(("operator", i, "at"), "after the end of the drill")
        for i, wave in enumerate(self.crowd.waves):
            if wave.at > self.duration:
                raise FieldError(("crowd", "waves", i, "at"), "after the end of the drill")
        venue = (info.context or {}).get("venue")
        if isinstance(venue, Venue):
            check_against_venue(self, venue)
        return self


def _entities(venue: Venue, name: str, types: frozenset[str] | None) -> set[str]:
    if name == "*":
        return {sid for _, sid in venue.sensors()}
    for _, section, items in venue.sections():
        if section.name == name:
            return {x.id for x in items if types is None or section.type_of(x) in types}
    return set()


def check_against_plans(drill: Drill, plans: PlanSet) -> list[str]:
    """The operator actions that name a plan or a step the plans file does not have."""
    problems = []
    for i, action in enumerate(drill.operator):
        ref = action.plan_step
        plan = plans.get(ref.plan)
        if plan is None:
            problems.append(f"operator[{i}].plan_step.plan: no plan {ref.plan!r} in the plans file")
        elif all(s.id != ref.step for s in plan.steps):
            problems.append(
                f"operator[{i}].plan_step.step: plan {ref.plan!r} has no step {ref.step!r}"
            )
    return problems


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
    "Length",
    "Offset",
    "OperatorAction",
    "Wave",
    "load_drill",
    "load_drill_text",
    "parse_duration",
]
