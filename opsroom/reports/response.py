"""How the ops room responded to some alerts: when they were assigned, when the incident
opened from them was closed, how often they were escalated (drills and the event report)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from opsroom.controllog import LogEntry


@dataclass(frozen=True)
class Response:
    """The control log's side of an alert (or of the alerts of one drill incident)."""

    assigned_at: datetime | None = None  # first owner given, to an alert or its incident
    closed_at: datetime | None = None  # every linked incident closed: the last close
    incidents: int = 0  # incidents opened from the alerts
    escalations: int = 0


def response(
    entries: Iterable[LogEntry], alert_ids: Collection[str], escalations: dict[str, int]
) -> Response:
    """Fold the log (oldest first) for the alerts `alert_ids`: an `assigned` entry naming one
    of them or an incident opened from one of them, and that incident's close."""
    linked: set[str] = set()
    assigned: list[datetime] = []
    closed: dict[str, datetime] = {}
    for e in entries:
        if e.kind == "incident_open" and e.alert_id in alert_ids:
            linked.add(e.id)
            if e.owner:
                assigned.append(e.event_ts)
        elif e.kind == "assigned" and (
            (e.incident_id is None and e.alert_id in alert_ids) or e.incident_id in linked
        ):
            assigned.append(e.event_ts)
        elif e.kind == "incident_close" and e.incident_id in linked:
            closed.setdefault(e.incident_id, e.event_ts)
    return Response(
        assigned_at=min(assigned) if assigned else None,
        closed_at=max(closed.values()) if linked and len(closed) == len(linked) else None,
        incidents=len(linked),
        escalations=sum(escalations.get(a, 0) for a in alert_ids),
    )
