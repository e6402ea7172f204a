"""The registry of device-model builders, keyed by sensor kind."""

from __future__ import annotations

from collections.abc import Callable

from simulators.world import Device, World

Builder = Callable[[World], list[Device]]
BUILDERS: dict[str, Builder] = {}


def register(kind: str, build: Builder) -> Builder:
    """Add the builder of one family's devices; a kind may be registered once."""
    if kind in BUILDERS:
        raise ValueError(f"simulator for {kind!r} registered twice")
    BUILDERS[kind] = build
    return build


def build_devices(world: World) -> list[Device]:
    """Every device the venue has, family by family in registry order."""
    return [device for build in BUILDERS.values() for device in build(world)]
