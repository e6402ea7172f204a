"""cumulative: total time a value has spent inside a range, e.g. food between 5 and 60 °C.

The 2-hour / 4-hour rule: the time food spends in the danger zone adds up across episodes,
so the total is kept, not restarted, when the temperature dips out of the range for a while;
it goes back to zero only once the value has stayed out of the range for `reset_after` (the
unit back under control, or restocked). Time is counted on event time between consecutive
readings, as the step the earlier reading began, and a gap between readings counts at most
`max_gap` (a longer silence is its own alert, not proof the food stayed warm). The total is
part of the engine's snapshot, so it survives a restart of the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsroom.i18n import _
from opsroom.rulesfile.kinds import CumulativeRule
from opsroom.rulesfile.spec import SEV_INDEX, format_seconds
from opsroom.rulesfile.subjects import Subject
from opsroom.rulesfile.values import VALUES
from opsroom.telemetry import Value
from rules.evaluator import EPS, FIRING, NONE, Evaluator, evaluates, watched_memory


@evaluates(CumulativeRule)
class CumulativeEvaluator(Evaluator):
    """Adds up time in range; fires at the highest level the total has reached."""

    __slots__ = ("fn", "inside", "label", "levels", "out_since", "rule", "total", "unit")

    def __init__(self, rule: CumulativeRule, subject: Subject) -> None:
        super().__init__(rule.id, subject.id, subject.kind)
        self.rule = rule
        self.fn = VALUES[rule.value].make(subject)
        self.memory = watched_memory(self.fn)
        self.unit = VALUES[rule.value].unit
        self.label = rule.label
        self.levels = sorted((lv.after, SEV_INDEX[lv.severity]) for lv in rule.levels)
        self.total = 0.0  # seconds in range since the last reset
        self.inside = False  # the previous reading was in range
        self.out_since: float | None = None

    def step(self, values: Mapping[str, Value], ts: float, dt: float | None) -> None:
        """Count the interval since the previous reading if that one was in range."""
        v = self.fn(values, dt) if self.memory is None else self.memory.at(values, ts)
        if v is None:
            return
        rule = self.rule
        if self.inside and dt:
            self.total += dt if dt < rule.max_gap else rule.max_gap
        self.inside = rule.above < v < rule.below
        if self.inside:
            if self.total == 0.0:
                self.since = ts  # a new tally begins
            self.out_since = None
        elif self.out_since is None:
            self.out_since = ts
        elif ts - self.out_since >= rule.reset_after - EPS:
            self.total = 0.0
        self.value = self.total / 60.0
        sev = -1
        for after, level_sev in self.levels:
            if self.total >= after - EPS and level_sev > sev:
                sev = level_sev
        if sev >= 0:
            self.status, self.sev = FIRING, sev
        else:
            self.status, self.sev = NONE, -1

    def describe(self) -> str:
        """E.g. 'Danger zone: 2 h 5 min between 5 and 60 °C (cumulative)'."""
        rng = _(
            "between {low} and {high} {unit}",
            low=f"{self.rule.above:g}",
            high=f"{self.rule.below:g}",
            unit=self.unit,
        )
        if self.status == NONE:
            away = format_seconds(self.rule.reset_after)
            return _(
                "{label}: out of the range {range} for {away}",
                label=self.label,
                range=rng,
                away=away,
            )
        return _(
            "{label}: {total} {range} (cumulative)",
            label=self.label,
            total=format_seconds(self.total),
            range=rng,
        )

    def dump(self) -> dict[str, Any]:
        """Base state plus the running total."""
        return {
            **super().dump(),
            "total": self.total,
            "inside": self.inside,
            "out_since": self.out_since,
        }

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore from `dump`."""
        total, inside, out_since = float(state["total"]), bool(state["inside"]), state["out_since"]
        super().load(state)
        self.total, self.inside = total, inside
        self.out_since = None if out_since is None else float(out_since)
