"""Owners: who an alert or an incident is assigned to, checked against the roster.

An assignment is an `assigned` log entry: with `incident_id` for an incident, with `alert_id`
alone for an alert (no incident needed). The owner is stored as the roster id of a person or
a team; without a roster (OPSROOM_ROSTER unset) it is free text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from opsroom.controllog.model import LogEntry, LogError
from opsroom.i18n import _
from opsroom.roster import Person, Roster, Team

SHOWN_IDS = 8  # roster ids named in an error


def resolve_owner(roster: Roster | None, text: str | None) -> str:
    """The owner id `text` names (a roster id, or a person's or team's name in any case).

    Without a roster the text is the owner. Raises LogError for an empty owner or one the
    roster does not have, naming a few that it has.
    """
    text = (text or "").strip()
    if not text:
        raise LogError(_("owner is empty: name a person or a team"))
    if roster is None:
        return text
    if roster.owner(text) is not None:
        return text
    folded = text.casefold()
    everyone: list[Person | Team] = [*roster.people, *roster.teams]
    for item in everyone:
        if item.name.casefold() == folded or item.id == folded:
            return item.id
    ids = [item.id for item in everyone]
    more = "…" if len(ids) > SHOWN_IDS else ""
    raise LogError(
        _(
            "unknown owner {owner!r}: not a person or a team of the roster (e.g. {ids})",
            owner=text[:60],
            ids=", ".join(ids[:SHOWN_IDS]) + more,
        )
    )


def owner_label(roster: Roster | None, owner: str | None) -> str:
    """How an owner is shown: the roster name (and the team's for a person), else the text."""
    if not owner:
        return ""
    item = roster.owner(owner) if roster is not None else None
    if item is None:
        return owner
    return item.name


def choices(roster: Roster | None) -> dict[str, str]:
    """Roster id -> label of every person, then every team (for a picker)."""
    if roster is None:
        return {}
    teams = {t.id: t.name for t in roster.teams}
    people = {p.id: f"{p.name} · {teams.get(p.team or '', p.role)}" for p in roster.people}
    return people | {t.id: _("{team} (team)", team=t.name) for t in roster.teams}


def alert_owners(entries: Iterable[LogEntry]) -> dict[str, tuple[str, datetime]]:
    """Alert id -> (owner, event time assigned): the latest assignment of the alert itself,
    or of an incident opened from it (entries in event-time order)."""
    from_alert: dict[str, str] = {}  # incident id -> the alert it was opened from
    out: dict[str, tuple[str, datetime]] = {}
    for e in entries:
        if e.kind == "incident_open" and e.alert_id:
            from_alert[e.id] = e.alert_id
            if e.owner:
                out[e.alert_id] = (e.owner, e.event_ts)
        elif e.kind == "assigned" and e.owner:
            alert = e.alert_id if not e.incident_id else from_alert.get(e.incident_id)
            if alert:
                out[alert] = (e.owner, e.event_ts)
    return out


def owners_only(found: Mapping[str, tuple[str, datetime]]) -> dict[str, str]:
    """alert id -> owner, without the times."""
    return {alert: owner for alert, (owner, _at) in found.items()}
