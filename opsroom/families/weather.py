"""Weather stations and lightning detectors, and the temporary structures wind limits apply to.

Derived values and why:
- gust_pct_operating / gust_pct_evacuate (structures): the gust of the structure's nearest
  station as % of the structure's own operating / evacuate limit (its engineer's limits, m/s
  gust); 100 % is the limit. A structure has no sensor: it is a rule subject fed by that
  station's readings (Section.feed), so each structure gets its own alert, named for it.
- strike_km_30min: the nearest strike reported in the last 30 minutes (by the readings' event
  time), or NO_STRIKE_KM when there was none. A threshold rule "below 16 km" on it therefore
  clears only 30 minutes after the last strike inside 16 km: the 30-minute rule (NWS / NOAA
  lightning safety: wait 30 minutes after the last thunder or strike within range), which the
  latest reading's strike_km alone cannot express. The window is kept in the rules state
  file (a Memory), so a restart of the rules service does not bring the all-clear early.
- heat_index_c: NOAA/NWS heat index (Rothfusz regression with the Steadman simple form
  below 80 °F), in °C, from air temperature and relative humidity (NWS bands: caution 27,
  extreme caution 32, danger 41, extreme danger 54 °C). It is given at every temperature, so
  a heat alert resolves when it cools down.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field

from opsroom.configfile import FieldError, Strict
from opsroom.families.base import (
    Derived,
    Family,
    Id,
    LatLon,
    Memory,
    NameZh,
    Section,
    Subject,
    ValueFn,
    reading_field,
)
from opsroom.geo import haversine_m
from opsroom.i18n import N_
from opsroom.telemetry.base import Count, Number, Payload, Value

ALL_CLEAR_S = 30 * 60.0  # the 30-minute rule
NO_STRIKE_KM = 100.0  # no strike in the window: beyond any detector's range


class WeatherPayload(Payload):
    """One report of a weather station (with its lightning detector, if it has one)."""

    # Bounds: the strongest gust ever measured is 113 m/s (Barrow Island, 1996); rain rates
    # over 500 mm/h are beyond any record; lightning detectors see about 40 km (limit 100).
    wind_ms: Number = Field(ge=0, le=120)
    gust_ms: Number | None = Field(None, ge=0, le=120)
    wind_dir_deg: Number | None = Field(None, ge=0, le=360)  # where it blows from, compass
    rain_mm_h: Number | None = Field(None, ge=0, le=500)
    air_temp_c: Number | None = Field(None, ge=-60, le=60)
    humidity_pct: Number | None = Field(None, ge=0, le=100)
    strike_km: Number | None = Field(None, ge=0, le=100)  # nearest strike since last report
    strikes: Count | None = Field(None, le=100_000)  # strikes since the last report


class Station(Strict):
    """A weather station (anemometer, rain gauge, thermo-hygrometer, lightning detector)."""

    id: Id
    name: str = ""
    name_zh: NameZh = None  # the name in Chinese, shown in zh-CN when given
    location: LatLon


class Structure(Strict):
    """A stage, tent or other temporary structure with its engineer's wind limits."""

    id: Id
    name: str = ""
    name_zh: NameZh = None  # the name in Chinese, shown in zh-CN when given
    type: Literal["stage", "tent", "marquee", "screen", "tower", "other"] = "other"
    location: LatLon
    operating_gust_ms: float = Field(gt=0, le=60)
    evacuate_gust_ms: float = Field(gt=0, le=60)


def nearest_station(structure: Structure, stations: list[Station]) -> Station | None:
    """The station whose wind a structure's limits are checked against."""
    if not stations:
        return None
    return min(stations, key=lambda s: haversine_m(*structure.location, *s.location))


def _station_of(structure: Structure, venue: Any) -> str | None:
    station = nearest_station(structure, venue.stations)
    return None if station is None else station.id


def _check(venue: Any) -> None:
    for i, s in enumerate(venue.structures):
        if s.evacuate_gust_ms < s.operating_gust_ms:
            raise FieldError(
                ("structures", i, "evacuate_gust_ms"),
                f"{s.evacuate_gust_ms} is below the operating limit {s.operating_gust_ms}",
            )
    if venue.structures and not venue.stations:
        raise FieldError(("structures",), "structures need a weather station (stations:)")


def _gust_pct(limit: str) -> Any:
    def make(subject: Subject) -> ValueFn:
        own = float(getattr(subject.entity, limit))

        def value(values: Mapping[str, Value], dt: float | None) -> float | None:
            gust = values.get("gust_ms", values.get("wind_ms"))
            return None if gust is None else gust * 100.0 / own

        return value

    return make


class StrikeWindow(Memory):
    """The nearest strike of the last 30 minutes of readings, by their event time."""

    def __init__(self) -> None:
        self.recent: deque[tuple[float, float]] = deque()  # (event time, km), oldest first

    def at(self, values: Mapping[str, Value], ts: float) -> float | None:
        """Take this reading's strike, if any, and forget those 30 minutes old."""
        km = self._strike(values)
        if km is not None:
            self.recent.append((ts, km))
        while self.recent and ts - self.recent[0][0] >= ALL_CLEAR_S:
            self.recent.popleft()
        return min((k for _, k in self.recent), default=NO_STRIKE_KM)

    def __call__(self, values: Mapping[str, Value], dt: float | None) -> float | None:
        """This reading's strike alone (NO_STRIKE_KM with none)."""
        km = self._strike(values)
        return NO_STRIKE_KM if km is None else km

    @staticmethod
    def _strike(values: Mapping[str, Value]) -> float | None:
        km, count = values.get("strike_km"), values.get("strikes")
        return None if km is None or count == 0 else float(km)

    def dump(self) -> list[list[float]]:
        """[[event time, km], ...] of the strikes in the window."""
        return [[t, k] for t, k in self.recent]

    def load(self, data: Any) -> None:
        """Restore the window `dump` gave."""
        self.recent = deque((float(t), float(k)) for t, k in data)


def _strike_window(subject: Subject) -> ValueFn:
    return StrikeWindow()


def heat_index_c(temp_c: float, rh: float) -> float:
    """NWS heat index in °C (Rothfusz regression, with the NWS simple form below 80 °F)."""
    t = temp_c * 9 / 5 + 32
    simple = 0.5 * (t + 61.0 + (t - 68.0) * 1.2 + rh * 0.094)
    if (simple + t) / 2 < 80:
        hi = simple
    else:
        hi = (
            -42.379
            + 2.04901523 * t
            + 10.14333127 * rh
            - 0.22475541 * t * rh
            - 0.00683783 * t * t
            - 0.05481717 * rh * rh
            + 0.00122874 * t * t * rh
            + 0.00085282 * t * rh * rh
            - 0.00000199 * t * t * rh * rh
        )
    return (hi - 32) * 5 / 9


def _heat_index(subject: Subject) -> ValueFn:
    def value(values: Mapping[str, Value], dt: float | None) -> float | None:
        temp, rh = values.get("air_temp_c"), values.get("humidity_pct")
        if temp is None or rh is None:
            return None
        return heat_index_c(float(temp), float(rh))

    return value


_ST = frozenset({"stations"})
_SR = frozenset({"structures"})

FAMILY = Family(
    log_category="weather",
    kind="weather",
    model=WeatherPayload,
    sample={
        "ts": "2026-07-04T18:30:00Z",
        "wind_ms": 6.2,
        "gust_ms": 11.4,
        "wind_dir_deg": 235.0,
        "rain_mm_h": 0.0,
        "air_temp_c": 24.5,
        "humidity_pct": 58.0,
        "strike_km": 31.0,
        "strikes": 2,
    },
    description="weather stations and lightning detectors",
    report_interval=timedelta(seconds=60),
    title=N_("Weather"),  # translated where shown
    order=50,
    sections=(
        Section("stations", Station, "station"),
        Section("structures", Structure, "structure", label=lambda s: s.type, feed=_station_of),
    ),
    values=(
        reading_field("wind_ms", "m/s", {"stations"}),
        reading_field("gust_ms", "m/s", {"stations"}),
        reading_field("rain_mm_h", "mm/h", {"stations"}),
        reading_field("air_temp_c", "°C", {"stations"}),
        reading_field("humidity_pct", "%", {"stations"}),
        reading_field("strike_km", "km", {"stations"}),
        reading_field("strikes", "strikes", {"stations"}),
        Derived(
            "gust_pct_operating",
            "% of operating limit",
            _SR,
            "gust_ms of the structure's nearest station / its operating_gust_ms x 100",
            _gust_pct("operating_gust_ms"),
        ),
        Derived(
            "gust_pct_evacuate",
            "% of evacuate limit",
            _SR,
            "gust_ms of the structure's nearest station / its evacuate_gust_ms x 100",
            _gust_pct("evacuate_gust_ms"),
        ),
        Derived(
            "strike_km_30min",
            "km",
            _ST,
            "nearest strike_km of the last 30 minutes of readings; 100 with none (the 30-minute"
            " rule)",
            _strike_window,
        ),
        Derived(
            "heat_index_c",
            "°C",
            _ST,
            "NWS heat index (Rothfusz) of air_temp_c and humidity_pct",
            _heat_index,
        ),
    ),
    key_fields=("gust_ms", "strike_km", "air_temp_c"),
    required_field="wind_ms",
    check=_check,
)
