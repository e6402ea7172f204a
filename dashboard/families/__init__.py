"""The families' dashboard parts, found by scanning this package.

Every kernel family has its part here, `<kind>.py`, imported for its declarations and run by
Streamlit as its family's page (`__main__`):

- `ICON`: the page's icon in the navigation (its title is the kernel family's `title`);
- `TABLES`: entity table name -> function of `dashboard.tables.TableInputs` giving that
  table (one row per entity with a `status` column); the Overview's traffic light for the
  family joins them;
- optionally `overview_panel(table)`: more of the family on the Overview page, given
  `table(name)` for its tables;
- optionally `map_layer(venue_map, table)`: draws the family's entities on the shared venue
  map (`dashboard.charts.VenueMap`) of the Overview, in family order;
- the page itself under `if __name__ == "__main__":`.
"""

from __future__ import annotations

from types import ModuleType

import dashboard.families as _package
from dashboard.tables import Table
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
