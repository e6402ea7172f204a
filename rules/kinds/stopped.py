"""stopped: a shuttle standing still for too long away from any stop of its route.

Stopped means slower than `below_kmh` (GPS speed at a standstill wanders over 0-2 km/h); it
takes `moving_kmh` to count as moving again, so an alert does not resolve while a broken-down
bus is pushed or a bus creeps in a queue at walking pace. Standing within `stop_radius_m` of
one of its route's stops is normal (loading, layover) and clears it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsroom.geo import Points
from opsroom.i18n import _
from opsroom.rulesfile.kinds import StoppedRule
from opsroom.rulesfile.spec import SEV_INDEX, format_seconds
from opsroom.rulesfile.subjects import Subject
from opsroom.telemetry import Value
from rules.evaluator import FIRING, NONE, PENDING, Evaluator, Latch, evaluates, held, max_gap


@evaluates(StoppedRule)
class StoppedEvaluator(Evaluator):
    """A latch on 'stopped and away from a stop'."""

    __slots__ = ("below", "distance", "label", "latch", "moving", "radius", "severity", "stops")

    def __init__(self, rule: StoppedRule, subject: Subject) -> None:
        super().__init__(rule.id, subject.id, subject.kind)
        route = subject.route
        self.stops = None if route is None else Points([(s.lat, s.lon) for s in route.stops])
        self.below, self.moving, self.radius = rule.below_kmh, rule.moving_kmh, rule.stop_radius_m
        self.latch = Latch(rule.hold, max_gap(rule, subject), subject.report_interval_s)
        self.label = rule.label
        self.severity = SEV_INDEX[rule.severity]
        self.distance = 0.0

    def step(self, values: Mapping[str, Value], ts: float, dt: float | None) -> None:
        """Update the latch from the fix's speed and, when slow, its distance to a stop."""
        speed = values.get("speed_kmh")
        if speed is None:
            return
        latch = self.latch
        if speed >= self.moving:
            latch.update(False, True, ts)
        else:
            lat, lon = values.get("lat"), values.get("lon")
            if lat is None or lon is None:
                return
            self.distance = self.stops.nearest_m(lat, lon) if self.stops is not None else 1e9
            near = self.distance <= self.radius
            latch.update(speed < self.below and not near, near, ts)
        self.value = float(speed)
        if latch.since is None:
            self.status, self.sev = NONE, -1
        else:
            self.status = FIRING if latch.fired else PENDING
            self.sev, self.since = self.severity, latch.since

    def describe(self) -> str:
        """E.g. 'Stopped: stopped for 5 min, 420 m from the nearest stop'."""
        if self.status == NONE:
            return _("{label}: moving again, or at a stop", label=self.label)
        text = _(
            "{label}: stopped {distance} m from the nearest stop",
            label=self.label,
            distance=f"{self.distance:.0f}",
        )
        if self.status == PENDING:
            hold = format_seconds(self.latch.hold)
            return _("{text} (fires if it holds for {hold})", text=text, hold=hold)
        return held(text, self.latch)

    def dump(self) -> dict[str, Any]:
        """Base state plus the latch and the last distance."""
        return {**super().dump(), "latch": self.latch.dump(), "distance": self.distance}

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore from `dump`."""
        latch, distance = state["latch"], float(state["distance"])
        super().load(state)
        self.latch.load(latch)
        self.distance = distance
