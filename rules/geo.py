"""Distances on the ground for the shuttle rules: haversine, and point-to-route in metres.

A route is a few km across, so distances to it are measured in a local equirectangular
projection centred on the route (error well under 0.1 % at that scale), which turns each
reading's distance-to-route into plain arithmetic; that runs for every GPS fix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius
_M_PER_DEG = math.pi / 180 * EARTH_RADIUS_M

LatLon = tuple[float, float]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points in decimal degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class LocalFrame:
    """Metres east and north of an origin, for points a few km from it."""

    __slots__ = ("kx", "lat0", "lon0")

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0 = lat0
        self.lon0 = lon0
        self.kx = _M_PER_DEG * math.cos(math.radians(lat0))

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        """(east, north) in metres of a point."""
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * _M_PER_DEG


class Polyline:
    """A line of (lat, lon) points; `distance_m` is the shortest distance to any segment."""

    __slots__ = ("_segments", "frame")

    def __init__(self, points: Sequence[LatLon]) -> None:
        if not points:
            raise ValueError("a polyline needs at least one point")
        lat0 = sum(p[0] for p in points) / len(points)
        lon0 = sum(p[1] for p in points) / len(points)
        self.frame = LocalFrame(lat0, lon0)
        xy = [self.frame.xy(lat, lon) for lat, lon in points]
        if len(xy) == 1:
            xy = xy * 2
        # (ax, ay, dx, dy, 1/|d|²): the per-fix loop then needs no division
        self._segments = [
            (ax, ay, bx - ax, by - ay, 1.0 / ((bx - ax) ** 2 + (by - ay) ** 2 or 1.0))
            for (ax, ay), (bx, by) in pairwise(xy)
        ]

    def distance_m(self, lat: float, lon: float) -> float:
        """Distance in metres from a point to the nearest point of the line."""
        frame = self.frame
        px = (lon - frame.lon0) * frame.kx
        py = (lat - frame.lat0) * _M_PER_DEG
        best = math.inf
        for ax, ay, dx, dy, inv in self._segments:
            ex, ey = px - ax, py - ay
            t = (ex * dx + ey * dy) * inv
            if t <= 0.0:
                d2 = ex * ex + ey * ey
            elif t >= 1.0:
                fx, fy = ex - dx, ey - dy
                d2 = fx * fx + fy * fy
            else:
                fx, fy = ex - t * dx, ey - t * dy
                d2 = fx * fx + fy * fy
            if d2 < best:  # noqa: PLR1730 (a call to min() is measurably slower here)
                best = d2
        return math.sqrt(best)


class Points:
    """A set of (lat, lon) points, e.g. a route's stops; `nearest_m` measures to the closest."""

    __slots__ = ("_xy", "frame")

    def __init__(self, points: Sequence[LatLon]) -> None:
        if not points:
            raise ValueError("needs at least one point")
        lat0 = sum(p[0] for p in points) / len(points)
        lon0 = sum(p[1] for p in points) / len(points)
        self.frame = LocalFrame(lat0, lon0)
        self._xy = [self.frame.xy(lat, lon) for lat, lon in points]

    def nearest_m(self, lat: float, lon: float) -> float:
        """Distance in metres from a point to the closest of the points."""
        px, py = self.frame.xy(lat, lon)
        return math.sqrt(min((x - px) ** 2 + (y - py) ** 2 for x, y in self._xy))
