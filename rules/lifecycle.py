"""Alert lifecycle: pending -> firing -> acknowledged -> resolved, one alert per (rule, subject).

An evaluator says what its rule wants for a subject (nothing / pending / firing, a severity,
since when); `settle` compares that with the subject's alert and returns the transition, if
any. The alert's state is derived from what happened to it, not kept as a flag:

- pending       it has not fired yet (`fired_at` is None);
- acknowledged  it was acknowledged at a severity at least its current one;
- firing        otherwise.

Choices:
- Pending is published: the ops room sees a fridge warming before its 15-minute hold is up. A
  pending alert whose condition clears before the hold gets a `resolved` transition (its
  retained message must be cleared too); its message starts with "cleared before firing", so
  a notifier can skip it. Acknowledging a pending alert is refused: it has alerted nobody yet.
- Once fired, an alert stays firing until its rule wants nothing (all levels cleared): it does
  not go back to pending.
- Escalation (a higher level fires) raises the severity and, if the alert was acknowledged at
  a lower severity, returns it to firing: the new severity needs its own acknowledgement
  (the firing event carries no actor; the earlier acknowledgement stays in the history).
  De-escalation lowers the severity and keeps an acknowledgement. Both are transitions.
- An alert's transitions are stamped in order: one whose event time is earlier than the
  alert's previous transition (a late reading after an acknowledgement stamped by the run-on
  event clock, or after a silence found by a tick) takes the previous one's time, so that
  whatever sorts an alert's history by ts ends on its latest state.
- Alert ids are "<rule>.<subject>.<epoch seconds the condition began>": stable across
  restarts, unique per occurrence (a second occurrence starting in the same second gets a
  "-2" suffix), and safe as an MQTT topic segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opsroom.alerts import SEVERITIES, AlertEvent, State
from opsroom.i18n import LOCALES, N_, _, translator
from rules.evaluator import FIRING, NONE, Evaluator

CLEARED_BEFORE_FIRING = N_("cleared before firing")


def cleared_before_firing(message: str) -> bool:
    """True for the message of a pending alert that resolved without firing (any language)."""
    return any(message.startswith(translator(name)(CLEARED_BEFORE_FIRING)) for name in LOCALES)


def epoch_to_dt(ts: float) -> datetime:
    """Aware UTC datetime of epoch seconds."""
    return datetime.fromtimestamp(ts, UTC)


def make_alert_id(rule: str, subject: str, started_at: float, previous: str | None) -> str:
    """'<rule>.<subject>.<epoch seconds>', with a suffix if the previous occurrence had it."""
    base = f"{rule}.{subject}.{int(started_at // 1)}"
    if previous is None or not previous.startswith(base):
        return base
    tail = previous[len(base) :]
    n = int(tail[1:]) + 1 if tail.startswith("-") and tail[1:].isdigit() else 2
    return f"{base}-{n}"


@dataclass(slots=True)
class Alert:
    """One occurrence of one rule's condition on one subject, while it is not resolved."""

    alert_id: str
    rule: str
    subject: str
    kind: str
    started_at: float
    severity: int
    drill: bool
    fired_at: float | None = None
    acked_severity: int = -1
    actor: str | None = None
    note: str | None = None
    value: float | None = None
    message: str = ""
    last: AlertEvent | None = None

    @property
    def state(self) -> State:
        """pending, acknowledged or firing, derived from what happened to the alert."""
        if self.fired_at is None:
            return "pending"
        if self.acked_severity >= self.severity:
            return "acknowledged"
        return "firing"

    def event(self, state: State, ts: datetime) -> AlertEvent:
        """The transition to `state` at event time `ts` (never before the alert's previous
        transition); kept as the alert's latest event."""
        if self.last is not None and ts < self.last.ts:
            ts = self.last.ts
        self.last = AlertEvent(
            alert_id=self.alert_id,
            rule=self.rule,
            subject=self.subject,
            kind=self.kind,
            severity=SEVERITIES[self.severity],
            state=state,
            ts=ts,
            started_at=epoch_to_dt(self.started_at),
            value=self.value,
            message=self.message,
            drill=self.drill,
            actor=self.actor,
            note=self.note,
        )
        return self.last

    def dump(self) -> dict[str, Any]:
        """JSON-able state for a snapshot."""
        return {
            "alert_id": self.alert_id,
            "rule": self.rule,
            "subject": self.subject,
            "kind": self.kind,
            "started_at": self.started_at,
            "severity": self.severity,
            "drill": self.drill,
            "fired_at": self.fired_at,
            "acked_severity": self.acked_severity,
            "actor": self.actor,
            "note": self.note,
            "value": self.value,
            "message": self.message,
            "last": None if self.last is None else self.last.model_dump(mode="json"),
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Alert:
        """Rebuild from `dump`."""
        last = data.get("last")
        return cls(
            alert_id=str(data["alert_id"]),
            rule=str(data["rule"]),
            subject=str(data["subject"]),
            kind=str(data["kind"]),
            started_at=float(data["started_at"]),
            severity=int(data["severity"]),
            drill=bool(data["drill"]),
            fired_at=None if data.get("fired_at") is None else float(data["fired_at"]),
            acked_severity=int(data.get("acked_severity", -1)),
            actor=data.get("actor"),
            note=data.get("note"),
            value=data.get("value"),
            message=str(data.get("message", "")),
            last=None if last is None else AlertEvent.model_validate(last),
        )


def settle(
    ev: Evaluator, alert: Alert | None, ts: float, at: datetime, drill: bool, last_id: str | None
) -> tuple[Alert | None, AlertEvent | None]:
    """Apply an evaluator's wish to its alert: (the alert afterwards, the transition or None)."""
    status = ev.status
    if status == NONE:
        if alert is None:
            return None, None
        alert.drill, alert.value, alert.message = drill, ev.value, ev.message()
        if alert.fired_at is None:
            alert.message = f"{_(CLEARED_BEFORE_FIRING)}: {alert.message}"
        return None, alert.event("resolved", at)
    if alert is None:
        alert = Alert(
            alert_id=make_alert_id(ev.rule_id, ev.subject_id, ev.since, last_id),
            rule=ev.rule_id,
            subject=ev.subject_id,
            kind=ev.kind,
            started_at=ev.since,
            severity=ev.sev,
            drill=drill,
            fired_at=ts if status == FIRING else None,
            value=ev.value,
            message=ev.message(),
        )
        return alert, alert.event(alert.state, at)
    before = (alert.state, alert.severity)
    if status == FIRING and alert.fired_at is None:
        alert.fired_at = ts
    alert.severity = ev.sev
    state = alert.state
    if (state, alert.severity) == before:
        return alert, None
    if before[0] == "acknowledged" and state == "firing":
        alert.actor = alert.note = None  # that acknowledgement was for a lower severity
    alert.value, alert.message, alert.drill = ev.value, ev.message(), drill
    return alert, alert.event(state, at)


def acknowledge(alert: Alert, actor: str, note: str | None, at: datetime) -> AlertEvent | None:
    """Acknowledge a firing alert at its current severity; None if pending or already acked."""
    if alert.state != "firing":
        return None
    alert.acked_severity = alert.severity
    alert.actor, alert.note = actor, note
    return alert.event("acknowledged", at)
