"""Escalation: an alert nobody acknowledges goes to the next tier, then repeats.

A policy per severity in the notifiers file (see examples/notifiers.yaml):

    escalation:
      critical:
        tiers:
          - {after_min: 5, notify: [duty-phones]}
          - {after_min: 15, notify: [ops-manager-sms]}
        repeat_min: 10   # after the last tier, repeat it every 10 min until acked or resolved

`after_min` counts event time from the moment the alert fired (a drill escalates at drill
speed). Acknowledgement or resolution stops it; so does a fall to a severity without a
policy. A silenced alert is not escalated: while a silence holds it, its clock stands still,
and when the silence ends the alert is notified again and escalation starts over from then.

`Escalator` is pure: transitions in (`observe`), event time in (`due`), escalations out; its
state is a small dict for the rules state file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, model_validator

from opsroom.alerts import AlertEvent, Severity
from opsroom.configfile import FieldError, Strict
from opsroom.i18n import _


class Tier(Strict):
    """One step: who is told, and how long after the alert fired."""

    after_min: float = Field(gt=0, le=7 * 24 * 60, description="event minutes after firing")
    notify: list[str] = Field(min_length=1, description="notifier names from this file")


class EscalationPolicy(Strict):
    """The tiers of one severity, and how often the last one repeats."""

    tiers: list[Tier] = Field(min_length=1)
    repeat_min: float | None = Field(
        None, gt=0, le=24 * 60, description="repeat the last tier every N minutes; none: once"
    )

    @model_validator(mode="after")
    def _increasing(self) -> EscalationPolicy:
        for i in range(1, len(self.tiers)):
            if self.tiers[i].after_min <= self.tiers[i - 1].after_min:
                raise FieldError(
                    ("tiers", i, "after_min"),
                    f"{self.tiers[i].after_min:g} is not after tier {i}'s "
                    f"{self.tiers[i - 1].after_min:g}: tiers go in increasing after_min",
                )
        return self


Policies = dict[Severity, EscalationPolicy]


@dataclass(frozen=True, slots=True)
class Escalation:
    """One escalation due: tier `tier` (1-based) of the alert, at event time `at`."""

    alert: AlertEvent
    tier: int
    repeat: int  # 0 for the tier's first call, then 1, 2, ...
    at: datetime
    unacked_min: float
    notify: tuple[str, ...]

    @property
    def message(self) -> str:
        """What the people of the tier read."""
        again = _(" (repeat {n})", n=self.repeat) if self.repeat else ""
        return _(
            "escalated to tier {tier}{again}, unacknowledged for {minutes} min: {message}",
            tier=self.tier,
            again=again,
            minutes=f"{self.unacked_min:.0f}",
            message=self.alert.message or self.alert.rule,
        )

    def event(self) -> AlertEvent:
        """The alert as the tier's notifiers get it: dated and worded as the escalation."""
        return self.alert.model_copy(
            update={"ts": self.at, "message": self.message, "escalation_tier": self.tier}
        )

    def record(self) -> dict[str, Any]:
        """The escalation as published on `escalations/<alert_id>` (JSON-ready)."""
        a = self.alert
        return {
            "alert_id": a.alert_id,
            "rule": a.rule,
            "subject": a.subject,
            "kind": a.kind,
            "severity": a.severity,
            "tier": self.tier,
            "repeat": self.repeat,
            "at": self.at.isoformat(),
            "fired_at": (self.at - timedelta(minutes=self.unacked_min)).isoformat(),
            "unacked_min": round(self.unacked_min, 1),
            "notify": list(self.notify),
            "drill": a.drill,
            "message": self.message,
        }


@dataclass(slots=True)
class _Track:
    alert: AlertEvent  # its latest transition (firing)
    fired: datetime
    since: datetime  # when it fired, or when the silence that held it ended
    tier: int  # tiers reached (0: none yet)
    repeat: int
    next_due: datetime
    held: bool = False  # a silence holds it


class Escalator:
    """Which firing, unacknowledged alerts are due to escalate, on event time."""

    def __init__(self, policies: Policies, state: dict[str, Any] | None = None) -> None:
        self.policies = policies
        self._tracks: dict[str, _Track] = {}
        if state:
            self._restore(state)

    def __bool__(self) -> bool:
        return bool(self.policies)

    @property
    def tracked(self) -> dict[str, tuple[int, datetime]]:
        """alert id -> (tiers reached, next due), for the status and the tests."""
        return {k: (t.tier, t.next_due) for k, t in self._tracks.items()}

    def observe(self, event: AlertEvent) -> bool:
        """Take one transition; True if it stopped an escalation that had reached a tier."""
        policy = self.policies.get(event.severity)
        track = self._tracks.get(event.alert_id)
        if event.state != "firing" or policy is None:
            gone = self._tracks.pop(event.alert_id, None)
            return gone is not None and gone.tier > 0
        if track is None or track.alert.severity != event.severity:
            since = event.ts
            first = timedelta(minutes=policy.tiers[0].after_min)
            self._tracks[event.alert_id] = _Track(event, since, since, 0, 0, since + first)
        else:
            track.alert = event
        return False

    def due(self, now: datetime, held: Callable[[AlertEvent], bool]) -> list[Escalation]:
        """The escalations due at event time `now`; `held(alert)`: a silence holds it now."""
        out: list[Escalation] = []
        for track in self._tracks.values():
            policy = self.policies[track.alert.severity]
            if held(track.alert):
                track.held = True
                continue
            if track.held:  # the silence ended: notified again, escalation starts over
                track.held, track.since, track.tier, track.repeat = False, now, 0, 0
                track.next_due = now + timedelta(minutes=policy.tiers[0].after_min)
            while track.next_due <= now:
                out.append(self._step(track, policy, now))
                if track.tier == len(policy.tiers) and policy.repeat_min is None:
                    track.next_due = datetime.max.replace(tzinfo=now.tzinfo)
        return out

    def _step(self, track: _Track, policy: EscalationPolicy, now: datetime) -> Escalation:
        at = track.next_due
        tiers = policy.tiers
        if track.tier < len(tiers):
            track.tier += 1
            track.repeat = 0
        else:
            track.repeat += 1
        if track.tier < len(tiers):
            track.next_due = track.since + timedelta(minutes=tiers[track.tier].after_min)
        elif policy.repeat_min is not None:
            step = timedelta(minutes=policy.repeat_min)
            nxt = at + step
            if nxt <= now:  # a backlog or a long stop: one repeat for the lot, not dozens
                nxt += step * ((now - nxt) // step + 1)
            track.next_due = nxt
        return Escalation(
            track.alert,
            track.tier,
            track.repeat,
            at,
            (at - track.fired).total_seconds() / 60,
            tuple(tiers[track.tier - 1].notify),
        )

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state for the rules state file."""
        return {
            k: {
                "alert": t.alert.model_dump(mode="json"),
                "fired": t.fired.isoformat(),
                "since": t.since.isoformat(),
                "tier": t.tier,
                "repeat": t.repeat,
                "next_due": t.next_due.isoformat(),
                "held": t.held,
            }
            for k, t in self._tracks.items()
        }

    def _restore(self, state: dict[str, Any]) -> None:
        for k, t in state.items():
            alert = AlertEvent.model_validate(t["alert"])
            if alert.severity not in self.policies:
                continue  # the policy was removed since
            self._tracks[k] = _Track(
                alert,
                datetime.fromisoformat(t["fired"]),
                datetime.fromisoformat(t["since"]),
                int(t["tier"]),
                int(t["repeat"]),
                datetime.fromisoformat(t["next_due"]),
                bool(t.get("held", False)),
            )
