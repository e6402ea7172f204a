"""Plans under way (应急预案 in action), folded from the control log.

Nothing about a plan's progress is kept anywhere but in the log: a `plan_activated` entry
starts a run (its plan, the alert or incident behind it, each step's due time on event time)
and a `plan_step` entry ticks one step (who, when). Entries are append-only and both stores
keep them, so the state below is the same after a restart of every service; an un-tick is a
`correction` of the tick. Given the event clock `now`, each step is

- done: ticked at or before its due time;
- late: ticked after its due time;
- overdue: not ticked, and its due time has passed;
- open: not ticked, not due yet.

A plan with `escalate: {after_min, to}` whose steps are not all ticked `after_min` after its
activation is `escalation_due`: the wall screen tells the ops room to call that role in.

    entry = activation(plan, at, author="rules", alert_id=..., key=...)  -> a plan_activated
    entry = step_entry(run, "keep-shut", author="ana", at=...)          -> a plan_step
    runs(store.log_entries(), plans, now)                               -> [PlanRun, ...]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from opsroom.clock import Clock, utcnow
from opsroom.controllog.incidents import corrected
from opsroom.controllog.model import LogEntry, LogError, Priority, new_entry, service_entry
from opsroom.plans import Plan, PlanSet

StepState = Literal["done", "late", "overdue", "open"]
FIRST_STEPS = 3  # steps a notification names


@dataclass(frozen=True)
class StepRun:
    """One step of a run: what, who, due when, and whether and when it was done."""

    step_id: str
    action: str
    who: str
    due_at: datetime
    state: StepState
    done_at: datetime | None = None
    done_by: str | None = None

    @property
    def ticked(self) -> bool:
        """True once someone ticked it (on time or late)."""
        return self.done_at is not None


@dataclass(frozen=True)
class PlanRun:
    """One activation of a plan and its steps as of the fold's clock."""

    id: str  # the plan_activated entry's id
    plan_id: str
    name: str
    activated_at: datetime
    activated_by: str
    category: str
    steps: tuple[StepRun, ...]
    alert_id: str | None = None
    incident_id: str | None = None
    drill: bool = False
    escalate_at: datetime | None = None  # the plan's `escalate`: when, if steps are still open
    escalate_to: str | None = None  # ... whom (a role)
    escalation_due: bool = False  # steps still open at escalate_at (as of the fold's clock)

    @property
    def complete(self) -> bool:
        """Every step ticked."""
        return all(s.ticked for s in self.steps)

    @property
    def overdue(self) -> list[StepRun]:
        """The steps past due and not ticked."""
        return [s for s in self.steps if s.state == "overdue"]

    @property
    def last_done_at(self) -> datetime | None:
        """When the last ticked step was ticked (None before the first)."""
        times = [s.done_at for s in self.steps if s.done_at is not None]
        return max(times) if times else None

    def count(self, state: StepState) -> int:
        """How many steps are in `state`."""
        return sum(1 for s in self.steps if s.state == state)


def _state(due_at: datetime, done_at: datetime | None, now: datetime) -> StepState:
    if done_at is not None:
        return "done" if done_at <= due_at else "late"
    return "overdue" if now > due_at else "open"


def due_times(plan: Plan, at: datetime) -> dict[str, datetime]:
    """Each step's due time for a plan activated at `at` (event time)."""
    return {s.id: at + timedelta(minutes=s.due_min) for s in plan.steps}


def activation_text(plan: Plan, alert_id: str | None = None) -> str:
    """The log text of an activation: the plan and its first steps."""
    why = f" for alert {alert_id}" if alert_id else ""
    return f"Plan activated{why}: {plan.name}. First steps: {first_steps(plan)}"


def first_steps(plan: Plan, n: int = FIRST_STEPS) -> str:
    """`1. action (who, N min); 2. ...` of the plan's first `n` steps."""
    return "; ".join(
        f"{i}. {s.action} ({s.who}, {s.due_min:g} min)" for i, s in enumerate(plan.steps[:n], 1)
    )


def activation(
    plan: Plan,
    at: datetime,
    *,
    author: str,
    category: str,
    priority: Priority = "high",
    alert_id: str | None = None,
    incident_id: str | None = None,
    drill: bool = False,
    key: str | None = None,
    clock: Clock = utcnow,
) -> LogEntry:
    """The plan_activated entry of `plan` activated at `at`. With `key` (the rules service:
    alert id and plan), its id is fixed, so writing it again after a restart adds nothing."""
    fields = {
        "plan_id": plan.id,
        "steps_due": due_times(plan, at),
        "incident_id": incident_id,
    }
    text = activation_text(plan, alert_id)
    if key is not None:
        return service_entry(
            key,
            at,
            category,
            priority,
            text,
            alert_id,
            drill,
            clock(),
            "plan_activated",
            **fields,
        )
    return new_entry(
        author=author,
        category=category,
        text=text,
        kind="plan_activated",
        priority=priority,
        event_ts=at,
        clock=clock,
        alert_id=alert_id,
        drill=drill,
        **fields,
    )


def step_entry(
    run: PlanRun, step_id: str, *, author: str, at: datetime, clock: Clock = utcnow
) -> LogEntry:
    """The plan_step entry ticking `step_id` of `run`, signed by `author`, at event time `at`.
    Raises LogError (a ValueError) when the run has no such step."""
    step = next((s for s in run.steps if s.step_id == step_id), None)
    if step is None:
        raise LogError(f"plan {run.plan_id!r} has no step {step_id!r}")
    return new_entry(
        author=author,
        category=run.category,
        text=f"Plan {run.name}: step done: {step.action}",
        kind="plan_step",
        event_ts=at,
        clock=clock,
        plan_id=run.plan_id,
        step_id=step_id,
        activation_id=run.id,
        alert_id=run.alert_id,
        incident_id=run.incident_id,
        drill=run.drill,
    )


@dataclass
class _Open:
    entry: LogEntry
    ticks: dict[str, LogEntry]


def _attach(found: dict[str, _Open], tick: LogEntry) -> _Open | None:
    """The run a tick belongs to: the one it names, else the newest run of its plan (same
    drill flag) activated at or before it."""
    if tick.activation_id is not None:
        return found.get(tick.activation_id)
    candidates = [
        r
        for r in found.values()
        if r.entry.plan_id == tick.plan_id
        and r.entry.drill == tick.drill
        and r.entry.event_ts <= tick.event_ts
    ]
    return max(candidates, key=lambda r: r.entry.event_ts, default=None)


def runs(entries: Iterable[LogEntry], plans: PlanSet | None, now: datetime) -> list[PlanRun]:
    """The plan runs of `entries` as of event time `now`, newest activation first.

    A step's action and role come from `plans` (the file may since have changed: a step the
    file no longer has keeps its id as its action); its due time always from the entry. A
    tick that a correction withdrew does not count; of two ticks of one step, the first does.
    """
    entries = list(entries)
    withdrawn = set(corrected(entries))
    found: dict[str, _Open] = {}
    for e in entries:
        if e.kind == "plan_activated" and e.id not in found and e.id not in withdrawn:
            found[e.id] = _Open(e, {})
    ticks = sorted(
        (e for e in entries if e.kind == "plan_step" and e.id not in withdrawn),
        key=lambda e: e.event_ts,
    )
    for tick in ticks:
        into = _attach(found, tick)
        if into is not None and tick.step_id is not None:
            into.ticks.setdefault(tick.step_id, tick)
    out = []
    for opened in found.values():
        e = opened.entry
        plan = plans.get(e.plan_id or "") if plans is not None else None
        known = {s.id: s for s in plan.steps} if plan is not None else {}
        steps = []
        for step_id, due_at in (e.steps_due or {}).items():
            spec = known.get(step_id)
            done = opened.ticks.get(step_id)
            done_at = done.event_ts if done else None
            steps.append(
                StepRun(
                    step_id=step_id,
                    action=spec.action if spec else step_id,
                    who=spec.who if spec else "",
                    due_at=due_at,
                    state=_state(due_at, done_at, now),
                    done_at=done_at,
                    done_by=done.author if done else None,
                )
            )
        escalate = plan.escalate if plan is not None else None
        escalate_at = e.event_ts + timedelta(minutes=escalate.after_min) if escalate else None
        run = PlanRun(
            id=e.id,
            plan_id=e.plan_id or "",
            name=plan.name if plan is not None else (e.plan_id or ""),
            activated_at=e.event_ts,
            activated_by=e.author,
            category=e.category,
            steps=tuple(steps),
            alert_id=e.alert_id,
            incident_id=e.incident_id,
            drill=e.drill,
            escalate_at=escalate_at,
            escalate_to=escalate.to if escalate else None,
        )
        if escalate_at is not None and now >= escalate_at and not run.complete:
            run = replace(run, escalation_due=True)
        out.append(run)
    return sorted(out, key=lambda r: r.activated_at, reverse=True)
