"""The venue file: the event, and the sections its sensor families bring (zones, gates, ...).

The model is composed from the registered families (`opsroom.families`): each adds its
sections, in family order, and its cross-reference checks. Each entity's `id` is also the
sensor id its device publishes under, e.g. zone `main-arena` publishes on
`opsroom/<event>/crowd/main-arena`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, create_model, model_validator

from opsroom.configfile import FieldError, Strict, load_model
from opsroom.families import FAMILIES, Family, Section
from opsroom.families.base import Id, Lat, LatLon, Lon, NameZh

__all__ = ["EventInfo", "Id", "Lat", "LatLon", "Lon", "Venue", "load_venue"]


class EventInfo(Strict):
    """The event itself."""

    name: str = Field(min_length=1)
    name_zh: NameZh = None  # the event's name in Chinese, shown in zh-CN when given
    timezone: str = "UTC"


class VenueBase(Strict):
    """One event's venue file: `event`, and a list per family section (see `Venue`)."""

    event: EventInfo

    if TYPE_CHECKING:
        # the families' sections (`venue.zones`, ...): fields added by `create_model` below
        def __getattr__(self, name: str) -> Any: ...

    @model_validator(mode="after")
    def _references(self) -> VenueBase:
        seen: dict[str, str] = {}
        for _, section, items in self.sections():
            for i, item in enumerate(items):
                if item.id in seen:
                    raise FieldError(
                        (section.name, i, "id"),
                        f"id {item.id!r} is already used by {seen[item.id]}",
                    )
                seen[item.id] = f"{section.name}[{i}]"
        for family in FAMILIES.values():
            if family.check is not None:
                family.check(self)
        return self

    def sections(self) -> Iterator[tuple[Family, Section, list[Any]]]:
        """Every family section with its entities, in family order."""
        for family in FAMILIES.values():
            for section in family.sections:
                yield family, section, getattr(self, section.name)

    def sensors(self) -> dict[tuple[str, str], str]:
        """Every (kind, sensor_id) the venue expects, mapped to what the entity is."""
        out: dict[tuple[str, str], str] = {}
        for family, section, items in self.sections():
            if section.sensors:
                for item in items:
                    out[(family.kind, item.id)] = section.type_of(item)
        return out

    def entities(self, kind: str) -> list[Any]:
        """The entities with a sensor of family `kind`, in venue order."""
        return [
            item
            for family, section, items in self.sections()
            if family.kind == kind and section.sensors
            for item in items
        ]


def _compose() -> type[VenueBase]:
    fields: dict[str, Any] = {
        section.name: (list[section.entity], Field(default_factory=list))  # type: ignore[name-defined]
        for family in FAMILIES.values()
        for section in family.sections
    }
    model: type[VenueBase] = create_model(
        "Venue", __base__=VenueBase, __doc__="One event's venue file.", **fields
    )
    return model


if TYPE_CHECKING:
    Venue = VenueBase
else:
    Venue = _compose()


def load_venue(path: str | Path) -> Venue:
    """Load and validate a venue file; ConfigError names the file, line and field."""
    return load_model(Venue, path)
