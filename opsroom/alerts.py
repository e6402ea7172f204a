"""The alert event: one transition of one alert, as published on MQTT and kept in the store."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from opsroom.i18n import N_
from opsroom.telemetry.base import Timestamp

Severity = Literal["info", "warning", "critical"]
State = Literal["pending", "firing", "acknowledged", "resolved"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
STATES: tuple[State, ...] = ("pending", "firing", "acknowledged", "resolved")
# the words people read for them, in the catalog: shown through `_(word)` where displayed
WORDS = (
    N_("info"),
    N_("warning"),
    N_("critical"),
    N_("pending"),
    N_("firing"),
    N_("acknowledged"),
    N_("resolved"),
)


class PlanBrief(BaseModel):
    """The contingency plan an alert's rule activates, as notifications and webhooks carry it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str
    first_steps: list[str] = Field(default_factory=list, description="'action (who, N min)'")


class AlertEvent(BaseModel):
    """One transition of an alert; (alert_id, state, ts) identifies it, so a rewrite is a no-op."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    alert_id: str = Field(min_length=1, max_length=200)
    rule: str
    subject: str = Field(description="the zone, unit, generator, gate or shuttle it is about")
    kind: str = Field(description="sensor family of the subject")
    severity: Severity
    state: State
    ts: Timestamp = Field(description="event time of this transition")
    started_at: Timestamp | None = Field(None, description="event time the condition began")
    value: float | None = None
    message: str = ""
    drill: bool = False
    actor: str | None = Field(None, description="who acknowledged")
    note: str | None = None
    sent_ts: Timestamp | None = Field(
        None,
        description="the time an acknowledgement's sender put on it: information only; `ts` is"
        " the rules service's event clock when it took the acknowledgement",
    )
    recorded_at: datetime | None = Field(None, description="wall clock when the service saw it")
    silenced_by: str | None = Field(
        None, description="the silence in force at `ts`: stored and shown, not notified"
    )
    escalation_tier: int | None = Field(
        None, description="set on the copy sent to an escalation tier's notifiers"
    )
    plan: PlanBrief | None = Field(None, description="the plan the alert's rule activates")

    @property
    def active(self) -> bool:
        """True unless resolved."""
        return self.state != "resolved"


class NotificationAttempt(BaseModel):
    """One attempt to deliver an alert transition to one notifier, as the rules service logs it.

    The rules service appends these as JSON lines to `Settings.notification_log`; the dashboard
    reads them from there.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    at: datetime = Field(description="wall clock of the attempt")
    notifier: str
    type: str = Field(description="webhook or apprise")
    alert_id: str
    state: State
    severity: Severity
    drill: bool = False
    attempt: int = Field(ge=1)
    ok: bool
    error: str | None = None
    retryable: bool | None = Field(None, description="for a failure: whether it is tried again")
    next_attempt_in_s: float | None = Field(None, description="back-off before the next try")
    deferred: bool = Field(
        False, description="the rules service stopped first: it tries again when it next starts"
    )
    escalation_tier: int | None = Field(None, description="an escalation to this tier")
    escalated_at: datetime | None = Field(None, description="event time of the escalation")


class Acknowledgement(BaseModel):
    """What a duty officer publishes on `opsroom/<event>/ack/<alert_id>` to acknowledge an alert.

    The rules service stamps the acknowledgement with the event's clock, which is what the store
    orders an alert's transitions by and a drill's after-action report measures
    time-to-acknowledge on. `ts`, optional, is only information (kept as the event's `sent_ts`):
    a sender's clock could otherwise date an acknowledgement after the alert's resolution (and
    keep it active) or before its firing (and fake a quick response).
    """

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    actor: str = Field(min_length=1, max_length=100)
    note: str | None = Field(None, max_length=2000)
    ts: Timestamp | None = None
