"""threshold: a value above or below a level for a hold time, cleared at a clear level.

Several levels (e.g. warning above 5 °C, critical above 8 °C) make one alert per subject:
the alert fires at the severity of its first fired level, rises when a higher level fires,
falls back when that level clears, and resolves when every level has cleared. A level may
watch either direction, so one rule can cover a band (voltage above +10 % or below -15 %).
"""

from __future__ import annotations

from collections.abc import Mapping
from math import inf
from typing import Any

from opsroom.i18n import _
from opsroom.rulesfile.kinds import ThresholdRule
from opsroom.rulesfile.spec import SEV_INDEX, format_seconds
from opsroom.rulesfile.subjects import Subject
from opsroom.rulesfile.values import VALUES
from opsroom.telemetry import Value
from rules.evaluator import (
    FIRING,
    NONE,
    PENDING,
    Evaluator,
    Latch,
    evaluates,
    held,
    max_gap,
    watched_memory,
)


@evaluates(ThresholdRule)
class ThresholdEvaluator(Evaluator):
    """One latch per level; the alert's wish is the highest fired level, else pending."""

    __slots__ = ("fn", "label", "latches", "levels", "quiet_high", "quiet_low", "unit")

    def __init__(self, rule: ThresholdRule, subject: Subject) -> None:
        super().__init__(rule.id, subject.id, subject.kind)
        self.fn = VALUES[rule.value].make(subject)
        self.memory = watched_memory(self.fn)
        self.unit = VALUES[rule.value].unit
        self.label = rule.label
        self.levels = [
            (SEV_INDEX[lv.severity], lv.above is not None, lv.threshold, lv.clear)
            for lv in rule.levels
        ]
        gap, interval = max_gap(rule, subject), subject.report_interval_s
        self.latches = [
            Latch(rule.hold if lv.hold is None else lv.hold, gap, interval) for lv in rule.levels
        ]
        # with every level off, a value in [quiet_low, quiet_high] changes nothing: most
        # readings stop there
        self.quiet_high = min((lv.above for lv in rule.levels if lv.above is not None), default=inf)
        self.quiet_low = max((lv.below for lv in rule.levels if lv.below is not None), default=-inf)

    def step(self, values: Mapping[str, Value], ts: float, dt: float | None) -> None:
        """Update every level's latch with the reading's value."""
        v = self.fn(values, dt) if self.memory is None else self.memory.at(values, ts)
        if v is None:
            return
        self.value = v
        if self.status == NONE and self.quiet_low <= v <= self.quiet_high:
            return
        fired_sev, pending_sev, since = -1, 9, None
        for (sev, up, threshold, clear), latch in zip(self.levels, self.latches, strict=True):
            if up:
                latch.update(v > threshold, v <= clear, ts)
            else:
                latch.update(v < threshold, v >= clear, ts)
            on = latch.since
            if on is None:
                continue
            if since is None or on < since:
                since = on
            if latch.fired:
                if sev > fired_sev:  # noqa: PLR1730 (max() is slower on this path)
                    fired_sev = sev
            elif sev < pending_sev:
                pending_sev = sev
        if since is None:
            self.status, self.sev = NONE, -1
            return
        self.since = since
        if fired_sev >= 0:
            self.status, self.sev = FIRING, fired_sev
        else:
            self.status, self.sev = PENDING, pending_sev

    def describe(self) -> str:
        """E.g. 'Cold holding: 5.6 °C, above 5 for 15 min' (', 2 min of it without data')."""
        if self.status == NONE or self.value is None:
            return _("{label}: back within limits", label=self.label)
        for (sev, up, threshold, _clear), latch in zip(self.levels, self.latches, strict=True):
            if sev == self.sev and latch.since is not None:
                values = {
                    "label": self.label,
                    "value": f"{self.value:.4g}",
                    "unit": self.unit,
                    "level": f"{threshold:g}",
                }
                if up:
                    text = _("{label}: {value} {unit}, above {level}", **values)
                else:
                    text = _("{label}: {value} {unit}, below {level}", **values)
                if self.status == PENDING:
                    hold = format_seconds(latch.hold)
                    return _("{text} (fires if it holds for {hold})", text=text, hold=hold)
                return held(text, latch)
        return f"{self.label}: {self.value:.4g} {self.unit}"  # a value and its unit: no words

    def dump(self) -> dict[str, Any]:
        """Base state plus each level's latch."""
        return {**super().dump(), "latches": [latch.dump() for latch in self.latches]}

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore; the rule's levels must be the ones the state was taken with."""
        latches = state["latches"]
        if len(latches) != len(self.latches):
            raise ValueError("the rule's levels changed")
        super().load(state)
        for latch, saved in zip(self.latches, latches, strict=True):
            latch.load(saved)
