"""The thresholds the dashboard colours and draws bands with.

The rules service decides alerts; these only colour tiles and draw bands, so that a panel
reads right even before an alert fires. With a rules file, each entity's bands are built from
the threshold levels its rules hold it to (rules.bands: overrides merged, disabled rules
give no band), converted to the unit the tile shows. Without one, or for a value no rule
watches, the design's rule defaults below are used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from opsroom.rulesfile.bands import Levels, TimeInRange
from opsroom.rulesfile.spec import format_seconds
from opsroom.venue import CateringUnit, Gate, Generator, Route, Zone

L = TypeVar("L")

# traffic-light levels, best to worst; "stale" and "nodata" rank between ok and warning
STATUSES = ("ok", "nodata", "stale", "warning", "critical")

# crowd: density (persons per m²), occupancy (fraction of licensed capacity), gate flow
# (persons per metre of width per minute, Green Guide)
DENSITY_WARN, DENSITY_CRIT = 2.0, 4.0
OCCUPANCY_WARN, OCCUPANCY_CRIT = 0.85, 0.95
GATE_FLOW_WARN, GATE_FLOW_CRIT = 66.0, 82.0

# power: EN 50160 island supply, and generator load practice
VOLTAGE_OVER, VOLTAGE_UNDER = 0.10, 0.15
FREQUENCY_BAND = 0.02
LOAD_WARN, LOAD_CRIT = 0.80, 0.95

# cold chain: the 5-60 °C danger zone and its 2 h (use now) / 4 h (discard) limits
DANGER_ZONE_C = (5.0, 60.0)
DANGER_WARN, DANGER_CRIT = timedelta(hours=2), timedelta(hours=4)

# shuttles: stopped means slower than this for this long, farther than this from a stop
STOPPED_KMH = 3.0
STOPPED_FOR = timedelta(minutes=5)
STOP_RADIUS_M = 50.0


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
            f"{severity} {side}{fmt(v)}"
            for severity, side, v in (
                ("warning", "below ", self.warn_low),
                ("warning", "", self.warn_high),
                ("critical", "below ", self.crit_low),
                ("critical", "", self.crit_high),
            )
            if v is not None
        ]
        return ", ".join(parts) or "no limits"


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


def occupancy_band(zone: Zone, levels: Levels | None = None) -> Band:
    """Occupancy as a fraction of capacity; by default warning above 85 %, critical above 95 %."""
    got = band_of(
        levels, {"occupancy_pct": lambda pct: pct / 100, "occupancy": lambda n: n / zone.capacity}
    )
    return got if got is not None else Band(warn_high=OCCUPANCY_WARN, crit_high=OCCUPANCY_CRIT)


def density_band(zone: Zone, levels: Levels | None = None) -> Band:
    """Persons per m²; by default warning above 2, critical above 4."""
    got = band_of(levels, {"density_ppm2": float})
    return got if got is not None else Band(warn_high=DENSITY_WARN, crit_high=DENSITY_CRIT)


def gate_flow_band(gate: Gate, levels: Levels | None = None) -> Band:
    """Persons per metre of width per minute; by default warning above 66, critical above 82."""
    got = band_of(levels, {"flow_ppmm": float})
    return got if got is not None else Band(warn_high=GATE_FLOW_WARN, crit_high=GATE_FLOW_CRIT)


def voltage_band(gen: Generator, levels: Levels | None = None) -> Band:
    """Volts; by default outside +10 / -15 % of nominal is critical."""
    nominal = gen.nominal_v
    got = band_of(
        levels,
        {
            "voltage_dev_pct": lambda pct: nominal * (1 + pct / 100),
            "voltage_pct": lambda pct: nominal * pct / 100,
            "voltage_v": float,
        },
    )
    if got is not None:
        return got
    return Band(crit_low=nominal * (1 - VOLTAGE_UNDER), crit_high=nominal * (1 + VOLTAGE_OVER))


def frequency_band(gen: Generator, levels: Levels | None = None) -> Band:
    """Hertz; by default outside ±2 % of nominal is critical."""
    nominal = float(gen.nominal_hz)
    got = band_of(
        levels,
        {"frequency_dev_pct": lambda pct: nominal * (1 + pct / 100), "frequency_hz": float},
    )
    if got is not None:
        return got
    return Band(crit_low=nominal * (1 - FREQUENCY_BAND), crit_high=nominal * (1 + FREQUENCY_BAND))


def rated_kw(gen: Generator) -> float:
    """The generator's rated active power: kVA x power factor."""
    return gen.rated_kva * gen.power_factor


def load_band(gen: Generator, levels: Levels | None = None) -> Band:
    """kW; by default above 80 % of rated is a warning, above 95 % critical."""
    kw = rated_kw(gen)
    got = band_of(levels, {"load_pct": lambda pct: kw * pct / 100, "power_kw": float})
    return got if got is not None else Band(warn_high=kw * LOAD_WARN, crit_high=kw * LOAD_CRIT)


# fridge: warn above 5, critical above 8; freezer: warn above -18, critical above -12;
# hot holding: critical below 63
_TEMPERATURE = {
    "fridge": Band(warn_high=5.0, crit_high=8.0),
    "freezer": Band(warn_high=-18.0, crit_high=-12.0),
    "hot_holding": Band(crit_low=63.0),
}


def temperature_band(unit: CateringUnit, levels: Levels | None = None) -> Band:
    """The limits of one catering unit: its rules', else its type's defaults."""
    got = band_of(levels, {"temp_c": float})
    return got if got is not None else _TEMPERATURE[unit.type]


def speed_band(route: Route, levels: Levels | None = None) -> Band:
    """km/h; by default above the route's speed limit is a warning."""
    limit = route.speed_limit_kmh
    got = band_of(levels, {"over_limit_kmh": lambda over: limit + over, "speed_kmh": float})
    return got if got is not None else Band(warn_high=limit)


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
        what = [
            f"{format_seconds(m * 60)}: {action}"
            for m, action in ((self.warn_min, "use now"), (self.crit_min, "discard"))
            if m is not None
        ]
        levels = f" ({', '.join(what)})" if what else ""
        return f"between {self.low:g} and {self.high:g} °C{levels}"


DEFAULT_DANGER_ZONE = DangerZone(
    *DANGER_ZONE_C, DANGER_WARN.total_seconds() / 60, DANGER_CRIT.total_seconds() / 60
)


def danger_zone(rules: TimeInRange | None = None) -> DangerZone | None:
    """The unit's danger zone: by its first cumulative temperature rule, else 5-60 °C for
    2 h / 4 h; None when the rules file switches the rule off for the unit."""
    if rules is None or "temp_c" not in rules:
        return DEFAULT_DANGER_ZONE
    if not rules["temp_c"]:
        return None
    rule = rules["temp_c"][0]

    def minutes(severity: str) -> float | None:
        return min((lv.after / 60 for lv in rule.levels if lv.severity == severity), default=None)

    return DangerZone(rule.above, rule.below, minutes("warning"), minutes("critical"))
