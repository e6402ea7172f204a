"""What a family's dashboard part declares: its page, its entity tables and an overview panel.

A part is `dashboard/families/<kind>.py` (the kind of `opsroom/families/<kind>.py`). It is
imported for its declarations and run by Streamlit as its family's page (`__main__`):

- `ICON`: the page's icon in the navigation (its title is the kernel family's `title`);
- `TABLES`: entity table name -> function of `TableInputs` giving that table (one row per
  entity with a `status` column); the overview's traffic light for the family joins them;
- optionally `overview_panel(table)`: more of the family on the Overview page, given
  `table(name)` for its tables;
- the page itself under `if __name__ == "__main__":`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from opsroom.alerts import AlertEvent
from opsroom.store import Store
from opsroom.venue import Venue

HourSlice = Callable[[datetime], pd.DataFrame]


@dataclass(frozen=True)
class TableInputs:
    """What an entity table is computed from (dashboard/cache.py fills it, cached)."""

    store: Store
    venue: Venue
    now: datetime
    active: Sequence[AlertEvent]
    thresholds: Any  # queries.Thresholds, or None: the shipped rules' levels
    # each entity's cumulative rules from the rules file, or None without one
    time_ranges: Callable[[], Any]
    # (kind, field, sensor ids, step) -> the cached closed-hour slices of a series
    closed: Callable[[str, str, tuple[str, ...], timedelta], HourSlice | None]


Table = Callable[[TableInputs], pd.DataFrame]
