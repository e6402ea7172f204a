"""What a rule can be about: the venue's entities, each with the groups a rule selects it by.

A rule's `applies_to` names groups (`zones`, `fridge`, `shuttles`, ...); every venue entity
belongs to `all`, its section's group, and for catering units its type's group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from opsroom.telemetry import FAMILIES
from opsroom.venue import CateringUnit, Gate, Generator, Route, Shuttle, Venue, Zone

Group = Literal[
    "all",
    "zones",
    "gates",
    "generators",
    "catering",
    "fridge",
    "freezer",
    "hot_holding",
    "shuttles",
]
GROUPS: tuple[Group, ...] = get_args(Group)

Entity = Zone | Gate | Generator | CateringUnit | Shuttle


@dataclass(frozen=True, slots=True)
class Subject:
    """One venue entity a rule is evaluated for; its id is also its sensor id."""

    kind: str  # sensor family
    id: str
    groups: frozenset[str]
    entity: Entity
    route: Route | None = None  # a shuttle's route

    @property
    def report_interval_s(self) -> float:
        """How often a healthy device of this family reports, in seconds."""
        return FAMILIES[self.kind].report_interval.total_seconds()

    @property
    def label(self) -> str:
        """What the entity is, in words: 'zone', 'gate', 'fridge', ..."""
        groups = self.groups - {"all", "catering"}
        if "hot_holding" in groups:
            return "hot-holding unit"
        return min(groups).removesuffix("s") if groups else self.kind


# entity type -> (sensor family, the group of its venue section)
_SECTIONS: dict[type[Entity], tuple[str, str]] = {
    Zone: ("crowd", "zones"),
    Gate: ("crowd", "gates"),
    Generator: ("power", "generators"),
    CateringUnit: ("coldchain", "catering"),
    Shuttle: ("shuttle", "shuttles"),
}


def groups_of(entity: Entity) -> frozenset[str]:
    """The groups a rule selects an entity by: all, its section's, and a catering unit's type."""
    group = _SECTIONS[type(entity)][1]
    if isinstance(entity, CateringUnit):
        return frozenset({"all", group, entity.type})
    return frozenset({"all", group})


def subject_of(entity: Entity, route: Route | None = None) -> Subject:
    """One entity as a subject (`route`: a shuttle's route)."""
    return Subject(_SECTIONS[type(entity)][0], entity.id, groups_of(entity), entity, route)


def subjects_of(venue: Venue) -> dict[str, Subject]:
    """Every entity with a sensor in the venue, by id."""
    routes = {r.id: r for r in venue.routes}
    entities: list[Entity] = [*venue.zones, *venue.gates, *venue.generators, *venue.catering]
    out = [subject_of(e) for e in entities]
    out += [subject_of(s, routes.get(s.route)) for s in venue.shuttles]
    return {s.id: s for s in out}
