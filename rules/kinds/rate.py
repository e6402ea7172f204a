"""rate: a value falls (or rises) by more than a set amount within a time window.

E.g. a generator's active power falling by more than 50 % within 10 s. The baseline is the
highest (for a fall) or lowest (for a rise) value among the subject's readings in the last
`within` seconds, plus `slack`, so a meter that reports every `within` seconds with a little
jitter still compares consecutive readings. A drop is an event, not a level: the alert stays
firing until the value has recovered, i.e. less than `clear_fraction` of the change remains
(0.4 after a 50 % drop from 100 kW: cleared at 80 kW), not merely until the window moves on.
A load shed on purpose never recovers: a new level that has lasted `accept_after` (30 min
unless the rule says otherwise) is taken as the normal one and the alert resolves (its message
says so). So every rate alert has an end: recovery, or the new level accepted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from opsroom.i18n import _
from opsroom.rulesfile.kinds import RateRule
from opsroom.rulesfile.spec import SEV_INDEX, format_seconds
from opsroom.rulesfile.subjects import Subject
from opsroom.rulesfile.values import VALUES
from opsroom.telemetry import Value
from rules.evaluator import EPS, FIRING, NONE, Evaluator, evaluates, watched_memory


@evaluates(RateRule)
class RateEvaluator(Evaluator):
    """Keeps the readings of the last window; latches on a large change until recovery."""

    __slots__ = (
        "accepted",
        "amount",
        "base",
        "fall",
        "fn",
        "label",
        "pct",
        "rule",
        "unit",
        "window",
    )

    def __init__(self, rule: RateRule, subject: Subject) -> None:
        super().__init__(rule.id, subject.id, subject.kind)
        self.rule = rule
        self.fn = VALUES[rule.value].make(subject)
        self.memory = watched_memory(self.fn)
        self.unit = VALUES[rule.value].unit
        self.label = rule.label
        self.fall = rule.direction == "fall"
        self.pct = rule.change_pct
        self.window: deque[tuple[float, float]] = deque()
        self.base = 0.0  # baseline and size of the change that fired, while firing
        self.amount = 0.0
        self.accepted = False  # the last resolution was by accept_after, not recovery

    def step(self, values: Mapping[str, Value], ts: float, dt: float | None) -> None:
        """Compare the value with the window's baseline, or check for recovery."""
        v = self.fn(values, dt) if self.memory is None else self.memory.at(values, ts)
        if v is None:
            return
        self.value = v
        rule, window = self.rule, self.window
        horizon = ts - rule.within - rule.slack
        while window and window[0][0] < horizon:
            window.popleft()
        if self.status == NONE:
            if window:
                base = max(x for _, x in window) if self.fall else min(x for _, x in window)
                change = base - v if self.fall else v - base
                amount = rule.change if self.pct is None else abs(base) * self.pct / 100.0
                if abs(base) >= rule.min_base and amount and change > amount:
                    self.status, self.sev, self.since = FIRING, SEV_INDEX[rule.severity], ts
                    self.base, self.amount = base, amount
                    self.accepted = False
        else:
            remaining = self.base - v if self.fall else v - self.base
            if remaining < rule.clear_fraction * self.amount:
                self.status, self.sev = NONE, -1
            elif ts - self.since >= rule.accept_after - EPS:
                self.status, self.sev, self.accepted = NONE, -1, True
        window.append((ts, v))

    def describe(self) -> str:
        """E.g. 'Power drop: fell from 120 to 30 kW within 10 s'."""
        if self.status == NONE:
            if self.accepted:
                held = format_seconds(self.rule.accept_after)
                return _(
                    "{label}: {value} {unit} for {held}, taken as normal",
                    label=self.label,
                    value=f"{self.value:.4g}",
                    unit=self.unit,
                    held=held,
                )
            return _(
                "{label}: recovered to {value} {unit}",
                label=self.label,
                value=f"{self.value:.4g}",
                unit=self.unit,
            )
        values = {
            "label": self.label,
            "base": f"{self.base:.4g}",
            "value": f"{self.value:.4g}",
            "unit": self.unit,
            "within": format_seconds(self.rule.within),
        }
        if self.fall:
            return _("{label}: fell from {base} to {value} {unit} within {within}", **values)
        return _("{label}: rose from {base} to {value} {unit} within {within}", **values)

    def dump(self) -> dict[str, Any]:
        """Base state plus the window and the change that fired."""
        return {
            **super().dump(),
            "window": [list(p) for p in self.window],
            "base": self.base,
            "amount": self.amount,
            "accepted": self.accepted,
        }

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore from `dump`."""
        window = deque((float(t), float(x)) for t, x in state["window"])
        super().load(state)
        self.window = window
        self.base, self.amount = float(state["base"]), float(state["amount"])
        self.accepted = bool(state.get("accepted", False))
