"""Temperature probes: compressor (or heater) cycles with hysteresis, doors, failures.

Newton's law of cooling toward the ambient air, integrated in 10 s steps: heat leaks in through
the walls (faster with the door open) and the compressor takes it out while it runs; a
hot-holding unit is the mirror image with a heater.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from opsroom.families.coldchain import FAMILY, CateringUnit
from simulators.families.base import Expectation, IncidentBase, IncidentType
from simulators.world import Device, World

STEP_S = 10.0


@dataclass(frozen=True)
class Profile:
    """How one type of unit behaves (rates in °C per minute, time constants in minutes)."""

    low_c: float  # the thermostat switches the compressor off (heater on) here
    high_c: float  # ... and on (heater off) here
    wall_tau_min: float
    door_tau_min: float
    drive_c_per_min: float  # compressor cooling (negative) or heater warming (positive)
    doors_per_hour_busy: float


PROFILES: dict[str, Profile] = {
    "fridge": Profile(2.0, 4.0, 180.0, 25.0, -0.30, 8.0),
    "freezer": Profile(-22.0, -19.5, 240.0, 30.0, -0.35, 3.0),
    "hot_holding": Profile(67.0, 72.0, 90.0, 20.0, 1.20, 4.0),
}


class TemperatureProbe:
    """A probe in a fridge, freezer or hot-holding unit."""

    kind = FAMILY.kind

    def __init__(self, unit: CateringUnit, world: World, rng: random.Random) -> None:
        self.unit = unit
        self.sensor_id = unit.id
        self.interval = FAMILY.report_interval.total_seconds()
        self.world = world
        self.rng = rng
        self.p = PROFILES[unit.type]
        self.heating = unit.type == "hot_holding"
        self.temp_c = rng.uniform(self.p.low_c, self.p.high_c)
        self.running = rng.random() < 0.5
        self.door_until = -1.0
        self.battery_pct = rng.uniform(60.0, 100.0)
        self.t = 0.0

    def _busy(self, t: float) -> bool:
        h = self.world.tod_hours(t)
        return 11.0 <= h < 22.0

    def _step(self, t: float, dt: float) -> None:
        p, world, uid = self.p, self.world, self.unit.id
        ambient = world.ambient_c(t)
        failed = world.active("freezer_failure", uid, t) or world.active(
            "hot_holding_cooling", uid, t
        )
        if isinstance(failed, FreezerFailure | HotHoldingCooling):
            ambient = failed.ambient_c
        stuck = world.active("fridge_door_open", uid, t)
        if isinstance(stuck, FridgeDoorOpen):
            ambient = stuck.ambient_c
        # doors: a Poisson process of short openings, busier at meal times
        rate = (p.doors_per_hour_busy if self._busy(t) else p.doors_per_hour_busy / 4) / 3600.0
        if t >= self.door_until and self.rng.random() < rate * dt:
            self.door_until = t + self.rng.uniform(10.0, 45.0)
        door_open = stuck is not None or t < self.door_until
        # thermostat with hysteresis
        if self.heating:
            if self.temp_c < p.low_c:
                self.running = True
            elif self.temp_c > p.high_c:
                self.running = False
        elif self.temp_c > p.high_c:
            self.running = True
        elif self.temp_c < p.low_c:
            self.running = False
        works = failed is None
        tau = p.door_tau_min if door_open else p.wall_tau_min
        rate_c = (ambient - self.temp_c) / tau + (
            p.drive_c_per_min if self.running and works else 0.0
        )
        self.temp_c += rate_c * dt / 60.0
        self.battery_pct = max(0.0, self.battery_pct - 0.2 / 3600.0 * dt)

    def sample(self, t: float) -> dict[str, Any]:
        """Temperature, door state and battery at `t`."""
        while self.t + STEP_S <= t:
            self.t += STEP_S
            self._step(self.t, STEP_S)
        door_open = (
            t < self.door_until
            or self.world.active("fridge_door_open", self.unit.id, t) is not None
        )
        return {
            "temp_c": round(self.temp_c + self.rng.gauss(0.0, 0.08), 1),
            "door_open": door_open,
            "battery_pct": round(self.battery_pct, 1),
        }


def build(world: World) -> list[Device]:
    """A probe for every catering unit of the venue."""
    return [TemperatureProbe(u, world, world.rng_for(u.id)) for u in world.venue.catering]


class FreezerFailure(IncidentBase):
    """A freezer's compressor stops: it warms toward the ambient temperature."""

    type: Literal["freezer_failure"]
    ambient_c: float = 22.0


class FridgeDoorOpen(IncidentBase):
    """A fridge (or freezer) door is left open."""

    type: Literal["fridge_door_open"]
    ambient_c: float = 24.0


class HotHoldingCooling(IncidentBase):
    """A hot-holding unit's heater fails: food cools toward ambient."""

    type: Literal["hot_holding_cooling"]
    ambient_c: float = 20.0


INCIDENTS = (
    IncidentType(
        FreezerFailure,
        "catering",
        Expectation(
            "coldchain", "freezer above -18 °C (warning) / -12 °C (critical)", ("freezer",)
        ),
        {"*": ("freezer",)},
        frozenset({"freezer"}),
    ),
    IncidentType(
        FridgeDoorOpen,
        "catering",
        Expectation(
            "coldchain", "cold holding above 5 °C (warning) / 8 °C (critical)", ("cold", "fridge")
        ),
        {"fridge": ("cold-holding",), "freezer": ("freezer",)},
        frozenset({"fridge", "freezer"}),
    ),
    IncidentType(
        HotHoldingCooling,
        "catering",
        Expectation("coldchain", "hot holding below 63 °C", ("hot",)),
        {"*": ("hot-holding",)},
        frozenset({"hot_holding"}),
    ),
)
