"""A drill's scripted operator: ticks plan steps at given drill offsets, so that the response
half of a drill report can be tested without a person.

Each action is recorded as the dashboard records a person's tick: a `plan_step` control log
entry, into the store, then on MQTT (opsroom.controllog.record), dated on the drill's clock
and marked as drill. It names the run it belongs to (the newest activation of its plan, on
the drill's clock, before it); when the activation is not stored yet, the fold attaches it by
time (opsroom.planrun).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson

from opsroom.controllog import LogEntry, LogError, new_entry
from opsroom.controllog.record import record
from opsroom.settings import Settings
from opsroom.store import Store, StoreError
from simulators.engine import Message

AUTHOR = "drill-operator"


class DrillOperator:
    """Performs a drill's `operator` actions (messages of kind `operator`)."""

    def __init__(self, store: Store, settings: Settings, author: str = AUTHOR) -> None:
        self.store = store
        self.settings = settings
        self.author = author
        self.done = 0
        self.failed = 0

    def _activation(self, plan_id: str, at: datetime) -> LogEntry | None:
        found = [
            e
            for e in self.store.log_entries(end=at + timedelta(microseconds=1))
            if e.kind == "plan_activated" and e.plan_id == plan_id and e.drill
        ]
        return found[-1] if found else None

    def __call__(self, msg: Message) -> dict[str, Any]:
        """Tick the step; the record for the drill's log (never raises on bad input or a
        store that is down: the record says what went wrong)."""
        body = orjson.loads(msg.payload)
        ref, at = body["plan_step"], datetime.fromisoformat(body["ts"])
        out: dict[str, Any] = {"record": "operator", "plan": ref["plan"], "step": ref["step"],
                               "ts": body["ts"]}  # fmt: skip
        try:
            run = self._activation(ref["plan"], at)
            entry = new_entry(
                author=self.author,
                category=run.category if run else "other",
                text=f"Drill operator: plan {ref['plan']}: step {ref['step']} done",
                kind="plan_step",
                event_ts=at,
                plan_id=ref["plan"],
                step_id=ref["step"],
                activation_id=run.id if run else None,
                alert_id=run.alert_id if run else None,
                drill=True,
            )
            done = record(self.store, self.settings, [entry])
        except (LogError, StoreError) as exc:
            self.failed += 1
            return out | {"error": str(exc)}
        self.done += 1
        out |= {"entry": entry.id, "run": run.id if run else None}
        return out | ({"problem": done.problem} if done.problem else {})
