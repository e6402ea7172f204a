"""An entity table's inputs: what a family's dashboard part computes its tables from.

Outside dashboard/families/ so that cache.py can import it without loading the parts (their
pages import cache.py and ui.py).
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
