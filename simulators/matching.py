"""After-action matching: which injected incident raised which alert, and how fast.

Pure functions over the incident log and the alert events; no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from opsroom.alerts import SEVERITIES, AlertEvent
from opsroom.controllog import LogEntry
from opsroom.reports.response import Response, response

DEFAULT_GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class InjectedIncident:
    """One incident a drill injected, as its log recorded it."""

    id: str
    type: str
    target: str
    subjects: tuple[str, ...]
    start: datetime
    end: datetime
    expected_alert: str = ""
    expected_rules: tuple[str, ...] = ()
    alerting: bool = True

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> InjectedIncident:
        """From one `incident` record of the drill log."""
        exp = rec.get("expected") or {}
        return cls(
            id=str(rec["id"]),
            type=str(rec["type"]),
            target=str(rec["target"]),
            subjects=tuple(rec.get("subjects") or [rec["target"]]),
            start=datetime.fromisoformat(rec["start"]),
            end=datetime.fromisoformat(rec["end"]),
            expected_alert=str(exp.get("alert", "")),
            expected_rules=tuple(exp.get("rules") or ()),
            alerting=bool(exp.get("alerting", True)),
        )


@dataclass(frozen=True)
class DeadLetterCheck:
    """What became of one malformed_payloads incident's payloads, as the drill watched them."""

    sent: int
    dead_lettered: int
    first_delay_s: float | None = None
    max_delay_s: float | None = None
    reasons: tuple[tuple[str, int], ...] = ()  # most frequent first

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> DeadLetterCheck:
        """From one `deadletters` record of the drill log."""

        def seconds(key: str) -> float | None:
            value = rec.get(key)
            return None if value is None else float(value)

        reasons = rec.get("reasons") or {}
        return cls(
            sent=int(rec["sent"]),
            dead_lettered=int(rec["dead_lettered"]),
            first_delay_s=seconds("first_delay_s"),
            max_delay_s=seconds("max_delay_s"),
            reasons=tuple((str(r), int(n)) for r, n in reasons.items()),
        )

    @property
    def missing(self) -> int:
        """How many payloads sent were never dead-lettered."""
        return max(0, self.sent - self.dead_lettered)


@dataclass(frozen=True)
class AlertLife:
    """One occurrence of an alert, from its first transition to its resolution."""

    alert_id: str
    rule: str
    subject: str
    kind: str
    severity: str  # the highest it reached
    first_at: datetime
    firing_at: datetime | None
    acked_at: datetime | None
    resolved_at: datetime | None
    acked_by: str | None = None


def _life(events: Sequence[AlertEvent]) -> AlertLife:
    first = events[0]

    def at(state: str) -> datetime | None:
        return next((e.ts for e in events if e.state == state), None)

    acked = next((e for e in events if e.state == "acknowledged"), None)
    worst = max(events, key=lambda e: SEVERITIES.index(e.severity)).severity
    return AlertLife(
        alert_id=first.alert_id,
        rule=first.rule,
        subject=first.subject,
        kind=first.kind,
        severity=worst,
        first_at=first.ts,
        firing_at=at("firing"),
        acked_at=acked.ts if acked else None,
        resolved_at=at("resolved"),
        acked_by=acked.actor if acked else None,
    )


def lives(events: Iterable[AlertEvent]) -> list[AlertLife]:
    """Group alert transitions into occurrences (a new one starts after a resolution)."""
    open_: dict[str, list[AlertEvent]] = {}
    done: list[list[AlertEvent]] = []
    for e in sorted(events, key=lambda e: e.ts):
        seq = open_.setdefault(e.alert_id, [])
        seq.append(e)
        if e.state == "resolved":
            done.append(open_.pop(e.alert_id))
    done.extend(open_.values())
    return sorted((_life(seq) for seq in done), key=lambda a: (a.first_at, a.alert_id))


@dataclass(frozen=True)
class Outcome:
    """How the ops room did on one incident."""

    incident: InjectedIncident
    alerts: tuple[AlertLife, ...]
    detected: bool | None  # None: the incident is not meant to raise an alert
    time_to_alert: timedelta | None
    time_to_ack: timedelta | None
    time_to_resolve: timedelta | None
    expected_rule_fired: bool | None
    deadletters: DeadLetterCheck | None = None
    # a malformed_payloads incident: True if every payload sent was dead-lettered; None when
    # the incident is of another type, sent nothing, or the log has no record of it
    handled: bool | None = None
    # the control log's side: assigned, linked incident closed, escalations (with_responses)
    response: Response | None = None

    @property
    def time_to_assign(self) -> timedelta | None:
        """From injection to the first owner given to its alerts (or their incident)."""
        r = self.response
        return None if r is None or r.assigned_at is None else r.assigned_at - self.incident.start

    @property
    def time_to_close(self) -> timedelta | None:
        """From injection to the close of the incident opened from its alerts."""
        r = self.response
        return None if r is None or r.closed_at is None else r.closed_at - self.incident.start

    @property
    def malformed(self) -> bool:
        """Whether ingest's handling, not an alert, is what this incident tests."""
        return self.incident.type == "malformed_payloads"


@dataclass(frozen=True)
class Matching:
    """Every incident's outcome, and the alerts no incident explains."""

    outcomes: tuple[Outcome, ...]
    unmatched: tuple[AlertLife, ...]

    @property
    def detected(self) -> int:
        """How many alerting incidents raised an alert."""
        return sum(1 for o in self.outcomes if o.detected)

    @property
    def expected(self) -> int:
        """How many incidents were meant to raise an alert."""
        return sum(1 for o in self.outcomes if o.detected is not None)

    @property
    def handled(self) -> int:
        """How many malformed_payloads incidents had every payload dead-lettered."""
        return sum(1 for o in self.outcomes if o.handled)

    @property
    def malformed(self) -> int:
        """How many malformed_payloads incidents the drill injected."""
        return sum(1 for o in self.outcomes if o.malformed)


# an alert stamped by the event clock (a last will has no timestamp of its own) can be dated a
# moment before the incident that caused it: the newest reading seen before the will arrived
LEAD = timedelta(seconds=60)


def _matches(inc: InjectedIncident, alert: AlertLife, grace: timedelta) -> bool:
    return alert.subject in inc.subjects and inc.start - LEAD <= alert.first_at <= inc.end + grace


def outcome(
    inc: InjectedIncident, alerts: Sequence[AlertLife], deadletters: DeadLetterCheck | None = None
) -> Outcome:
    """Score one incident against the alerts that matched it (and its dead letters)."""
    firing = [a.firing_at for a in alerts if a.firing_at is not None]
    acked = [a.acked_at for a in alerts if a.acked_at is not None]
    resolved = [a.resolved_at for a in alerts if a.resolved_at is not None]
    # an incident not meant to alert (malformed payloads) is neither detected nor missed
    detected: bool | None = bool(firing) if inc.alerting else None
    rule_fired = (
        any(a.rule in inc.expected_rules and a.firing_at is not None for a in alerts)
        if inc.expected_rules
        else None
    )
    return Outcome(
        incident=inc,
        alerts=tuple(alerts),
        detected=detected,
        time_to_alert=min(firing) - inc.start if firing else None,
        time_to_ack=min(acked) - inc.start if acked else None,
        time_to_resolve=(
            max(resolved) - inc.start if firing and len(resolved) == len(alerts) else None
        ),
        expected_rule_fired=rule_fired,
        deadletters=deadletters,
        handled=(
            deadletters.missing == 0
            if deadletters is not None and deadletters.sent > 0 and inc.type == "malformed_payloads"
            else None
        ),
    )


def match(
    incidents: Sequence[InjectedIncident],
    events: Iterable[AlertEvent],
    *,
    grace: timedelta = DEFAULT_GRACE,
    window: tuple[datetime, datetime] | None = None,
    deadletters: Mapping[str, DeadLetterCheck] | None = None,
) -> Matching:
    """Match alerts to incidents by subject and time: first transition within the incident
    (from a minute before its start, see LEAD, to its end + grace).

    Only drill alerts that fired count. Alerts that match no incident are listed if they began
    inside `window` (the drill's span), so what follows the drill's end is not blamed on it.
    A malformed_payloads incident is scored by its `deadletters` check (by incident id).
    """
    # an alert that was only ever pending (its hold time never met) never reached anyone
    all_lives = [a for a in lives(e for e in events if e.drill) if a.firing_at is not None]
    used: set[tuple[str, datetime]] = set()
    outcomes = []
    for inc in sorted(incidents, key=lambda i: (i.start, i.id)):
        hits = [a for a in all_lives if _matches(inc, a, grace)]
        used.update((a.alert_id, a.first_at) for a in hits)
        outcomes.append(outcome(inc, hits, (deadletters or {}).get(inc.id)))
    unmatched = [
        a
        for a in all_lives
        if (a.alert_id, a.first_at) not in used
        and (window is None or window[0] <= a.first_at < window[1])
    ]
    return Matching(tuple(outcomes), tuple(unmatched))


def with_responses(
    m: Matching, entries: Sequence[LogEntry], escalations: Mapping[str, int]
) -> Matching:
    """The matching with each outcome's control-log response: entries linked by alert id to
    the incident's alerts (assignments, the incident opened from them and its close) and how
    many times those alerts were escalated."""
    outcomes = tuple(
        replace(o, response=response(entries, {a.alert_id for a in o.alerts}, dict(escalations)))
        for o in m.outcomes
    )
    return replace(m, outcomes=outcomes)
