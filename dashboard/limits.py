"""The thresholds the dashboard colours and draws bands with: the design's rule defaults.

The rules service decides alerts; these only colour tiles and draw bands, so that a panel
reads right even before an alert fires. Keep them equal to the rules' defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from opsroom.venue import CateringUnit, Generator

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


def voltage_band(gen: Generator) -> Band:
    """Volts outside +10 / -15 % of nominal are critical."""
    return Band(
        crit_low=gen.nominal_v * (1 - VOLTAGE_UNDER), crit_high=gen.nominal_v * (1 + VOLTAGE_OVER)
    )


def frequency_band(gen: Generator) -> Band:
    """Hertz outside ±2 % of nominal are critical."""
    return Band(
        crit_low=gen.nominal_hz * (1 - FREQUENCY_BAND),
        crit_high=gen.nominal_hz * (1 + FREQUENCY_BAND),
    )


def rated_kw(gen: Generator) -> float:
    """The generator's rated active power: kVA x power factor."""
    return gen.rated_kva * gen.power_factor


def load_band(gen: Generator) -> Band:
    """kW above 80 % of rated is a warning, above 95 % critical."""
    kw = rated_kw(gen)
    return Band(warn_high=kw * LOAD_WARN, crit_high=kw * LOAD_CRIT)


# fridge: warn above 5, critical above 8; freezer: warn above -18, critical above -12;
# hot holding: critical below 63
_TEMPERATURE = {
    "fridge": Band(warn_high=5.0, crit_high=8.0),
    "freezer": Band(warn_high=-18.0, crit_high=-12.0),
    "hot_holding": Band(crit_low=63.0),
}


def temperature_band(unit: CateringUnit) -> Band:
    """The limits of one catering unit's type."""
    return _TEMPERATURE[unit.type]
