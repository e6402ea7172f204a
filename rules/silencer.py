"""The rules service's silences: taken from their retained MQTT messages, kept in the state
file, and asked of every transition (see opsroom.silences for the model).

A transition whose event time falls in a silence that matches it is published and stored with
`silenced_by`, but not notified. When the silence ends (by itself at `ends_at`, or expired
early) every alert it held back that is still firing is notified then, as Alertmanager does:
planned work that overran is not hidden for ever.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from opsroom.alerts import AlertEvent
from opsroom.silences import Known, Silence, SilenceError, parse

log = logging.getLogger("opsroom.rules")


class SilenceBook:
    """Silences by id, and the alerts each one held back."""

    def __init__(self, known: Known | None = None, state: dict[str, Any] | None = None) -> None:
        self.known = known or Known()
        self.silences: dict[str, Silence] = {}
        self.held: dict[str, str] = {}  # alert id -> silence id that held back a notification
        self._over: set[str] = set()  # silences whose end was handled
        self.refused = 0
        if state:
            self.silences = {
                k: Silence.model_validate(v) for k, v in state.get("silences", {}).items()
            }
            self.held = {str(k): str(v) for k, v in state.get("held", {}).items()}
            self._over = set(state.get("over", []))

    def take(self, silence_id: str, payload: bytes, now: datetime | None) -> bool:
        """A message on `silences/<id>`; True if the book changed. Bad ones are logged, never
        raised: an empty message removes the silence (it ends now)."""
        try:
            silence = parse(payload)
            if silence is not None and silence.id != silence_id:
                raise SilenceError(f"id {silence.id!r} in a message on silences/{silence_id}")
            problems = self.known.problems(silence) if silence is not None else []
            if problems:
                raise SilenceError("; ".join(problems))
        except SilenceError as exc:
            self.refused += 1
            log.warning("ignored the silence on silences/%s: %s", silence_id, exc)
            return False
        if silence is None:
            old = self.silences.get(silence_id)
            if old is None:
                return False
            if now is not None and old.until > now:
                # removed while in force: ended now (so held alerts are notified)
                self.silences[silence_id] = old.model_copy(
                    update={"expired_at": max(now, old.starts_at)}
                )
            log.info("silence %s removed", silence_id)
            return True
        if self.silences.get(silence_id) == silence:
            return False  # a retained copy seen again
        self.silences[silence_id] = silence
        self._over.discard(silence_id)
        log.info(
            "silence %s by %s: %s from %s until %s (%s)",
            silence.id,
            silence.author,
            silence.describe(),
            silence.starts_at.isoformat(),
            silence.until.isoformat(),
            silence.reason,
        )
        return True

    def match(self, alert: AlertEvent, at: datetime) -> Silence | None:
        """The silence in force at `at` that matches `alert` (the one ending last), if any."""
        found = [s for s in self.silences.values() if s.in_force(at) and s.matches(alert)]
        return max(found, key=lambda s: s.until) if found else None

    def stamp(self, event: AlertEvent) -> AlertEvent:
        """The transition with `silenced_by` set if a silence holds it at its event time."""
        silence = self.match(event, event.ts)
        if silence is None:
            if not event.active:
                self.held.pop(event.alert_id, None)
            return event
        if event.active:
            self.held[event.alert_id] = silence.id
        else:
            self.held.pop(event.alert_id, None)  # resolved in the silence: nothing to tell
        return event.model_copy(update={"silenced_by": silence.id})

    def ended(self, now: datetime) -> list[str]:
        """Ids of silences that ended by `now` and were not handled yet (handled now)."""
        out = [k for k, s in self.silences.items() if s.until <= now and k not in self._over]
        self._over.update(out)
        return out

    def release(self, silence_ids: list[str]) -> list[str]:
        """Alert ids held back by the ended `silence_ids` (the caller checks that no other
        silence holds them now)."""
        gone = set(silence_ids)
        out = [a for a, s in self.held.items() if s in gone]
        for alert_id in out:
            del self.held[alert_id]
        return out

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state for the rules state file."""
        return {
            "silences": {k: s.model_dump(mode="json") for k, s in self.silences.items()},
            "held": dict(self.held),
            "over": sorted(self._over),
        }
