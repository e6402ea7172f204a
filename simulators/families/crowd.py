"""People counters: a zone's occupancy fed by its gates' in/out flows.

One shared CrowdModel moves people through the gates in fixed steps; every count it adds to a
zone it also adds to that zone's in/out since the last report, so for every zone
occupancy(report k) = occupancy(report k-1) + in(k) - out(k), and occupancy is never negative.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from opsroom.families.crowd import FAMILY, Gate, Zone
from simulators.families.base import Expectation, IncidentBase, IncidentType
from simulators.world import Device, World, smoothstep

STEP_S = 10.0
TAU_S = 600.0  # a zone closes the gap to its target occupancy with this time constant
NORMAL_PPM = 50.0  # persons per metre of gate width per minute, below the Green Guide's 66
CROWDED_PPM = 75.0  # what a pushed gate lets through while a zone overfills
CHURN_PER_S = 0.002 / 60  # share of a zone's people that leave (and are replaced) each second
# a zone without a gate counts through a notional entrance this wide
NOTIONAL_WIDTH_M = 10.0


def _is_camp(zone: Zone) -> bool:
    return "camp" in zone.id.lower() or "camp" in zone.name.lower()


@dataclass
class _Counter:
    in_: int = 0
    out: int = 0


@dataclass
class _ZoneState:
    zone: Zone
    gates: list[Gate]
    occupancy: int
    counter: _Counter = field(default_factory=_Counter)


def _count(rng: random.Random, mean: float) -> int:
    """A whole number of people around `mean` (Poisson-like spread, never negative)."""
    if mean <= 0:
        return 0
    if mean < 20:
        # Knuth's method: exact Poisson for small means
        limit, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= rng.random()
            if p <= limit:
                return k
            k += 1
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


class CrowdModel:
    """Occupancy of every zone and the flows through every gate, stepped every 10 s."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.t = 0.0
        crowd = world.drill.crowd
        by_zone: dict[str, list[Gate]] = {z.id: [] for z in world.venue.zones}
        for g in world.venue.gates:
            if g.zone is not None:
                by_zone[g.zone].append(g)
        self.zones = {
            z.id: _ZoneState(z, by_zone[z.id], round(z.capacity * crowd.initial))
            for z in world.venue.zones
        }
        self.gate_counters = {g.id: _Counter() for g in world.venue.gates}
        self.gate_totals = {g.id: _Counter() for g in world.venue.gates}

    def target(self, zone: Zone, t: float) -> float:
        """How many people the scenario wants in `zone` at `t` (before incidents)."""
        crowd = self.world.drill.crowd
        doors = crowd.doors.total_seconds()
        ramp = smoothstep((t - doors) / crowd.arrival.total_seconds())
        fill = crowd.initial + (crowd.attendance - crowd.initial) * ramp
        # campers walk back to their tents at the curfew: the campsite does not empty
        if crowd.egress is not None and not _is_camp(zone):
            fill *= 1 - smoothstep(
                (t - crowd.egress.total_seconds()) / crowd.egress_length.total_seconds()
            )
        for wave in crowd.waves:
            if wave.zone != zone.id:
                continue
            at, build = wave.at.total_seconds(), wave.build_up.total_seconds()
            end = at + wave.length.total_seconds()
            if t < end:
                w = smoothstep((t - (at - build)) / build)
            else:
                w = 1 - smoothstep((t - end) / 1200.0)
            fill = max(fill, wave.draw * w)
        return zone.capacity * fill

    def doors_open(self, t: float) -> bool:
        """True once the doors have opened (before, nobody comes in)."""
        crowd = self.world.drill.crowd
        return t >= crowd.doors.total_seconds()

    def advance_to(self, t: float) -> None:
        """Step the model up to `t` (never back)."""
        while self.t + STEP_S <= t:
            self.t += STEP_S
            self._step(self.t, STEP_S)

    def _step(self, t: float, dt: float) -> None:
        world = self.world
        for zs in self.zones.values():
            zone = zs.zone
            goal = self.target(zone, t)
            tau, ppm = TAU_S, NORMAL_PPM
            over = world.active("zone_over_capacity", zone.id, t)
            if isinstance(over, ZoneOverCapacity):
                goal, tau, ppm = zone.capacity * over.fill_pct / 100.0, 180.0, CROWDED_PPM
            gap = goal - zs.occupancy
            churn = zs.occupancy * CHURN_PER_S * dt
            open_ = self.doors_open(t)
            want_in = (max(gap, 0.0) * dt / tau + churn) if open_ else 0.0
            want_out = max(-gap, 0.0) * dt / tau + (churn if open_ else 0.0)
            gates: list[tuple[str | None, float]] = [(g.id, g.width_m) for g in zs.gates] or [
                (None, NOTIONAL_WIDTH_M)
            ]
            width = sum(w for _, w in gates)
            for gate_id, w in gates:
                share = w / width
                limit = ppm * w * dt / 60.0
                n_in = min(_count(self.rng, want_in * share), math.floor(limit))
                surge = world.active("gate_surge", gate_id, t) if gate_id else None
                if isinstance(surge, GateSurge):
                    n_in = _count(self.rng, surge.rate_ppm * w * dt / 60.0)
                n_out = min(_count(self.rng, want_out * share), math.floor(limit))
                n_out = min(n_out, zs.occupancy + n_in)
                zs.occupancy += n_in - n_out
                zs.counter.in_ += n_in
                zs.counter.out += n_out
                if gate_id is not None:
                    for c in (self.gate_counters[gate_id], self.gate_totals[gate_id]):
                        c.in_ += n_in
                        c.out += n_out

    def take_zone(self, zone_id: str) -> tuple[int, int, int]:
        """(occupancy, in, out since the last call) of a zone."""
        zs = self.zones[zone_id]
        c, zs.counter = zs.counter, _Counter()
        return zs.occupancy, c.in_, c.out

    def take_gate(self, gate_id: str) -> tuple[int, int]:
        """(in, out) through a gate since the last call."""
        c = self.gate_counters[gate_id]
        self.gate_counters[gate_id] = _Counter()
        return c.in_, c.out

    def fill(self, zone_id: str) -> float:
        """Occupancy as a fraction of licensed capacity."""
        zs = self.zones[zone_id]
        return zs.occupancy / zs.zone.capacity


def crowd_model(world: World) -> CrowdModel:
    """The world's one crowd model (made on first use)."""
    model = world.shared.get("crowd")
    if model is None:
        model = world.shared["crowd"] = CrowdModel(world, world.rng_for("crowd-model"))
    assert isinstance(model, CrowdModel)
    return model


class ZoneCounter:
    """A zone's counting system: occupancy and the in/out since its last report."""

    kind = FAMILY.kind

    def __init__(self, zone: Zone, model: CrowdModel) -> None:
        self.sensor_id = zone.id
        self.interval = FAMILY.report_interval.total_seconds()
        self.model = model

    def sample(self, t: float) -> dict[str, Any]:
        """Occupancy now and in/out since the last report."""
        self.model.advance_to(t)
        occupancy, n_in, n_out = self.model.take_zone(self.sensor_id)
        return {"occupancy": occupancy, "in": n_in, "out": n_out}


class GateCounter:
    """A gate's beam counter: people in and out since its last report."""

    kind = FAMILY.kind

    def __init__(self, gate: Gate, model: CrowdModel) -> None:
        self.sensor_id = gate.id
        self.interval = FAMILY.report_interval.total_seconds()
        self.model = model

    def sample(self, t: float) -> dict[str, Any]:
        """In/out since the last report."""
        self.model.advance_to(t)
        n_in, n_out = self.model.take_gate(self.sensor_id)
        return {"in": n_in, "out": n_out}


def build(world: World) -> list[Device]:
    """A counter for every zone and every gate of the venue."""
    model = crowd_model(world)
    zones: list[Device] = [ZoneCounter(z, model) for z in world.venue.zones]
    gates: list[Device] = [GateCounter(g, model) for g in world.venue.gates]
    return zones + gates


class GateSurge(IncidentBase):
    """A surge at a gate: inflow at `rate_ppm` persons per metre of width per minute."""

    type: Literal["gate_surge"]
    rate_ppm: float = Field(90.0, gt=0, le=200)


class ZoneOverCapacity(IncidentBase):
    """A zone fills to `fill_pct` of its licensed capacity."""

    type: Literal["zone_over_capacity"]
    fill_pct: float = Field(102.0, gt=0, le=150)


def _gates_of_zone(zone_id: str, venue: Any) -> list[str]:
    return [g.id for g in venue.gates if g.zone == zone_id]


def _zone_of_gate(gate_id: str, venue: Any) -> list[str]:
    return [g.zone for g in venue.gates if g.id == gate_id and g.zone is not None]


INCIDENTS = (
    IncidentType(
        GateSurge,
        "gates",
        Expectation(
            "crowd", "gate flow above 66 / 82 persons per metre per minute", ("flow", "gate")
        ),
        {"*": ("gate-flow",)},
        None,
        _zone_of_gate,
    ),
    IncidentType(
        ZoneOverCapacity,
        "zones",
        Expectation(
            "crowd",
            "occupancy above 85 % / 95 % of licensed capacity",
            ("capacity", "occupancy"),
        ),
        {"*": ("zone-occupancy",)},
        None,
        _gates_of_zone,
    ),
)
