"""Device models, one module per sensor family, found by scanning this package.

Every kernel family (`opsroom/families/<kind>.py`) has its part here, `<kind>.py`; see
`simulators/families/base.py` for what a part declares.
"""

from __future__ import annotations

from types import ModuleType

import simulators.families as _package
from opsroom.families import FAMILIES, parts
from simulators.families.base import Builder, IncidentType
from simulators.world import Device, World

__all__ = ["INCIDENTS", "PARTS", "SILENT_RULES", "Builder", "build_devices"]

PARTS: dict[str, ModuleType] = parts(_package)
for _kind, _part in PARTS.items():
    if _kind not in FAMILIES or not callable(getattr(_part, "build", None)):
        raise TypeError(f"simulators/families/{_kind}.py: no family {_kind!r} or no build()")

# incident type -> its declaration, family by family
INCIDENTS: dict[str, IncidentType] = {
    t.name: t for kind in FAMILIES if kind in PARTS for t in getattr(PARTS[kind], "INCIDENTS", ())
}
# family -> the example rule ids a silent device of it fires
SILENT_RULES: dict[str, tuple[str, ...]] = {
    kind: tuple(getattr(part, "SILENT_RULES", ("silent-device",))) for kind, part in PARTS.items()
}


def build_devices(world: World) -> list[Device]:
    """Every device the venue has, family by family in registry order."""
    builders: list[Builder] = [PARTS[kind].build for kind in FAMILIES if kind in PARTS]
    return [device for build in builders for device in build(world)]
