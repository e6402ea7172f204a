"""Shuttle GPS trackers: buses drive the route's path between stops, dwell, carry passengers.

Speeds stay under the route's limit (they slow for each stop at a comfortable 1 m/s²), positions
stay on the path give or take a few metres of GPS jitter, and passengers on board never exceed
the seats. Incidents: a breakdown away from a stop, a diversion off the corridor, overspeed.
"""

from __future__ import annotations

import math
import random
from typing import Any, Literal

from pydantic import Field

from opsroom.families.shuttle import FAMILY, Route, Shuttle
from opsroom.geo import Polyline, heading_deg
from simulators.families.base import Expectation, IncidentBase, IncidentType
from simulators.world import Device, World

STEP_S = 2.0
ACCEL = 1.0  # m/s², comfortable for standing passengers
BRAKE = 1.0
JITTER_M = 2.5  # GPS noise (sd), clipped at 3 sd
STOP_CLEAR_M = 150.0  # a breakdown happens at least this far from a stop
OFF_ROUTE_M_PER_S = 5.0  # how fast a diverted bus moves away from (and back to) the path


class Bus:
    """One bus on its route."""

    kind = FAMILY.kind

    def __init__(
        self, bus: Shuttle, route: Route, index: int, of: int, world: World, rng: random.Random
    ) -> None:
        self.bus = bus
        self.route = route
        self.sensor_id = bus.id
        self.interval = FAMILY.report_interval.total_seconds()
        self.world = world
        self.rng = rng
        self.path = Polyline(route.geometry())
        self.limit = route.speed_limit_kmh / 3.6
        stops = sorted(self.path.project(s.lat, s.lon) for s in route.stops)
        if route.loop:
            stops = sorted({round(s % self.path.length, 3) for s in stops})
        self.stops = stops
        # spread the buses of a route along it, each heading for the next stop
        self.s = self.path.length * index / max(of, 1) * (0.5 if not route.loop else 1.0)
        self.dir = 1
        self.next = self._stop_after(self.s)
        self.cruise = self._new_cruise()
        self.v = min(self.cruise, math.sqrt(2 * BRAKE * self._ahead()))  # under way
        self.dwell_left = 0.0
        self.passengers = rng.randint(0, bus.seats // 2)
        self.offset = 0.0  # lateral offset from the path, metres (a diversion)
        self.t = 0.0

    def _new_cruise(self) -> float:
        return self.rng.uniform(0.72, 0.93) * self.limit

    def _stop_after(self, s: float) -> int:
        for i, stop_s in enumerate(self.stops):
            if stop_s > s + 0.5:
                return i
        return 0 if self.route.loop else len(self.stops) - 1

    def _ahead(self) -> float:
        """Distance along the direction of travel to the next stop."""
        d = (self.stops[self.next] - self.s) * self.dir
        if self.route.loop:
            d %= self.path.length
        return max(d, 0.0)

    def near_stop(self) -> bool:
        """True within STOP_CLEAR_M of any stop, along the path."""
        length = self.path.length
        for stop_s in self.stops:
            d = abs(stop_s - self.s)
            if self.route.loop:
                d = min(d, length - d)
            if d < STOP_CLEAR_M:
                return True
        return False

    def _arrive(self) -> None:
        self.s = self.stops[self.next]
        self.v = 0.0
        self.dwell_left = self.rng.uniform(30.0, 90.0)
        terminal = not self.route.loop and self.next in (0, len(self.stops) - 1)
        off = (
            self.passengers
            if terminal
            else sum(1 for _ in range(self.passengers) if self.rng.random() < 0.3)
        )
        self.passengers -= off
        room = self.bus.seats - self.passengers
        self.passengers += self.rng.randint(0, max(0, min(room, self.bus.seats // 2)))
        if self.route.loop:
            self.next = (self.next + 1) % len(self.stops)
        else:
            if self.next == len(self.stops) - 1:
                self.dir = -1
            elif self.next == 0:
                self.dir = 1
            self.next += self.dir
        self.cruise = self._new_cruise()

    def _step(self, t: float, dt: float) -> None:
        world, sid = self.world, self.bus.id
        broken = world.active("shuttle_breakdown", sid, t) is not None
        fast = world.active("overspeed", sid, t)
        off = world.active("shuttle_off_route", sid, t)
        goal_offset = off.offset_m if isinstance(off, ShuttleOffRoute) else 0.0
        step = OFF_ROUTE_M_PER_S * dt
        self.offset += max(-step, min(step, goal_offset - self.offset))
        if self.dwell_left > 0 and not (fast or broken):
            self.dwell_left -= dt
            self.v = 0.0
            return
        self.dwell_left = 0.0
        if broken and not self.near_stop():
            self.v = max(0.0, self.v - BRAKE * dt)
        else:
            ahead = self._ahead()
            if isinstance(fast, Overspeed):
                target = (fast.speed_kmh or self.route.speed_limit_kmh + 15.0) / 3.6
            else:
                # brake to arrive at the stop at rest: v² = 2·a·d
                target = min(self.cruise, math.sqrt(2 * BRAKE * ahead))
            if self.v < target:
                self.v = min(target, self.v + ACCEL * dt)
            else:
                self.v = max(target, self.v - BRAKE * dt)
            move = self.v * dt
            if move >= ahead and not fast:
                self._arrive()
                return
            if fast and move >= ahead:
                # skip the stop without stopping
                self.s = self.stops[self.next]
                self._pass_stop()
                move -= ahead
            self.s += move * self.dir
            if self.route.loop:
                self.s %= self.path.length
            else:
                self.s = max(0.0, min(self.s, self.path.length))

    def _pass_stop(self) -> None:
        if self.route.loop:
            self.next = (self.next + 1) % len(self.stops)
            return
        if self.next == len(self.stops) - 1:
            self.dir = -1
        elif self.next == 0:
            self.dir = 1
        self.next += self.dir

    def sample(self, t: float) -> dict[str, Any]:
        """Position, speed, heading and passengers at `t`."""
        while self.t + STEP_S <= t:
            self.t += STEP_S
            self._step(self.t, STEP_S)
        rng = self.rng
        x, y = self.path.point_xy(self.s)
        ux, uy = self.path.direction(self.s)
        ux, uy = ux * self.dir, uy * self.dir
        # the offset is to the right of travel; jitter is GPS noise, clipped at 3 sd
        x += uy * self.offset + max(-3 * JITTER_M, min(3 * JITTER_M, rng.gauss(0, JITTER_M)))
        y += -ux * self.offset + max(-3 * JITTER_M, min(3 * JITTER_M, rng.gauss(0, JITTER_M)))
        lat, lon = self.path.frame.latlon(x, y)
        speed = self.v * 3.6
        if speed > 0:
            speed = max(0.0, speed + rng.gauss(0.0, 0.4))
            if self.world.active("overspeed", self.bus.id, t) is None:
                speed = min(speed, self.route.speed_limit_kmh)
        return {
            "lat": round(lat, 6),
            "lon": round(lon, 6),
            "speed_kmh": round(speed, 1),
            "heading_deg": heading_deg(ux, uy),
            "passengers": self.passengers,
        }


def build(world: World) -> list[Device]:
    """A tracker for every shuttle of the venue."""
    routes = {r.id: r for r in world.venue.routes}
    devices: list[Device] = []
    for route in world.venue.routes:
        buses = [b for b in world.venue.shuttles if b.route == route.id]
        for i, b in enumerate(buses):
            devices.append(Bus(b, routes[b.route], i, len(buses), world, world.rng_for(b.id)))
    return devices


class ShuttleBreakdown(IncidentBase):
    """A bus breaks down away from a stop and stands still."""

    type: Literal["shuttle_breakdown"]


class ShuttleOffRoute(IncidentBase):
    """A bus leaves its corridor by `offset_m` (a diversion or a wrong turn)."""

    type: Literal["shuttle_off_route"]
    offset_m: float = Field(300.0, gt=0, le=10_000)


class Overspeed(IncidentBase):
    """A bus drives at `speed_kmh` (default: its route's limit + 15), skipping stops."""

    type: Literal["overspeed"]
    speed_kmh: float | None = Field(None, gt=0, le=200)


INCIDENTS = (
    IncidentType(
        ShuttleBreakdown,
        "shuttles",
        Expectation("shuttle", "stopped for 5 min away from a stop", ("stopped", "stationary")),
        {"*": ("shuttle-stopped",)},
        None,
    ),
    IncidentType(
        ShuttleOffRoute,
        "shuttles",
        Expectation(
            "shuttle", "outside the route corridor for 60 s", ("geofence", "corridor", "route")
        ),
        {"*": ("shuttle-off-route",)},
        None,
    ),
    IncidentType(
        Overspeed,
        "shuttles",
        Expectation("shuttle", "above the route's speed limit for 30 s", ("speed",)),
        {"*": ("shuttle-overspeed",)},
        None,
    ),
)
# the example rule a shuttle's silent GPS fires
SILENT_RULES = ("silent-gps",)
