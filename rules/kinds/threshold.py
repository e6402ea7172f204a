"""threshold: a value above or below a level for a hold time, cleared at a clear level.

Several levels (e.g. warning above 5 °C, critical above 8 °C) make one alert per subject:
the alert fires at the severity of its first fired level, rises when a higher level fires,
falls back when that level clears, and resolves when every level has cleared. A level may
watch either direction, so one rule can cover a band (voltage above +10 % or below -15 %).
"""

from __future__ import annotations

from collections.abc import Mapping
from math import inf
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from opsroom.alerts import Severity
from opsroom.configfile import FieldError
from opsroom.telemetry import Value
from rules.evaluator import FIRING, NONE, PENDING, Evaluator, Latch
from rules.spec import SEV_INDEX, RuleBase, Seconds, Strict, format_seconds, register
from rules.subjects import Subject
from rules.values import VALUES


class Level(Strict):
    """One severity level: `above` or `below` a threshold, released at `clear`."""

    severity: Severity
    above: float | None = None
    below: float | None = None
    clear: float = Field(description="the level the value must get back to for the alert to clear")
    hold: Seconds | None = Field(None, description="this level's hold time; the rule's if unset")

    @model_validator(mode="after")
    def _one_direction(self) -> Self:
        if (self.above is None) == (self.below is None):
            raise FieldError((), "give exactly one of above or below")
        if self.above is not None and self.clear > self.above:
            raise FieldError(("clear",), f"must be at or below above ({self.above:g})")
        if self.below is not None and self.clear < self.below:
            raise FieldError(("clear",), f"must be at or above below ({self.below:g})")
        return self

    @property
    def threshold(self) -> float:
        """The trigger level, whichever direction."""
        return self.above if self.above is not None else self.below  # type: ignore[return-value]


def check_value(rule: RuleBase, value: str) -> None:
    """Raise FieldError unless `value` is a derived value defined for every group of the rule."""
    derived = VALUES.get(value)
    if derived is None:
        raise FieldError(
            ("value",), f"unknown value {value!r} (known: {', '.join(sorted(VALUES))})"
        )
    for group in rule.applies_to:
        if group not in derived.groups:
            raise FieldError(
                ("value",),
                f"{value!r} is defined for {', '.join(sorted(derived.groups))}, not {group}",
            )


@register
class ThresholdRule(RuleBase):
    """A value beyond a level for `hold`, with a clear level so noise does not flap it."""

    kind: Literal["threshold"]
    value: str = Field(description="a derived value name, e.g. temp_c, density_ppm2, load_pct")
    hold: Seconds = 0.0
    levels: list[Level] = Field(min_length=1)

    def check(self) -> None:
        """The value must exist for every group the rule applies to."""
        super().check()
        check_value(self, self.value)

    def bind(self, subject: Subject) -> Evaluator:
        """A ThresholdEvaluator for one subject."""
        return ThresholdEvaluator(self, subject)


class ThresholdEvaluator(Evaluator):
    """One latch per level; the alert's wish is the highest fired level, else pending."""

    __slots__ = ("fn", "label", "latches", "levels", "quiet_high", "quiet_low", "unit")

    def __init__(self, rule: ThresholdRule, subject: Subject) -> None:
        super().__init__(rule.id, subject.id, subject.kind)
        self.fn = VALUES[rule.value].make(subject)
        self.unit = VALUES[rule.value].unit
        self.label = rule.label
        self.levels = [
            (SEV_INDEX[lv.severity], lv.above is not None, lv.threshold, lv.clear)
            for lv in rule.levels
        ]
        self.latches = [Latch(rule.hold if lv.hold is None else lv.hold) for lv in rule.levels]
        # with every level off, a value in [quiet_low, quiet_high] changes nothing: most
        # readings stop there
        self.quiet_high = min((lv.above for lv in rule.levels if lv.above is not None), default=inf)
        self.quiet_low = max((lv.below for lv in rule.levels if lv.below is not None), default=-inf)

    def step(self, values: Mapping[str, Value], ts: float, dt: float | None) -> None:
        """Update every level's latch with the reading's value."""
        v = self.fn(values, dt)
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
        """E.g. 'Cold holding: 5.6 °C, above 5 for 15 min'."""
        if self.status == NONE or self.value is None:
            return f"{self.label}: back within limits"
        for (sev, up, threshold, _), latch in zip(self.levels, self.latches, strict=True):
            if sev == self.sev and latch.since is not None:
                side = "above" if up else "below"
                text = f"{self.label}: {self.value:.4g} {self.unit}, {side} {threshold:g}"
                if self.status == PENDING:
                    return f"{text} (fires if it holds for {format_seconds(latch.hold)})"
                return f"{text} for {format_seconds(latch.hold)}" if latch.hold else text
        return f"{self.label}: {self.value:.4g} {self.unit}"

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
