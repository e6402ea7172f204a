"""geofence: a shuttle outside its route's corridor for a hold time.

GPS fixes scatter by several metres, so a bus driving along the edge of the corridor would
flap an alert that only compared distance with the band. Two defences: the hold time (every
fix outside the band for 60 s before it fires: jitter across the edge restarts it) and a clear
margin: the alert, pending or firing, ends only when the bus is back within
`band - clear_margin_m` of the route.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from opsroom.geo import LatLon, Polyline
from opsroom.i18n import _
from opsroom.rulesfile.kinds import GeofenceRule
from opsroom.rulesfile.spec import SEV_INDEX, format_seconds
from opsroom.rulesfile.subjects import Subject
from opsroom.telemetry import Value
from rules.evaluator import FIRING, NONE, PENDING, Evaluator, Latch, evaluates, held, max_gap


@lru_cache(maxsize=256)
def route_line(points: tuple[LatLon, ...]) -> Polyline:
    """The Polyline of a route's geometry, shared by every shuttle on the route."""
    return Polyline(points)


@evaluates(GeofenceRule)
class GeofenceEvaluator(Evaluator):
    """A latch on the distance from the route line."""

    __slots__ = ("band", "clear", "label", "latch", "line", "route_id", "severity")

    def __init__(self, rule: GeofenceRule, subject: Subject) -> None:
        super().__init__(rule.id, subject.id, subject.kind)
        route = subject.route
        self.line = None if route is None else route_line(tuple(route.geometry()))
        self.route_id = "" if route is None else route.id
        self.band = rule.band_m or (route.corridor_m if route is not None else 50.0)
        self.clear = max(0.0, self.band - rule.clear_margin_m)
        self.latch = Latch(rule.hold, max_gap(rule, subject), subject.report_interval_s)
        self.label = rule.label
        self.severity = SEV_INDEX[rule.severity]

    def step(self, values: Mapping[str, Value], ts: float, dt: float | None) -> None:
        """Measure the fix's distance from the route and update the latch."""
        lat, lon = values.get("lat"), values.get("lon")
        if lat is None or lon is None or self.line is None:
            return
        d = self.line.distance_m(lat, lon)
        self.value = d
        latch = self.latch
        latch.update(d > self.band, d <= self.clear, ts)
        if latch.since is None:
            self.status, self.sev = NONE, -1
        else:
            self.status = FIRING if latch.fired else PENDING
            self.sev, self.since = self.severity, latch.since

    def describe(self) -> str:
        """E.g. 'Off route: 180 m from route town-shuttle (corridor 50 m)'."""
        if self.status == NONE or self.value is None:
            return _("{label}: back on route {route}", label=self.label, route=self.route_id)
        text = _(
            "{label}: {distance} m from route {route} (corridor {band} m)",
            label=self.label,
            distance=f"{self.value:.0f}",
            route=self.route_id,
            band=f"{self.band:g}",
        )
        if self.status == PENDING:
            hold = format_seconds(self.latch.hold)
            return _("{text} (fires if it holds for {hold})", text=text, hold=hold)
        return held(text, self.latch)

    def dump(self) -> dict[str, Any]:
        """Base state plus the latch."""
        return {**super().dump(), "latch": self.latch.dump()}

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore from `dump`."""
        latch = state["latch"]
        super().load(state)
        self.latch.load(latch)
