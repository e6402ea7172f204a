"""The control log: what the ops room records (incidents, actions, decisions), append-only.

model.py is the entry and its checks, incidents.py the incidents folded from the entries,
export.py the CSV / JSON lines / Markdown forms, record.py writing to the store and MQTT.
"""

from __future__ import annotations

from opsroom.controllog.incidents import Incident, corrected, incidents
from opsroom.controllog.model import (
    CATEGORIES,
    KINDS,
    MAX_TEXT,
    PRIORITIES,
    Category,
    Kind,
    LogEntry,
    LogError,
    Priority,
    alert_entry,
    new_entry,
)

__all__ = [
    "CATEGORIES",
    "KINDS",
    "MAX_TEXT",
    "PRIORITIES",
    "Category",
    "Incident",
    "Kind",
    "LogEntry",
    "LogError",
    "Priority",
    "alert_entry",
    "corrected",
    "incidents",
    "new_entry",
]
