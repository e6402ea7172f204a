"""Incidents as a fold over the log: opened, updated, assigned, closed; nothing is stored twice."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opsroom.controllog.model import LogEntry


@dataclass
class Incident:
    """One incident thread: the entry that opened it and every entry since, in order."""

    opened: LogEntry
    entries: list[LogEntry] = field(default_factory=list)
    owner: str | None = None
    closed: LogEntry | None = None

    @property
    def id(self) -> str:
        """The incident's id: its opening entry's."""
        return self.opened.id

    @property
    def is_open(self) -> bool:
        """True until an incident_close entry."""
        return self.closed is None

    @property
    def time_to_close(self) -> timedelta | None:
        """Event time from opening to closing; None while open."""
        return None if self.closed is None else self.closed.event_ts - self.opened.event_ts

    def age(self, now: datetime) -> timedelta:
        """How long it has been open (to its close, or to `now`)."""
        end = self.closed.event_ts if self.closed else now
        return end - self.opened.event_ts

    @property
    def updates(self) -> int:
        """Entries after the opening one."""
        return len(self.entries) - 1


def corrected(entries: Iterable[LogEntry]) -> dict[str, LogEntry]:
    """For each corrected entry's id, its newest correction."""
    out: dict[str, LogEntry] = {}
    for entry in entries:
        if entry.kind == "correction" and entry.corrects:
            out[entry.corrects] = entry
    return out


def incidents(entries: Sequence[LogEntry]) -> list[Incident]:
    """The incidents of some entries (ordered by event time), newest opened first.

    An entry of an incident whose opening is not among `entries` (outside the window read) is
    skipped. A close ends the incident; a later entry (a late update) still joins the thread
    but does not reopen it: reopening is a new incident.
    """
    found: dict[str, Incident] = {}
    for entry in entries:
        if entry.kind == "incident_open":
            found.setdefault(entry.id, Incident(entry, [entry], entry.owner))
            continue
        incident = found.get(entry.incident_id or "")
        if incident is None:
            continue
        incident.entries.append(entry)
        if entry.kind == "assigned" and entry.owner:
            incident.owner = entry.owner
        elif entry.kind == "incident_close" and incident.closed is None:
            incident.closed = entry
    return sorted(found.values(), key=lambda i: i.opened.event_ts, reverse=True)
