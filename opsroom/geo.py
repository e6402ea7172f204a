"""Distances on the ground, in metres: haversine, and a local flat frame for a venue's routes.

The one geometry of Opsroom: the rules measure a shuttle's distance from its route, the
simulators drive buses along it, and the dashboard shows how far off it a bus is, all with
these functions and one Earth radius. A venue is a few km across, so distances to a route
are measured in a local equirectangular projection centred on it (error well under 0.1 % at
that scale), which turns each GPS fix's distance-to-route into plain arithmetic.
"""

from __future__ import annotations

import math
from bisect import bisect_right
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


def centroid(points: Sequence[LatLon]) -> LatLon:
    """The mean of some points (good enough for a small polygon's middle)."""
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def heading_deg(dx: float, dy: float) -> float:
    """Compass heading (0 = north, clockwise) of a move east `dx`, north `dy`."""
    return round(math.degrees(math.atan2(dx, dy)) % 360.0, 1)


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

    def latlon(self, x: float, y: float) -> LatLon:
        """The point `x` metres east and `y` metres north of the origin."""
        return self.lat0 + y / _M_PER_DEG, self.lon0 + x / self.kx


class Polyline:
    """A line of (lat, lon) points: the distance of a point from it, and positions along it."""

    __slots__ = ("_segments", "cum", "frame", "length", "xy")

    def __init__(self, points: Sequence[LatLon]) -> None:
        if not points:
            raise ValueError("a polyline needs at least one point")
        self.frame = LocalFrame(*centroid(points))
        xy = [self.frame.xy(lat, lon) for lat, lon in points]
        if len(xy) == 1:
            xy = xy * 2
        self.xy = xy
        # (ax, ay, dx, dy, 1/|d|²): the per-fix loop then needs no division
        self._segments = [
            (ax, ay, bx - ax, by - ay, 1.0 / ((bx - ax) ** 2 + (by - ay) ** 2 or 1.0))
            for (ax, ay), (bx, by) in pairwise(xy)
        ]
        self.cum = [0.0]  # distance along the line at each point
        for (x0, y0), (x1, y1) in pairwise(xy):
            self.cum.append(self.cum[-1] + math.hypot(x1 - x0, y1 - y0))
        self.length = self.cum[-1]

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

    def _segment(self, s: float) -> int:
        i = bisect_right(self.cum, s) - 1
        return max(0, min(i, len(self.xy) - 2))

    def point_xy(self, s: float) -> tuple[float, float]:
        """The point at distance `s` along the line (clamped to it), in the frame's metres."""
        s = max(0.0, min(s, self.length))
        i = self._segment(s)
        seg = self.cum[i + 1] - self.cum[i]
        f = 0.0 if seg == 0 else (s - self.cum[i]) / seg
        (x0, y0), (x1, y1) = self.xy[i], self.xy[i + 1]
        return x0 + f * (x1 - x0), y0 + f * (y1 - y0)

    def direction(self, s: float) -> tuple[float, float]:
        """Unit vector of travel at distance `s` (forward along the line)."""
        i = self._segment(max(0.0, min(s, self.length)))
        (x0, y0), (x1, y1) = self.xy[i], self.xy[i + 1]
        d = math.hypot(x1 - x0, y1 - y0) or 1.0
        return (x1 - x0) / d, (y1 - y0) / d

    def project(self, lat: float, lon: float) -> float:
        """Distance along the line of the line's point nearest to (lat, lon)."""
        px, py = self.frame.xy(lat, lon)
        best, best_s = math.inf, 0.0
        for i, (ax, ay, dx, dy, inv) in enumerate(self._segments):
            f = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) * inv))
            d = math.hypot(ax + f * dx - px, ay + f * dy - py)
            if d < best:
                best, best_s = d, self.cum[i] + f * (self.cum[i + 1] - self.cum[i])
        return best_s


class Points:
    """A set of (lat, lon) points, e.g. a route's stops; `nearest_m` measures to the closest."""

    __slots__ = ("_xy", "frame")

    def __init__(self, points: Sequence[LatLon]) -> None:
        if not points:
            raise ValueError("needs at least one point")
        self.frame = LocalFrame(*centroid(points))
        self._xy = [self.frame.xy(lat, lon) for lat, lon in points]

    def nearest_m(self, lat: float, lon: float) -> float:
        """Distance in metres from a point to the closest of the points."""
        px, py = self.frame.xy(lat, lon)
        return math.sqrt(min((x - px) ** 2 + (y - py) ** 2 for x, y in self._xy))
