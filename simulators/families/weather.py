"""Weather stations: gusty wind, a daily temperature swing, and storm-front and heat incidents."""

from __future__ import annotations

import math
import random
from typing import Any, Literal

from pydantic import Field

from opsroom.families.weather import FAMILY, Station
from simulators.families.base import Expectation, IncidentBase, IncidentType
from simulators.world import Device, World, smoothstep

MEAN_WIND_MS = 3.0  # a light breeze on a summer day
GUST_FACTOR = 1.5  # gust over mean wind, open field (WMO No. 1132: 1.3-1.7 over land)
DETECTOR_RANGE_KM = 40.0  # strikes farther away are not reported


class WeatherStation:
    """A station: wind with AR(1) drift and gusts, temperature and humidity by time of day."""

    kind = FAMILY.kind

    def __init__(self, station: Station, world: World, rng: random.Random) -> None:
        self.station = station
        self.sensor_id = station.id
        self.interval = FAMILY.report_interval.total_seconds()
        self.world = world
        self.rng = rng
        self.drift = 0.0
        self.onsets: dict[int, float] = {}  # incident -> when this station first saw it

    def _progress(self, incident: IncidentBase, t: float) -> float:
        """How far into an incident `t` is, 0..1."""
        start = self.onsets.setdefault(id(incident), t)
        return min(1.0, (t - start) / incident.duration.total_seconds())

    def sample(self, t: float) -> dict[str, Any]:
        """The station's report at `t`."""
        rng, world = self.rng, self.world
        self.drift = 0.95 * self.drift + rng.gauss(0.0, 0.3)
        wind = max(0.0, MEAN_WIND_MS + self.drift)
        gust = wind * (GUST_FACTOR + abs(rng.gauss(0.0, 0.15)))
        day = 1.0 - world.darkness(t)
        temp = 16.0 + 8.0 * day + rng.gauss(0.0, 0.2)
        rh = 75.0 - 25.0 * day + rng.gauss(0.0, 1.0)
        rain = 0.0
        strike_km: float | None = None
        strikes = 0
        storm = world.active("storm_front", self.station.id, t)
        if isinstance(storm, StormFront):
            p = self._progress(storm, t)
            # the front arrives over the first 40 %, passes, and moves off over the last 30 %
            strength = smoothstep(p / 0.4) * (1.0 - smoothstep((p - 0.7) / 0.3))
            gust = max(gust, storm.peak_gust_ms * strength * (1.0 + rng.gauss(0.0, 0.05)))
            wind = max(wind, gust / GUST_FACTOR)
            rain = storm.rain_mm_h * strength
            # the cell closes in from the detector's range to `closest_km` at mid-storm
            km = storm.closest_km + (DETECTOR_RANGE_KM - storm.closest_km) * abs(1.0 - 2.0 * p)
            if km < DETECTOR_RANGE_KM:
                strike_km, strikes = round(km, 1), 1 + int(10 * strength)
        heat = world.active("heat", self.station.id, t)
        if isinstance(heat, Heat):
            p = self._progress(heat, t)
            w = smoothstep(p / 0.2) * (1.0 - smoothstep((p - 0.8) / 0.2))
            temp += (heat.temp_c - temp) * w
            rh += (heat.humidity_pct - rh) * w
        out: dict[str, Any] = {
            "wind_ms": round(wind, 1),
            "gust_ms": round(gust, 1),
            "wind_dir_deg": round((240.0 + 20.0 * math.sin(t / 1800.0)) % 360, 0),
            "rain_mm_h": round(rain, 1),
            "air_temp_c": round(temp, 1),
            "humidity_pct": round(max(5.0, min(rh, 100.0)), 0),
            "strikes": strikes,
        }
        if strike_km is not None:
            out["strike_km"] = strike_km
        return out


def build(world: World) -> list[Device]:
    """A station model for every weather station of the venue."""
    return [WeatherStation(s, world, world.rng_for(s.id)) for s in world.venue.stations]


class StormFront(IncidentBase):
    """A storm front passes: the wind ramps up to `peak_gust_ms`, lightning comes to
    `closest_km` at mid-storm and moves off, heavy rain; strikes stop when it ends."""

    type: Literal["storm_front"]
    peak_gust_ms: float = Field(28.0, gt=0, le=60)
    closest_km: float = Field(3.0, ge=0, lt=DETECTOR_RANGE_KM)
    rain_mm_h: float = Field(30.0, ge=0, le=300)


class Heat(IncidentBase):
    """A hot, humid spell: air temperature and humidity rise to `temp_c` and `humidity_pct`."""

    type: Literal["heat"]
    temp_c: float = Field(36.0, gt=20, le=55)
    humidity_pct: float = Field(55.0, gt=0, le=100)


INCIDENTS = (
    IncidentType(
        StormFront,
        "stations",
        Expectation(
            "weather",
            "gust above a structure's limits / lightning within 16 / 8 km",
            ("wind", "lightning"),
        ),
        {"*": ("structure-wind", "structure-wind-evacuate", "lightning")},
        None,
    ),
    IncidentType(
        Heat,
        "stations",
        Expectation("weather", "heat index above 32 / 41 °C (NWS)", ("heat",)),
        {"*": ("heat-stress",)},
        None,
    ),
)
