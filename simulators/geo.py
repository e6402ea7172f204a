"""Plane geometry on a small area: metres from lat/lon, polylines, distance to a path."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

EARTH_RADIUS_M = 6_371_008.8
LatLon = tuple[float, float]


def haversine_m(a: LatLon, b: LatLon) -> float:
    """Great-circle distance between two points in metres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


class Frame:
    """A local east/north frame in metres around a reference point (equirectangular)."""

    def __init__(self, origin: LatLon) -> None:
        self.lat0, self.lon0 = origin
        self._ky = math.pi * EARTH_RADIUS_M / 180
        self._kx = self._ky * math.cos(math.radians(self.lat0))

    def to_xy(self, p: LatLon) -> tuple[float, float]:
        """Metres east and north of the origin."""
        return (p[1] - self.lon0) * self._kx, (p[0] - self.lat0) * self._ky

    def to_latlon(self, x: float, y: float) -> LatLon:
        """The point `x` metres east and `y` metres north of the origin."""
        return self.lat0 + y / self._ky, self.lon0 + x / self._kx


class Polyline:
    """A path in a local frame: position, heading and normal at a distance along it."""

    def __init__(self, points: Sequence[LatLon]) -> None:
        if len(points) < 2:
            raise ValueError("a path needs at least two points")
        self.frame = Frame(points[0])
        self.xy = [self.frame.to_xy(p) for p in points]
        self.cum = [0.0]
        for (x0, y0), (x1, y1) in zip(self.xy, self.xy[1:], strict=False):
            self.cum.append(self.cum[-1] + math.hypot(x1 - x0, y1 - y0))
        self.length = self.cum[-1]

    def _segment(self, s: float) -> int:
        i = bisect_right(self.cum, s) - 1
        return max(0, min(i, len(self.xy) - 2))

    def point_xy(self, s: float) -> tuple[float, float]:
        """The point at distance `s` (clamped to the path) in local metres."""
        s = max(0.0, min(s, self.length))
        i = self._segment(s)
        seg = self.cum[i + 1] - self.cum[i]
        f = 0.0 if seg == 0 else (s - self.cum[i]) / seg
        (x0, y0), (x1, y1) = self.xy[i], self.xy[i + 1]
        return x0 + f * (x1 - x0), y0 + f * (y1 - y0)

    def direction(self, s: float) -> tuple[float, float]:
        """Unit vector of travel at distance `s` (forward along the path)."""
        i = self._segment(max(0.0, min(s, self.length)))
        (x0, y0), (x1, y1) = self.xy[i], self.xy[i + 1]
        d = math.hypot(x1 - x0, y1 - y0) or 1.0
        return (x1 - x0) / d, (y1 - y0) / d

    def project(self, p: LatLon) -> float:
        """Distance along the path of the path point nearest to `p`."""
        px, py = self.frame.to_xy(p)
        best, best_s = math.inf, 0.0
        for i in range(len(self.xy) - 1):
            (x0, y0), (x1, y1) = self.xy[i], self.xy[i + 1]
            dx, dy = x1 - x0, y1 - y0
            seg2 = dx * dx + dy * dy
            f = 0.0 if seg2 == 0 else max(0.0, min(1.0, ((px - x0) * dx + (py - y0) * dy) / seg2))
            d = math.hypot(x0 + f * dx - px, y0 + f * dy - py)
            if d < best:
                best, best_s = d, self.cum[i] + f * math.sqrt(seg2)
        return best_s

    def distance_m(self, p: LatLon) -> float:
        """Distance in metres from `p` to the nearest point of the path."""
        px, py = self.frame.to_xy(p)
        x, y = self.point_xy(self.project(p))
        return math.hypot(px - x, py - y)


def heading_deg(dx: float, dy: float) -> float:
    """Compass heading (0 = north, clockwise) of a move east `dx`, north `dy`."""
    return round(math.degrees(math.atan2(dx, dy)) % 360.0, 1)


def centroid(points: Sequence[LatLon]) -> LatLon:
    """The mean of some points (good enough for a small polygon's middle)."""
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)
