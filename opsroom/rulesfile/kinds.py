"""The settings of each rule kind: their YAML keys, defaults and checks (data only).

What each kind does with its settings, reading by reading, is its evaluator in rules/kinds/
(one module per kind, with the reasoning behind its behaviour).
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, model_validator

from opsroom.alerts import Severity
from opsroom.configfile import FieldError, Strict
from opsroom.rulesfile.spec import RuleBase, Seconds, register
from opsroom.rulesfile.values import VALUES


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


# ---------------------------------------------------------------- holds


def max_gap_field() -> Any:
    """`max_gap` of the kinds with a hold: the longest gap in the data a pending hold bridges."""
    return Field(
        None,
        gt=0,
        description="the longest gap between readings a pending hold may bridge; after a longer "
        "one the hold starts again (default: 3 report intervals of the entity's family)",
    )


# ---------------------------------------------------------------- threshold


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


@register
class ThresholdRule(RuleBase):
    """A value beyond a level for `hold`, with a clear level so noise does not flap it."""

    kind: Literal["threshold"]
    value: str = Field(description="a derived value name, e.g. temp_c, density_ppm2, load_pct")
    hold: Seconds = 0.0
    max_gap: Seconds | None = max_gap_field()
    levels: list[Level] = Field(min_length=1)

    def check(self) -> None:
        """The value must exist for every group the rule applies to."""
        super().check()
        check_value(self, self.value)


# ---------------------------------------------------------------- rate


@register
class RateRule(RuleBase):
    """A fall or rise of more than `change` (or `change_pct` %) within `within`."""

    kind: Literal["rate"]
    value: str
    direction: Literal["fall", "rise"]
    change: float | None = Field(None, gt=0, description="absolute change, in the value's unit")
    change_pct: float | None = Field(None, gt=0, description="change in % of the baseline")
    within: Seconds = Field(gt=0)
    slack: Seconds = Field(2.0, description="extra age a baseline reading may have")
    min_base: float = Field(0.0, ge=0, description="ignore changes from a baseline below this")
    clear_fraction: float = Field(0.5, ge=0, lt=1)
    accept_after: Seconds = Field(
        1800.0,
        gt=0,
        description="resolve once the changed level has lasted this long (taken as the new "
        "normal), if it has not recovered before: every rate alert resolves one way or the other",
    )
    severity: Severity = "critical"

    def check(self) -> None:
        """Exactly one of change / change_pct, and a value defined for the rule's groups."""
        super().check()
        check_value(self, self.value)
        if (self.change is None) == (self.change_pct is None):
            raise FieldError(("change",), "give exactly one of change or change_pct")


# ---------------------------------------------------------------- no_data


@register
class NoDataRule(RuleBase):
    """No reading for `after` (or `intervals` report intervals), or status offline."""

    INHIBITABLE = False

    kind: Literal["no_data"]
    intervals: float = Field(3.0, gt=0, description="silence in report intervals of the family")
    after: Seconds | None = Field(None, gt=0, description="a fixed silence; overrides intervals")
    offline: bool = Field(True, description="a status `offline` (last will) raises it at once")
    severity: Severity = "warning"


# ---------------------------------------------------------------- cumulative


class TimeLevel(Strict):
    """A severity reached once the cumulative time is at least `after`."""

    severity: Severity
    after: Seconds = Field(gt=0)


@register
class CumulativeRule(RuleBase):
    """Cumulative time with `above` < value < `below`; levels by total time."""

    kind: Literal["cumulative"]
    value: str
    above: float
    below: float
    levels: list[TimeLevel] = Field(min_length=1)
    reset_after: Seconds = Field(3600.0, gt=0, description="out of range this long resets")
    max_gap: Seconds = Field(600.0, gt=0, description="most a gap between readings counts")

    def check(self) -> None:
        """A value defined for the rule's groups, and a range that is not upside down."""
        super().check()
        check_value(self, self.value)
        if self.below <= self.above:
            raise FieldError(("below",), f"must be greater than above ({self.above:g})")


# ---------------------------------------------------------------- geofence


@register
class GeofenceRule(RuleBase):
    """Distance from the route's path above `band_m` for `hold`."""

    GROUPS = frozenset({"shuttles"})

    kind: Literal["geofence"]
    band_m: float | None = Field(None, gt=0, description="the route's corridor_m if unset")
    clear_margin_m: float = Field(10.0, ge=0, description="back this far inside the band to clear")
    hold: Seconds = 60.0
    max_gap: Seconds | None = max_gap_field()
    severity: Severity = "warning"


# ---------------------------------------------------------------- stopped


@register
class StoppedRule(RuleBase):
    """Speed below `below_kmh` for `hold`, farther than `stop_radius_m` from a stop."""

    GROUPS = frozenset({"shuttles"})

    kind: Literal["stopped"]
    below_kmh: float = Field(3.0, gt=0)
    moving_kmh: float = Field(5.0, gt=0, description="speed that counts as moving again")
    hold: Seconds = 300.0
    max_gap: Seconds | None = max_gap_field()
    stop_radius_m: float = Field(50.0, ge=0)
    severity: Severity = "warning"

    def check(self) -> None:
        """Moving again must take at least the stopped speed."""
        super().check()
        if self.moving_kmh < self.below_kmh:
            raise FieldError(("moving_kmh",), f"must be at least below_kmh ({self.below_kmh:g})")
