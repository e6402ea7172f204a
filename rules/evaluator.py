"""The per-(rule, subject) evaluator every rule kind builds, and the latch most of them share.

An evaluator keeps the state of one rule for one subject and, after each reading, says what
that rule wants for the subject's alert: nothing, pending (with the severity it will fire
at), or firing (with its severity), and since when. The lifecycle stage (rules/lifecycle.py)
turns changes of that wish into alert transitions. Evaluators are plain slotted objects: the
engine runs several of them for every reading.

Each rule kind's settings are a model of the rules file (opsroom/rulesfile/kinds.py); its
evaluator registers here with `@evaluates(TheRule)`, and the engine builds evaluators with
`bind`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from opsroom.families.base import Memory
from opsroom.i18n import _
from opsroom.rulesfile.spec import RuleBase, format_seconds
from opsroom.rulesfile.subjects import Subject
from opsroom.telemetry import Value

NONE, PENDING, FIRING = 0, 1, 2
# Timestamps are float epoch seconds: 15 min between two readings may come out as 899.9999999.
# Durations are compared with this allowance: one microsecond, the resolution of a timestamp.
EPS = 1e-6


class Evaluator:
    """Base of every rule kind's evaluator; subclasses implement `step` and `describe`."""

    __slots__ = (
        "about",
        "alert",
        "inhibitors",
        "kind",
        "last_id",
        "memory",
        "rule_id",
        "sev",
        "shown_sev",
        "shown_status",
        "since",
        "status",
        "subject_id",
        "value",
    )

    # no_data evaluators watch the clock instead of readings (see Watchdog)
    watchdog = False

    def __init__(self, rule_id: str, subject_id: str, kind: str) -> None:
        self.rule_id = rule_id
        self.subject_id = subject_id
        self.kind = kind
        self.status = NONE
        self.sev = -1  # index into SEVERITIES; -1 while status is NONE
        self.since = 0.0  # event time (epoch seconds) the condition began
        self.value: float | None = None
        self.alert: Any = None  # the lifecycle's Alert, while one is active
        self.last_id: str | None = None  # id of this rule's latest alert on this subject
        # the wish last applied to the alert: the engine settles only when it changes
        self.shown_status = NONE
        self.shown_sev = -1
        # evaluators of the same subject whose open alert holds this one's new alerts back
        self.inhibitors: tuple[Evaluator, ...] = ()
        # a fed subject in words ("Main Stage roof (stage), from station wx-arena"), so its
        # alert's message names it and the sensor whose readings it was judged on
        self.about = ""
        # the watched value's memory (a window over past readings), kept in the snapshot
        self.memory: Memory | None = None

    def step(self, values: Mapping[str, Value], ts: float, dt: float | None) -> None:
        """Take one reading (event time `ts`, `dt` seconds after the subject's previous one)."""
        raise NotImplementedError

    def describe(self) -> str:
        """A one-line message for the current status, for the alert and its notifications."""
        raise NotImplementedError

    def message(self) -> str:
        """The alert's message: `describe()`, after the subject in words if it is fed."""
        text = self.describe()
        return f"{self.about}: {text}" if self.about else text

    def dump(self) -> dict[str, Any]:
        """The evaluator's state as JSON-able data (for Engine.snapshot)."""
        out = {
            "status": self.status,
            "sev": self.sev,
            "since": self.since,
            "value": self.value,
            "last_id": self.last_id,
        }
        if self.memory is not None:
            out["memory"] = self.memory.dump()
        return out

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore state written by `dump`; KeyError, ValueError or TypeError if it does not fit."""
        status, sev = int(state["status"]), int(state["sev"])
        if status not in (NONE, PENDING, FIRING) or not -1 <= sev <= 2:
            raise ValueError(f"bad status/severity {status}/{sev}")
        value, last_id = state.get("value"), state.get("last_id")
        self.status, self.sev, self.since = status, sev, float(state["since"])
        self.value = None if value is None else float(value)
        self.last_id = None if last_id is None else str(last_id)
        if self.memory is not None and "memory" in state:
            self.memory.load(state["memory"])


def watched_memory(fn: Any) -> Memory | None:
    """The value function's memory, when it keeps one (see opsroom.families.base.Memory)."""
    return fn if isinstance(fn, Memory) else None


class Watchdog(Evaluator):
    """An evaluator driven by the event clock and device status rather than by readings.

    The engine calls `silent` when no reading came for `timeout` seconds, `went_offline` when
    the device's status turned offline (if `offline`), and `step` when data returns.
    """

    __slots__ = ("offline", "severity", "timeout")
    watchdog = True

    def __init__(
        self,
        rule_id: str,
        subject_id: str,
        kind: str,
        timeout: float,
        offline: bool,
        severity: int,
    ) -> None:
        super().__init__(rule_id, subject_id, kind)
        self.timeout = timeout
        self.offline = offline
        self.severity = severity

    def step(self, values: Mapping[str, Value], ts: float, dt: float | None) -> None:
        """Data returned: whatever silence there was is over; `value` is how long it lasted."""
        if self.status != NONE:
            self.value = max(0.0, ts - self.since)
        self.status, self.sev = NONE, -1

    def silent(self, since: float, never: bool = False) -> None:
        """No reading since `since` for the timeout (`never`: the subject has not reported)."""
        self.status, self.sev, self.since, self.value = FIRING, self.severity, since, self.timeout

    def went_offline(self, ts: float) -> None:
        """The device's status turned offline at `ts`."""
        self.status, self.sev, self.since, self.value = FIRING, self.severity, ts, 0.0


# A pending hold bridges a gap in the data of at most this many report intervals, unless the
# rule sets `max_gap`: the silent-device rule's default, so a hold restarts where a silence
# would have been raised.
GAP_INTERVALS = 3


def max_gap(rule: Any, subject: Subject) -> float:
    """The longest gap between readings a pending hold of `rule` bridges for `subject`."""
    gap = getattr(rule, "max_gap", None)
    return float(gap) if gap is not None else GAP_INTERVALS * subject.report_interval_s


class Latch:
    """A condition with a hold time and a clear level (hysteresis), on event time.

    `update(beyond, cleared, ts)`: `beyond` is the trigger (e.g. value above the threshold),
    `cleared` the release (value at or below the clear level); a reading between the two is
    in the dead band.

    - The latch is *on* (an alert exists: pending or firing) from the first reading beyond
      until a reading that clears. The dead band does not end it, so noise around the
      threshold cannot make an alert come and go.
    - It *fires* once readings have been beyond the threshold without a break for `hold`
      seconds (Prometheus' `for`, Traccar's minimal duration). A reading in the dead band
      restarts that count: a value hovering at the threshold, or a GPS fix jittering across
      the edge of a corridor, stays pending and does not fire on the strength of a few
      readings beyond it.
    - A gap in the data longer than `max_gap` is a break too: nobody saw the value then, so a
      pending hold starts again with the first reading after the gap (the latch stays on:
      silence is not recovery). Shorter gaps are bridged; the time in them beyond one report
      `interval` is counted in `unseen`, so the alert can say how much of its hold nobody saw.
    - Once fired it stays fired until a reading clears, however long the data stops.
    """

    __slots__ = ("fired", "hold", "interval", "last", "max_gap", "run", "since", "unseen")

    def __init__(self, hold: float, max_gap: float = math.inf, interval: float = 0.0) -> None:
        self.hold = hold
        self.max_gap = max_gap
        self.interval = interval
        self.since: float | None = None  # when it went on; None while off
        self.run: float | None = None  # start of the current unbroken run of readings beyond
        self.fired = False
        self.last: float | None = None  # the latest reading while on
        self.unseen = 0.0  # seconds of the current run without data

    def update(self, beyond: bool, cleared: bool, ts: float) -> None:
        """Feed one reading's verdict."""
        gap = 0.0 if self.last is None else ts - self.last
        if beyond:
            if self.since is None:
                self.since = ts
            if self.run is not None and not self.fired:
                if gap > self.max_gap + EPS:
                    self.run = None  # nobody saw the value in the gap: the hold starts again
                elif gap > 1.5 * self.interval:
                    self.unseen += gap - self.interval
            if self.run is None:
                self.run, self.unseen = ts, 0.0
            if not self.fired and ts - self.run >= self.hold - EPS:
                self.fired = True
            self.last = ts
        elif cleared:
            self.since = self.run = self.last = None
            self.fired = False
            self.unseen = 0.0
        else:
            self.run = None
            self.last = ts

    def dump(self) -> list[Any]:
        """[since, run, fired, last, unseen] for a snapshot."""
        return [self.since, self.run, self.fired, self.last, self.unseen]

    def load(self, state: Any) -> None:
        """Restore from `dump` (a snapshot from before gaps were tracked has three items)."""
        since, run, fired, *rest = state
        last, unseen = rest if rest else (None, 0.0)
        self.since = None if since is None else float(since)
        self.run = None if run is None or since is None else float(run)
        self.fired = bool(fired) and self.since is not None
        self.last = None if last is None or since is None else float(last)
        self.unseen = float(unseen)


def held(text: str, latch: Latch) -> str:
    """A fired alert's message: `text` for the hold, and how much of it nobody saw."""
    if not latch.hold:
        return text
    out = _("{text} for {hold}", text=text, hold=format_seconds(latch.hold))
    if latch.unseen >= latch.interval > 0:
        out += _(", {unseen} of it without data", unseen=format_seconds(latch.unseen))
    return out


Factory = Callable[[Any, Subject], "Evaluator"]
"""(a rule of the kind, overrides merged; the subject) -> that rule's evaluator for it."""
EVALUATORS: dict[str, Factory] = {}
F = TypeVar("F", bound=Factory)


def evaluates(rule: type[RuleBase]) -> Callable[[F], F]:
    """Register an evaluator class or factory for one rule kind (the class of its settings)."""

    def register(factory: F) -> F:
        if rule.KIND in EVALUATORS:
            raise ValueError(f"rule kind {rule.KIND!r} has two evaluators")
        EVALUATORS[rule.KIND] = factory
        return factory

    return register


def bind(rule: RuleBase, subject: Subject) -> Evaluator:
    """The evaluator of a rule (overrides merged) for one subject."""
    evaluator = EVALUATORS[rule.KIND](rule, subject)
    evaluator.about = subject.about
    return evaluator
