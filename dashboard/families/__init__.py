"""The families' dashboard parts, found by scanning this package (see base.py).

Every kernel family has its part here, `<kind>.py`: its page, its tables and its panel.
"""

from __future__ import annotations

from types import ModuleType

import dashboard.families as _package
from dashboard.families.base import Table
from opsroom.families import FAMILIES, parts

__all__ = ["PARTS", "TABLES", "Table"]

PARTS: dict[str, ModuleType] = {
    kind: part
    for kind, part in sorted(
        parts(_package).items(),
        key=lambda p: list(FAMILIES).index(p[0]) if p[0] in FAMILIES else len(FAMILIES),
    )
}
for _kind, _part in PARTS.items():
    if not isinstance(getattr(_part, "TABLES", None), dict):
        raise TypeError(f"dashboard/families/{_kind}.py declares no TABLES")

# every entity table by name, whichever family brings it
TABLES: dict[str, Table] = {name: t for part in PARTS.values() for name, t in part.TABLES.items()}
