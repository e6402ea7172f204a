"""What a report is made of, read once: the log, the alerts, notifications, silences, roster.

`gather` reads the store (every log entry and alert transition up to the report's end, so an
incident opened last night and still open is in this morning's handover), the rules
service's notification log, and the silences on the broker (retained messages; when the
broker cannot be reached the report says so instead of failing).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from opsroom.alerts import AlertEvent, NotificationAttempt
from opsroom.configfile import ConfigError
from opsroom.controllog import LogEntry
from opsroom.i18n import _
from opsroom.redact import redact
from opsroom.roster import Roster, load_roster
from opsroom.settings import Settings
from opsroom.silences import Silence, fetch
from opsroom.store import Store

log = logging.getLogger("opsroom.reports")
ESCALATED = "escalated to tier "  # how the rules service words an escalation's log entry


@dataclass(frozen=True)
class Sources:
    """Everything a handover or an event-day report shows, for the window [start, end)."""

    start: datetime
    end: datetime
    event: str
    entries: tuple[LogEntry, ...]  # every entry before `end`, oldest first
    events: tuple[AlertEvent, ...]  # every alert transition before `end`, oldest first
    attempts: tuple[NotificationAttempt, ...] = ()
    silences: tuple[Silence, ...] = ()
    problems: tuple[str, ...] = ()  # what could not be read (said in the report)
    roster: Roster | None = None
    silent_rules: frozenset[str] = frozenset()

    def within(self, ts: datetime | None) -> bool:
        """True if `ts` falls in the window."""
        return ts is not None and self.start <= ts < self.end


def read_attempts(path: Path) -> tuple[list[NotificationAttempt], str | None]:
    """The notification log's attempts (a missing file is none); unreadable lines skipped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], None
    except OSError as exc:
        return [], redact(
            _("cannot read the notification log {path}: {error}", path=path, error=exc)
        )
    out = []
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            attempt = NotificationAttempt.model_validate_json(line)
        except ValidationError:
            continue
        if attempt.error:
            attempt = attempt.model_copy(update={"error": redact(attempt.error)})
        out.append(attempt)
    return out, None


def silent_rules(settings: Settings) -> frozenset[str]:
    """The ids of the rules file's no_data (silent device) rules; without a rules file, the
    default ones' ids."""
    default = frozenset({"silent-device", "silent-gps"})
    if settings.rules is None:
        return default
    from opsroom.rulesfile.model import load_rules
    from opsroom.venue import load_venue

    venue = load_venue(settings.venue) if settings.venue is not None else None
    found = load_rules(settings.rules, venue)
    return frozenset(r.id for r in found.rules if getattr(r, "kind", "") == "no_data") or default


def gather(
    store: Store,
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    broker: bool = True,
    timeout: float = 5.0,
) -> Sources:
    """Read what the report for [start, end) needs; what cannot be read is in `problems`."""
    problems: list[str] = []
    attempts, error = read_attempts(settings.notification_log)
    if error:
        problems.append(error)
    found: Sequence[Silence] = ()
    if broker:
        try:
            found, _bad = fetch(settings, timeout)
        except (ConnectionError, OSError) as exc:
            problems.append(redact(_("silences not read from the broker: {error}", error=exc)))
    roster = None
    try:
        roster = load_roster(settings.roster) if settings.roster is not None else None
        silent = silent_rules(settings)
    except ConfigError as exc:
        problems.append(redact(str(exc)))
        silent = frozenset({"silent-device", "silent-gps"})
    return Sources(
        start=start,
        end=end,
        event=settings.event,
        entries=tuple(store.log_entries(end=end)),
        events=tuple(store.alert_events(end=end)),
        attempts=tuple(a for a in attempts if a.at < end),
        silences=tuple(found),
        problems=tuple(problems),
        roster=roster,
        silent_rules=silent,
    )


def escalations(
    entries: Iterable[LogEntry], attempts: Iterable[NotificationAttempt] = ()
) -> dict[str, int]:
    """Alert id -> how many times it was escalated: the rules service's log entries, or (for
    a log without them) the notification log's distinct escalations, whichever counts more."""
    logged: dict[str, int] = {}
    for e in entries:
        if e.alert_id and e.author == "rules" and e.text.startswith(ESCALATED):
            logged[e.alert_id] = logged.get(e.alert_id, 0) + 1
    notified: dict[str, set[tuple[int, datetime | None]]] = {}
    for a in attempts:
        if a.escalation_tier is not None:
            notified.setdefault(a.alert_id, set()).add((a.escalation_tier, a.escalated_at))
    for alert_id, seen in notified.items():
        logged[alert_id] = max(logged.get(alert_id, 0), len(seen))
    return logged
