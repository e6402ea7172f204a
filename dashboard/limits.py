"""The thresholds the dashboard colours and draws bands with.

The rules service decides alerts; these only colour tiles and draw bands, so that a panel
reads right even before an alert fires. With a rules file, each entity's bands are built from
the threshold levels its rules hold it to (opsroom.rulesfile.bands: overrides merged, disabled
rules give no band), converted to the unit the tile shows. Without one, or for a value no rule
watches, the defaults are the shipped rules file's own rules (examples/rules.yaml, read at run
time; its per-entity overrides are the example venue's and are not applied): the default
limits are written once, with their sources, in that file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

from dashboard import lang
from dashboard.lang import N_, _
from opsroom.configfile import ConfigError
from opsroom.families.coldchain import CateringUnit
from opsroom.families.crowd import Gate, Zone
from opsroom.families.power import Generator
from opsroom.families.shuttle import Route
from opsroom.i18n import using
from opsroom.rulesfile.bands import Levels, TimeInRange, base_levels, base_time_in_range
from opsroom.rulesfile.kinds import CumulativeRule, StoppedRule
from opsroom.rulesfile.model import RuleSet, shipped_rules
from opsroom.rulesfile.spec import format_seconds
from opsroom.rulesfile.subjects import groups_of

log = logging.getLogger(__name__)
L = TypeVar("L")

# traffic-light levels, best to worst; "stale" and "nodata" rank between ok and warning
STATUSES = ("ok", "nodata", "stale", "warning", "critical")

_SHUTTLES = frozenset({"all", "shuttles"})
_CATERING = frozenset({"all", "catering"})


@cache
def defaults() -> RuleSet:
    """The shipped rules file, the one source of the default limits; no rules (the reason
    logged) when it cannot be read, so tiles then show no limits rather than invented ones."""
    try:
        return shipped_rules()
    except ConfigError as exc:
        log.warning("no default limits for the dashboard: %s", exc)
        return RuleSet()


@cache
def default_levels(groups: frozenset[str]) -> Levels:
    """The shipped rules' threshold levels for an entity of these groups (no overrides)."""
    return base_levels(defaults(), groups)


def stopped_rule() -> StoppedRule:
    """The shipped rules' stopped rule for shuttles, else that rule kind's own defaults."""
    for rule in defaults().rules:
        if isinstance(rule, StoppedRule) and rule.enabled:
            return rule
    return StoppedRule.model_validate(
        {"id": "stopped", "kind": "stopped", "applies_to": "shuttles"}
    )


def worst(*statuses: str) -> str:
    """The worst of some traffic-light statuses ('ok' if none)."""
    return max(statuses, key=STATUSES.index, default="ok")


@dataclass(frozen=True, slots=True)
class Band:
    """A band on a chart: below `low` or above `high` is out (None: no limit on that side)."""

    warn_low: float | None = None
    warn_high: float | None = None
    crit_low: float | None = None
    crit_high: float | None = None

    def status(self, value: float | None) -> str:
        """'critical', 'warning' or 'ok' for a value ('nodata' for None)."""
        if value is None:
            return "nodata"
        if (self.crit_low is not None and value < self.crit_low) or (
            self.crit_high is not None and value > self.crit_high
        ):
            return "critical"
        if (self.warn_low is not None and value < self.warn_low) or (
            self.warn_high is not None and value > self.warn_high
        ):
            return "warning"
        return "ok"

    def scaled(self, factor: float) -> Band:
        """The band with every limit multiplied by `factor` (another unit, e.g. percent)."""

        def times(v: float | None) -> float | None:
            return None if v is None else v * factor

        return Band(
            times(self.warn_low), times(self.warn_high), times(self.crit_low), times(self.crit_high)
        )

    def text(self, fmt: Callable[[float], str] = "{:g}".format) -> str:
        """The limits in words: 'warning 66, critical 82', 'critical below 63', 'no limits'."""
        parts = [
            _(text, level=fmt(v))
            for text, v in (
                (N_("warning below {level}"), self.warn_low),
                (N_("warning {level}"), self.warn_high),
                (N_("critical below {level}"), self.crit_low),
                (N_("critical {level}"), self.crit_high),
            )
            if v is not None
        ]
        return ", ".join(parts) or _("no limits")


def grouped(by_entity: Mapping[str, L]) -> list[tuple[L, list[str]]]:
    """Entities (ids) by the limits they share (a Band, ...), those most of them share first."""
    groups: dict[L, list[str]] = {}
    for entity_id, band in by_entity.items():
        groups.setdefault(band, []).append(entity_id)
    return sorted(groups.items(), key=lambda item: -len(item[1]))


def band_of(levels: Levels | None, convert: Mapping[str, Callable[[float], float]]) -> Band | None:
    """A Band from the levels of the rule values in `convert`, each threshold converted to the
    tile's unit; None when no rule watches any of them (the caller's default then applies).

    The strictest level of each severity and side wins; info levels colour nothing.
    """
    if levels is None or not convert.keys() & levels.keys():
        return None
    highs: dict[str, float] = {}
    lows: dict[str, float] = {}
    for value, to_tile in convert.items():
        for lv in levels.get(value, ()):
            if lv.severity == "info":
                continue
            if lv.above is not None:
                t = to_tile(lv.above)
                highs[lv.severity] = min(highs.get(lv.severity, t), t)
            elif lv.below is not None:
                t = to_tile(lv.below)
                lows[lv.severity] = max(lows.get(lv.severity, t), t)
    return Band(
        warn_low=lows.get("warning"),
        warn_high=highs.get("warning"),
        crit_low=lows.get("critical"),
        crit_high=highs.get("critical"),
    )


def _band(
    levels: Levels | None, convert: Mapping[str, Callable[[float], float]], groups: frozenset[str]
) -> Band:
    """The band from `levels`, else from the shipped rules' levels, else no limits."""
    got = band_of(levels, convert)
    if got is None:
        got = band_of(default_levels(groups), convert)
    return got if got is not None else Band()


def occupancy_band(zone: Zone, levels: Levels | None = None) -> Band:
    """Occupancy as a fraction of capacity (shipped: warning above 85 %, critical above 95 %)."""
    convert = {"occupancy_pct": lambda pct: pct / 100, "occupancy": lambda n: n / zone.capacity}
    return _band(levels, convert, groups_of(zone))


def density_band(zone: Zone, levels: Levels | None = None) -> Band:
    """Persons per m² (shipped: warning above 2, critical above 4)."""
    return _band(levels, {"density_ppm2": float}, groups_of(zone))


def gate_flow_band(gate: Gate, levels: Levels | None = None) -> Band:
    """Persons per metre of width per minute (shipped: warning above 66, critical above 82)."""
    return _band(levels, {"flow_ppmm": float}, groups_of(gate))


def voltage_band(gen: Generator, levels: Levels | None = None) -> Band:
    """Volts (shipped: a warning outside +10 / -15 % of nominal, critical below 10 %)."""
    nominal = gen.nominal_v
    convert: dict[str, Callable[[float], float]] = {
        "voltage_dev_pct": lambda pct: nominal * (1 + pct / 100),
        "voltage_pct": lambda pct: nominal * pct / 100,
        "voltage_v": float,
    }
    return _band(levels, convert, groups_of(gen))


def frequency_band(gen: Generator, levels: Levels | None = None) -> Band:
    """Hertz (shipped: a warning outside ±2 % of nominal)."""
    nominal = float(gen.nominal_hz)
    convert = {"frequency_dev_pct": lambda pct: nominal * (1 + pct / 100), "frequency_hz": float}
    return _band(levels, convert, groups_of(gen))


def rated_kw(gen: Generator) -> float:
    """The generator's rated active power: kVA x power factor."""
    return gen.rated_kva * gen.power_factor


def load_band(gen: Generator, levels: Levels | None = None) -> Band:
    """kW (shipped: above 80 % of rated a warning, above 95 % critical)."""
    kw = rated_kw(gen)
    convert = {"load_pct": lambda pct: kw * pct / 100, "power_kw": float}
    return _band(levels, convert, groups_of(gen))


def temperature_band(unit: CateringUnit, levels: Levels | None = None) -> Band:
    """The limits of one catering unit: its rules', else the shipped ones for its type."""
    return _band(levels, {"temp_c": float}, groups_of(unit))


def speed_band(route: Route, levels: Levels | None = None) -> Band:
    """km/h (shipped: above the route's speed limit is a warning)."""
    limit = route.speed_limit_kmh
    convert = {"over_limit_kmh": lambda over: limit + over, "speed_kmh": float}
    return _band(levels, convert, _SHUTTLES)


@dataclass(frozen=True, slots=True)
class DangerZone:
    """Time between `low` and `high` °C adds up; this many minutes in total is a warning or
    critical (None: no such level)."""

    low: float
    high: float
    warn_min: float | None
    crit_min: float | None

    def status(self, minutes: float | None) -> str:
        """'critical', 'warning' or 'ok' for a total ('ok' for None)."""
        if minutes is None:
            return "ok"
        if self.crit_min is not None and minutes >= self.crit_min:
            return "critical"
        if self.warn_min is not None and minutes >= self.warn_min:
            return "warning"
        return "ok"

    def text(self) -> str:
        """E.g. 'between 5 and 60 °C (2 h: use now, 4 h: discard)'."""
        with using(lang.locale()):  # durations in this session's language
            what = [
                _(action, duration=format_seconds(m * 60))
                for m, action in (
                    (self.warn_min, N_("{duration}: use now")),
                    (self.crit_min, N_("{duration}: discard")),
                )
                if m is not None
            ]
        levels = f" ({', '.join(what)})" if what else ""
        return _("between {low} and {high} °C", low=f"{self.low:g}", high=f"{self.high:g}") + levels


def _zone_of(rules: tuple[CumulativeRule, ...]) -> DangerZone | None:
    """The danger zone of the first of some cumulative temperature rules; None without one."""
    if not rules:
        return None
    rule = rules[0]

    def minutes(severity: str) -> float | None:
        return min((lv.after / 60 for lv in rule.levels if lv.severity == severity), default=None)

    return DangerZone(rule.above, rule.below, minutes("warning"), minutes("critical"))


@cache
def default_danger_zone() -> DangerZone | None:
    """The shipped rules' danger zone for catering units (5-60 °C, 2 h / 4 h)."""
    return _zone_of(base_time_in_range(defaults(), _CATERING).get("temp_c", ()))


def danger_zone(rules: TimeInRange | None = None) -> DangerZone | None:
    """The unit's danger zone: by its first cumulative temperature rule, else the shipped one;
    None when the rules file switches the rule off for the unit."""
    if rules is None or "temp_c" not in rules:
        return default_danger_zone()
    return _zone_of(rules["temp_c"])
