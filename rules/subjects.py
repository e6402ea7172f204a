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


def subjects_of(venue: Venue) -> dict[str, Subject]:
    """Every entity with a sensor in the venue, by id."""
    routes = {r.id: r for r in venue.routes}
    out: list[Subject] = []
    out += [Subject("crowd", z.id, frozenset({"all", "zones"}), z) for z in venue.zones]
    out += [Subject("crowd", g.id, frozenset({"all", "gates"}), g) for g in venue.gates]
    out += [Subject("power", g.id, frozenset({"all", "generators"}), g) for g in venue.generators]
    out += [
        Subject("coldchain", c.id, frozenset({"all", "catering", c.type}), c)
        for c in venue.catering
    ]
    out += [
        Subject("shuttle", s.id, frozenset({"all", "shuttles"}), s, routes.get(s.route))
        for s in venue.shuttles
    ]
    return {s.id: s for s in out}
