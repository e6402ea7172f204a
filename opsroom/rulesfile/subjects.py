"""What a rule can be about: the venue's entities, each with the groups a rule selects it by.

A rule's `applies_to` names groups (`zones`, `fridge`, `shuttles`, ...); every venue entity
belongs to `all`, its section's group, and the group of its subtype when its section has one
(a catering unit's type). The groups come from the registered families' sections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from opsroom.families import FAMILIES, Section, Subject
from opsroom.venue import Venue

__all__ = [
    "ENTITY_WORDS",
    "GROUPS",
    "Entity",
    "Group",
    "Subject",
    "groups_of",
    "subject_of",
    "subjects_of",
]

GROUPS: tuple[str, ...] = ("all", *(g for f in FAMILIES.values() for g in f.groups))

if TYPE_CHECKING:
    Group = str
else:
    # a Literal, so that a mistyped group's error lists the groups there are
    Group = Literal[GROUPS]

_WORDS = [s.singular for f in FAMILIES.values() for s in f.sections if s.subjects]
# "zone, gate, ... or shuttle": what an entity a rule is about can be, in words
ENTITY_WORDS = ", ".join(_WORDS[:-1]) + " or " + _WORDS[-1] if len(_WORDS) > 1 else "".join(_WORDS)

Entity = Any  # an entity of one of the families' sections (Zone, Gate, ...)

# entity type -> (sensor family, its section)
_SECTIONS: dict[type, tuple[str, Section]] = {
    section.entity: (family.kind, section)
    for family in FAMILIES.values()
    for section in family.sections
}


def groups_of(entity: Entity) -> frozenset[str]:
    """The groups a rule selects an entity by: all, its section's, and its subtype's."""
    return _SECTIONS[type(entity)][1].groups_of(entity)


def subject_of(entity: Entity, route: Any = None, source: Entity = None) -> Subject:
    """One entity as a subject (`route`: the line it keeps to, if any; `source`: the entity
    whose sensor feeds it, for a subject without a sensor of its own)."""
    kind, section = _SECTIONS[type(entity)]
    label = section.describe(entity)
    about = ""
    if source is not None:
        name = getattr(entity, "name", "") or entity.id
        about = f"{name} ({label}), from {_SECTIONS[type(source)][1].singular} {source.id}"
    return Subject(
        kind,
        entity.id,
        section.groups_of(entity),
        entity,
        route,
        label,
        FAMILIES[kind].report_interval.total_seconds(),
        source.id if source is not None else "",
        about,
    )


def subjects_of(venue: Venue) -> dict[str, Subject]:
    """Every entity a rule can be about, by id: those with a sensor, and those fed by one."""
    by_id = {item.id: item for _, section, items in venue.sections() for item in items}
    out = []
    for _, section, items in venue.sections():
        if not section.subjects:
            continue
        for item in items:
            if section.feed is None:
                out.append(subject_of(item, section.link(item, venue)))
            elif (source := by_id.get(section.feed(item, venue) or "")) is not None:
                out.append(subject_of(item, section.link(item, venue), source))
    return {s.id: s for s in out}
