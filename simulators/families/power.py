"""Generator power meters: load follows the crowd of the nearest zone and the time of day."""

from __future__ import annotations

import random
from typing import Any, Literal

from pydantic import Field

from opsroom.families.crowd import Zone
from opsroom.families.power import FAMILY, Generator
from opsroom.geo import centroid, haversine_m
from opsroom.venue import Venue
from simulators.families.base import Expectation, IncidentBase, IncidentType
from simulators.families.crowd import CrowdModel, crowd_model
from simulators.world import Device, World

BASE_LOAD = 0.12  # share of rated kVA drawn with nobody around (fridges, lights, PA idle)
CROWD_LOAD = 0.50  # extra share at a full zone
LIGHTING_LOAD = 0.10
FULL_LOAD_HOURS = 20.0  # a full tank lasts this long at rated load
REFUEL_BELOW_PCT = 15.0


def nearest_zone(gen: Generator, venue: Venue) -> str | None:
    """The zone a generator feeds: the one whose middle is nearest to it."""
    zones: list[Zone] = venue.zones
    if not zones:
        return None
    here = gen.location
    if here is None:
        return zones[0].id

    def distance(z: Zone) -> float:
        middle = z.location or (centroid(z.polygon) if z.polygon else here)
        return haversine_m(*here, *middle)

    return min(zones, key=distance).id


class PowerMeter:
    """A generator's meter: voltage, current, active power, frequency, fuel."""

    kind = FAMILY.kind

    def __init__(
        self, gen: Generator, zone: str | None, model: CrowdModel, world: World, rng: random.Random
    ) -> None:
        self.gen = gen
        self.sensor_id = gen.id
        self.interval = FAMILY.report_interval.total_seconds()
        self.zone = zone
        self.model = model
        self.world = world
        self.rng = rng
        self.t = 0.0
        self.fuel_pct = rng.uniform(70.0, 95.0)
        self.wobble = 0.0  # slow random drift of the load (AR(1))
        self.last_load = BASE_LOAD

    def _load(self, t: float) -> float:
        """Apparent power as a share of the rated kVA, before incidents."""
        fill = 0.0
        if self.zone is not None:
            self.model.advance_to(t)
            fill = self.model.fill(self.zone)
        load = BASE_LOAD + CROWD_LOAD * min(fill, 1.2)
        load += LIGHTING_LOAD * self.world.darkness(t)
        self.wobble = 0.9 * self.wobble + self.rng.gauss(0.0, 0.01)
        return max(0.03, min(load + self.wobble, 0.72))

    def sample(self, t: float) -> dict[str, Any]:
        """The meter's readings at `t`; fuel burns in proportion to the load since last time."""
        gen, world, rng = self.gen, self.world, self.rng
        load = self._load(t)
        droop = 0.0
        overload = world.active("overload", gen.id, t)
        if isinstance(overload, Overload):
            load = overload.load_pct / 100.0 + rng.gauss(0.0, 0.01)
            droop = 0.004
        tripped = world.active("generator_trip", gen.id, t) is not None
        dt = t - self.t
        self.t = t
        if tripped:
            self.last_load = 0.0
            return {
                "voltage_v": 0.0,
                "current_a": 0.0,
                "power_kw": 0.0,
                "frequency_hz": 0.0,
                "fuel_pct": round(self.fuel_pct, 1),
            }
        burn = 100.0 / (FULL_LOAD_HOURS * 3600.0) * (0.25 + 0.75 * load) * dt
        self.fuel_pct -= burn
        if self.fuel_pct < REFUEL_BELOW_PCT:
            self.fuel_pct = rng.uniform(90.0, 98.0)  # the bowser came round
        volts = gen.nominal_v * (1.01 - 0.03 * load + rng.gauss(0.0, 0.003))
        sag = world.active("voltage_sag", gen.id, t)
        if isinstance(sag, VoltageSag):
            volts *= 1 - sag.depth_pct / 100.0
        step = load - self.last_load
        self.last_load = load
        hz = gen.nominal_hz * (1 + rng.gauss(0.0, 0.0012) - 0.02 * step - droop)
        kva = load * gen.rated_kva
        return {
            "voltage_v": round(volts, 1),
            "current_a": round(kva * 1000.0 / (3 * volts), 1),
            "power_kw": round(kva * gen.power_factor, 1),
            "frequency_hz": round(hz, 2),
            "fuel_pct": round(max(self.fuel_pct, 0.0), 1),
        }


def build(world: World) -> list[Device]:
    """A meter for every generator of the venue."""
    model = crowd_model(world)
    return [
        PowerMeter(g, nearest_zone(g, world.venue), model, world, world.rng_for(g.id))
        for g in world.venue.generators
    ]


class GeneratorTrip(IncidentBase):
    """A generator trips: voltage, current, power and frequency fall to zero."""

    type: Literal["generator_trip"]


class VoltageSag(IncidentBase):
    """Voltage drops by `depth_pct` of nominal."""

    type: Literal["voltage_sag"]
    depth_pct: float = Field(20.0, gt=0, lt=90)


class Overload(IncidentBase):
    """The load rises to `load_pct` of the rated kVA."""

    type: Literal["overload"]
    load_pct: float = Field(100.0, gt=0, le=150)


INCIDENTS = (
    IncidentType(
        GeneratorTrip,
        "generators",
        Expectation(
            "power",
            "outage: voltage below 10 % of nominal / power drop",
            ("outage", "drop", "trip"),
        ),
        {"*": ("power-interruption", "power-drop")},
        None,
    ),
    IncidentType(
        VoltageSag,
        "generators",
        Expectation("power", "voltage outside +10 / -15 % of nominal", ("voltage",)),
        {"*": ("power-voltage",)},
        None,
    ),
    IncidentType(
        Overload,
        "generators",
        Expectation("power", "load above 80 % / 95 % of rated kVA", ("load",)),
        {"*": ("generator-load",)},
        None,
    ),
)
