"""What a sensor family declares: its payload, its venue sections, its groups and values.

A family is one module in `opsroom/families/` defining `FAMILY = Family(...)`; the other
layers add their own part beside it (`simulators/families/<kind>.py`,
`dashboard/families/<kind>.py`). Nothing outside these files names a family.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from opsroom.configfile import Strict
from opsroom.telemetry.base import Payload, Value

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]
LatLon = tuple[Lat, Lon]
# a display name in Chinese (`name_zh`), shown when the reader's language is zh-CN
NameZh = Annotated[
    str | None, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)
]

ValueFn = Callable[[Mapping[str, Value], float | None], float | None]
"""(reading values, seconds since the subject's previous reading) -> the value, or None."""


@dataclass(frozen=True, slots=True)
class Subject:
    """One venue entity a rule is evaluated for; its id is also its sensor id."""

    kind: str  # sensor family
    id: str
    groups: frozenset[str]
    entity: Any
    route: Any = None  # the line a moving subject keeps to (a shuttle's route), if any
    label: str = ""  # what the entity is, in words: 'zone', 'fridge', 'hot-holding unit'
    report_interval_s: float = 60.0  # how often a healthy device of this family reports
    # the sensor whose readings this subject's rules watch, when not its own: a structure
    # watches its nearest station (see Section.feed); "" for a subject with its own sensor
    source: str = ""
    # for a subject fed by another sensor, itself and that sensor in words, for alert
    # messages: "Main Stage roof (stage), from station wx-arena"
    about: str = ""


class Memory:
    """A derived value that remembers past readings (a window), on their event time.

    A family's `Derived.make` may return one instead of a plain ValueFn. The rule evaluators
    then call `at(values, ts)` with each reading's event time (seconds), in order, and keep
    `dump()` in the engine's snapshot (the rules state file), so that `load()` after a restart
    of the rules service carries on with the same window instead of an empty one.
    """

    def at(self, values: Mapping[str, Value], ts: float) -> float | None:
        """The value after this reading, at event time `ts`."""
        raise NotImplementedError

    def __call__(self, values: Mapping[str, Value], dt: float | None) -> float | None:
        """As a plain ValueFn, without event time: the value of this reading alone."""
        raise NotImplementedError

    def dump(self) -> Any:
        """The memory as JSON-able data."""
        raise NotImplementedError

    def load(self, data: Any) -> None:
        """Restore `dump()`; ValueError or TypeError if it does not fit."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Derived:
    """A value rules can watch: its unit, the groups it exists for, and its factory."""

    name: str
    unit: str
    groups: frozenset[str]
    description: str
    make: Callable[[Subject], ValueFn]


def reading_field(name: str, unit: str, groups: set[str]) -> Derived:
    """A value read straight from the reading's field `name`."""

    def make(subject: Subject) -> ValueFn:
        def value(values: Mapping[str, Value], dt: float | None) -> float | None:
            v = values.get(name)
            return None if v is None else float(v)

        return value

    return Derived(name, unit, frozenset(groups), f"the reading's {name} field", make)


def _no_link(entity: Any, venue: Any) -> Any:
    return None


@dataclass(frozen=True)
class Section:
    """A list in the venue file that a family brings, e.g. `zones:` of Zone entities.

    `singular` names one entity ('zone'); a section without it has no sensors (routes).
    Its entities are selected by rules through the group named like the section, plus the
    group `subtype(entity)` returns (one of `subtypes`: a catering unit's type).

    With `feed`, the entities carry no sensor of their own but are rule subjects all the same,
    fed by another entity's readings: `feed(entity, venue)` gives the id of the sensor (of the
    same family) whose readings its rules watch, e.g. a structure watches its nearest weather
    station, so its wind alert names the structure. The rules engine routes each reading to
    its own subject and to every subject it feeds.
    """

    name: str
    entity: type[Strict]
    singular: str = ""
    subtype: Callable[[Any], str] | None = None
    subtypes: tuple[str, ...] = ()
    label: Callable[[Any], str] | None = None  # an entity in words, when not its subtype
    link: Callable[[Any, Any], Any] = _no_link  # (entity, venue) -> its route, if any
    feed: Callable[[Any, Any], str | None] | None = None  # (entity, venue) -> its source sensor

    @property
    def sensors(self) -> bool:
        """True if every entity of this section carries a sensor."""
        return bool(self.singular) and self.feed is None

    @property
    def subjects(self) -> bool:
        """True if rules apply to this section's entities (with a sensor, or fed by one)."""
        return bool(self.singular)

    def type_of(self, entity: Any) -> str:
        """What the entity is, as `Venue.sensors()` reports it: its subtype or `singular`."""
        return self.subtype(entity) if self.subtype is not None else self.singular

    def groups_of(self, entity: Any) -> frozenset[str]:
        """The groups a rule selects this entity by."""
        if self.subtype is None:
            return frozenset({"all", self.name})
        return frozenset({"all", self.name, self.subtype(entity)})

    def describe(self, entity: Any) -> str:
        """The entity in words, for alert messages."""
        return self.label(entity) if self.label is not None else self.type_of(entity)


@dataclass(frozen=True)
class Family:
    """A sensor family: its kind (topic segment), payload model, sample and venue sections."""

    kind: str
    model: type[Payload]
    sample: dict[str, Any]
    description: str
    # report interval a healthy device keeps, used by the silent-device default
    report_interval: timedelta = timedelta(seconds=60)
    title: str = ""  # its name on the dashboard ("Cold chain")
    order: int = 100  # where it comes in the venue file, the groups and the pages
    sections: tuple[Section, ...] = ()
    # the values rules can watch: reading fields with units and values derived from the venue
    values: tuple[Derived, ...] = ()
    # the field a simulator must send in every reading (and an incident may override)
    required_field: str = ""
    # the fields that show what a reading says (charted around an alert)
    key_fields: tuple[str, ...] = ()
    # cross-references between the family's sections; raises FieldError (venue -> None)
    check: Callable[[Any], None] | None = None
    # the control log category its alerts' entries go under (opsroom.controllog.CATEGORIES)
    log_category: str = "other"

    @property
    def groups(self) -> tuple[str, ...]:
        """The groups rules can apply to that this family's sections bring, in order."""
        out: list[str] = []
        for section in self.sections:
            if section.subjects:
                out += [section.name, *section.subtypes]
        return tuple(out)
