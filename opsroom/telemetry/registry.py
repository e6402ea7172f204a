"""The registry of sensor families, keyed by kind (the topic segment)."""

from __future__ import annotations

from opsroom.telemetry.base import Family

FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family to the registry; a kind may be registered once."""
    if family.kind in FAMILIES:
        raise ValueError(f"sensor family {family.kind!r} registered twice")
    FAMILIES[family.kind] = family
    return family
