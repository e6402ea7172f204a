"""The venue file: the example venue, the sensors it implies, and errors that say where."""

from __future__ import annotations

import math
from itertools import combinations, pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from opsroom import topics
from opsroom.configfile import ConfigError
from opsroom.families.shuttle import Route, Stop, route_of
from opsroom.venue import Venue, load_venue

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "venue.yaml"
EARTH_RADIUS_M = 6_371_008.8

Point = tuple[float, float]  # (lat, lon) in degrees
XY = tuple[float, float]  # metres east, north of a reference point


@pytest.fixture(scope="module")
def venue() -> Venue:
    return load_venue(EXAMPLE)


# --- geometry helpers: small enough to trust, exact enough for a site a few km across ---------


def haversine_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def to_xy(p: Point, origin: Point) -> XY:
    """Local equirectangular projection around `origin`, in metres."""
    k = math.pi / 180 * EARTH_RADIUS_M
    return ((p[1] - origin[1]) * k * math.cos(math.radians(origin[0])), (p[0] - origin[0]) * k)


def point_segment_m(p: Point, a: Point, b: Point) -> float:
    """Distance in metres from p to the segment a-b."""
    (px, py), (ax, ay), (bx, by) = to_xy(p, p), to_xy(a, p), to_xy(b, p)
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(ax + t * dx - px, ay + t * dy - py)


def distance_to_line_m(p: Point, line: list[Point]) -> float:
    return min(point_segment_m(p, a, b) for a, b in pairwise(line))


def line_length_m(line: list[Point]) -> float:
    return sum(haversine_m(a, b) for a, b in pairwise(line))


def _cross(o: XY, a: XY, b: XY) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_cross(p1: XY, p2: XY, q1: XY, q2: XY) -> bool:
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0


def inside(p: XY, polygon: list[XY]) -> bool:
    """Ray casting: is p strictly inside the polygon?"""
    hit = False
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y1 > p[1]) != (y2 > p[1]) and p[0] < x1 + (p[1] - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def polygons_overlap(a: list[XY], b: list[XY]) -> bool:
    edges_a = list(zip(a, a[1:] + a[:1], strict=True))
    edges_b = list(zip(b, b[1:] + b[:1], strict=True))
    if any(_segments_cross(*ea, *eb) for ea in edges_a for eb in edges_b):
        return True
    return any(inside(p, b) for p in a) or any(inside(p, a) for p in b)


def polygon_area_m2(polygon: list[XY]) -> float:
    ring = zip(polygon, polygon[1:] + polygon[:1], strict=True)
    return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in ring)) / 2


def test_geometry_helpers() -> None:
    # one degree of latitude is about 111.2 km; 0.001 degree of longitude at 52 N about 68.5 m
    assert haversine_m((52.0, -1.0), (53.0, -1.0)) == pytest.approx(111_195, rel=1e-4)
    assert point_segment_m((52.0, -1.0), (52.0, -1.001), (52.0, -0.999)) == pytest.approx(
        0, abs=1e-6
    )
    assert point_segment_m((52.0, -1.0), (52.0, -1.002), (52.0, -1.001)) == pytest.approx(
        68.6, abs=0.5
    )
    square = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]
    assert inside((5.0, 5.0), square)
    assert not inside((15.0, 5.0), square)
    assert polygon_area_m2(square) == 100
    assert polygons_overlap(square, [(5.0, 5.0), (15.0, 5.0), (15.0, 15.0)])
    assert polygons_overlap(square, [(2.0, 2.0), (3.0, 2.0), (3.0, 3.0)])  # wholly inside
    assert not polygons_overlap(square, [(11.0, 0.0), (20.0, 0.0), (20.0, 10.0)])


# --- the example venue ---------------------------------------------------------------------------


def test_example_loads_with_required_contents(venue: Venue) -> None:
    assert venue.event.name == "Riverside Festival"
    assert ZoneInfo(venue.event.timezone).key == "Europe/London"
    assert len(venue.zones) >= 6
    assert len(venue.gates) >= 4
    assert len(venue.generators) >= 4
    assert {60, 200, 500, 800} <= {g.rated_kva for g in venue.generators}
    assert all(g.nominal_v == 230 and g.nominal_hz == 50 for g in venue.generators)
    assert len(venue.catering) >= 10
    assert {c.type for c in venue.catering} == {"fridge", "freezer", "hot_holding"}
    assert all(c.vendor for c in venue.catering)
    assert len(venue.routes) == 2
    assert len(venue.shuttles) == 6
    assert {s.route for s in venue.shuttles} == {r.id for r in venue.routes}
    assert all(4 <= g.width_m <= 12 for g in venue.gates)


def test_example_capacities_are_plausible_licences(venue: Venue) -> None:
    for zone in venue.zones:
        assert 0.5 <= zone.capacity / zone.area_m2 <= 2, zone.id


def test_example_zones_have_geometry_that_fits(venue: Venue) -> None:
    origin = venue.zones[0].polygon[0]  # type: ignore[index]
    shapes: dict[str, list[XY]] = {}
    for zone in venue.zones:
        assert zone.polygon is not None and 4 <= len(zone.polygon) <= 6, zone.id
        assert zone.location is not None, zone.id
        shape = [to_xy(p, origin) for p in zone.polygon]
        assert inside(to_xy(zone.location, origin), shape), f"{zone.id}: location outside polygon"
        # usable area fits in the fenced footprint
        assert zone.area_m2 <= polygon_area_m2(shape), zone.id
        shapes[zone.id] = shape
    for (a, shape_a), (b, shape_b) in combinations(shapes.items(), 2):
        assert not polygons_overlap(shape_a, shape_b), f"zones {a} and {b} overlap"


def test_example_gates_sit_at_their_zone(venue: Venue) -> None:
    zones = {z.id: z for z in venue.zones}
    for gate in venue.gates:
        assert gate.zone in zones and gate.location is not None, gate.id
        polygon = zones[gate.zone].polygon
        assert polygon is not None
        edge = distance_to_line_m(gate.location, [*polygon, polygon[0]])
        assert edge <= 50, f"{gate.id} is {edge:.0f} m from {gate.zone}"


def test_example_everything_is_on_site(venue: Venue) -> None:
    centre = venue.zones[0].location
    assert centre is not None
    things = [*venue.zones, *venue.gates, *venue.generators, *venue.catering]
    for thing in things:
        assert thing.location is not None, thing.id
        assert haversine_m(centre, thing.location) < 1_500, thing.id


@pytest.mark.parametrize(
    ("route_id", "min_km", "max_km"), [("town-shuttle", 5, 8), ("car-park-loop", 2, 3)]
)
def test_example_routes(venue: Venue, route_id: str, min_km: float, max_km: float) -> None:
    route = next(r for r in venue.routes if r.id == route_id)
    assert route.path is not None and 10 <= len(route.path) <= 25
    assert 3 <= len(route.stops) <= 5
    assert route.corridor_m == 50
    assert min_km <= line_length_m(route.geometry()) / 1000 <= max_km
    if route.loop:
        assert haversine_m(route.path[0], route.path[-1]) < 1, "a loop's path closes"
    for stop in route.stops:
        off = distance_to_line_m((stop.lat, stop.lon), route.geometry())
        assert off <= 15, f"{route.id}: stop {stop.id} is {off:.1f} m off the path"


def test_example_route_speed_limits(venue: Venue) -> None:
    limits = {r.id: r.speed_limit_kmh for r in venue.routes}
    assert limits == {"town-shuttle": 48, "car-park-loop": 24}


def test_sensors_maps_every_device_to_its_kind(venue: Venue) -> None:
    sensors = venue.sensors()
    assert sensors[("crowd", "main-arena")] == "zone"
    assert sensors[("crowd", "main-gate")] == "gate"
    assert sensors[("power", "gen-main-stage")] == "generator"
    assert sensors[("coldchain", "scoops-freezer-1")] == "freezer"
    assert sensors[("coldchain", "smokestack-fridge")] == "fridge"
    assert sensors[("coldchain", "curry-up-hot")] == "hot_holding"
    assert sensors[("shuttle", "town-bus-1")] == "shuttle"
    assert sensors[("weather", "wx-arena")] == "station"
    expected = (
        len(venue.zones)
        + len(venue.gates)
        + len(venue.generators)
        + len(venue.catering)
        + len(venue.shuttles)
        + len(venue.stations)
    )
    assert len(sensors) == expected
    assert {kind for kind, _ in sensors} == {"crowd", "power", "coldchain", "shuttle", "weather"}
    for kind, sensor_id in sensors:
        assert topics.valid_id(sensor_id), sensor_id
        parsed = topics.parse_reading(topics.reading("riverside", kind, sensor_id))
        assert parsed is not None and parsed.sensor_id == sensor_id


def test_route_of(venue: Venue) -> None:
    route = route_of(venue, "loop-bus-2")
    assert route is not None and route.id == "car-park-loop"
    assert route_of(venue, "no-such-bus") is None


def test_route_geometry_without_path() -> None:
    stops = [Stop(id="a", lat=52.0, lon=-1.0), Stop(id="b", lat=52.01, lon=-1.0)]
    assert Route(id="r", stops=stops, loop=True).geometry() == [
        (52.0, -1.0),
        (52.01, -1.0),
        (52.0, -1.0),
    ]
    assert Route(id="r", stops=stops, loop=False).geometry() == [(52.0, -1.0), (52.01, -1.0)]


# --- invalid venue files: the message names file, line, field path and what was expected -------

BASE = """\
event:
  name: Test Festival
zones:
  - id: arena
    area_m2: 1000
    capacity: 800
routes:
  - id: town
    stops:
      - id: station
        lat: 52.03
        lon: -0.97
      - id: festival
        lat: 52.07
        lon: -1.02
shuttles:
  - id: bus-1
    route: town
"""


def test_base_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "venue.yaml"
    path.write_text(BASE)
    assert load_venue(path).shuttles[0].route == "town"


INVALID = [
    pytest.param(
        BASE.replace("area_m2: 1000", "area_m2: -50"),
        5,
        "zones[0].area_m2",
        "greater than 0 (got -50)",
        id="negative-area",
    ),
    pytest.param(
        BASE.replace("    capacity: 800\n", ""),
        4,
        "zones[0].capacity",
        "Field required",
        id="missing-capacity",
    ),
    pytest.param(
        BASE.replace("capacity: 800", "capcity: 800"),
        6,
        "zones[0].capcity",
        "Extra inputs are not permitted",
        id="typo-capcity",
    ),
    pytest.param(
        BASE.replace("capacity: 800", "capacity: lots"),
        6,
        "zones[0].capacity",
        "valid integer",
        id="capacity-not-a-number",
    ),
    pytest.param(
        BASE.replace("lat: 52.07", "lat: 95"),
        14,
        "routes[0].stops[1].lat",
        "less than or equal to 90 (got 95)",
        id="stop-latitude-95",
    ),
    pytest.param(
        BASE.replace("      - id: festival\n        lat: 52.07\n        lon: -1.02\n", ""),
        9,
        "routes[0].stops",
        "at least 2 items",
        id="route-with-one-stop",
    ),
    pytest.param(
        BASE.replace("route: town", "route: airport"),
        18,
        "shuttles[0].route",
        "'airport' is not a route of this venue",
        id="shuttle-on-unknown-route",
    ),
    pytest.param(
        BASE + "gates:\n  - id: north-gate\n    width_m: 6\n    zone: arena2\n",
        22,
        "gates[0].zone",
        "'arena2' is not a zone of this venue",
        id="gate-into-unknown-zone",
    ),
    pytest.param(
        BASE + "gates:\n  - id: north-gate\n    width_m: 0\n",
        21,
        "gates[0].width_m",
        "greater than 0",
        id="gate-zero-width",
    ),
    pytest.param(
        BASE + "generators:\n  - id: arena\n    rated_kva: 200\n",
        20,
        "generators[0].id",
        "id 'arena' is already used by zones[0]",
        id="duplicate-id-across-sections",
    ),
    pytest.param(
        BASE + "generators:\n  - id: gen-1\n    rated_kva: 200\n    nominal_hz: 55\n",
        22,
        "generators[0].nominal_hz",
        "50 or 60 (got 55)",
        id="generator-odd-frequency",
    ),
    pytest.param(
        BASE + "catering:\n  - id: unit-1\n    type: cooler\n",
        21,
        "catering[0].type",
        "'fridge', 'freezer' or 'hot_holding' (got 'cooler')",
        id="catering-unknown-type",
    ),
    pytest.param(
        BASE.replace("id: bus-1", "id: bus/1"),
        17,
        "shuttles[0].id",
        "(got 'bus/1')",
        id="id-with-slash",
    ),
    pytest.param(
        BASE.replace("id: arena", "id: arena+"),
        4,
        "zones[0].id",
        "(got 'arena+')",
        id="id-with-plus",
    ),
    pytest.param(
        BASE.replace("event:\n  name: Test Festival\n", "event: {}\n"),
        1,
        "event.name",
        "Field required",
        id="event-without-name",
    ),
]


@pytest.mark.parametrize(("text", "line", "field", "expected"), INVALID)
def test_invalid_venue_names_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, expected: str
) -> None:
    path = tmp_path / "venue.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_venue(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert f"line {line}: {field}: " in message
    assert expected in message


def test_every_problem_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "venue.yaml"
    path.write_text(BASE.replace("area_m2: 1000", "area_m2: -50").replace("lat: 52.07", "lat: 95"))
    with pytest.raises(ConfigError) as caught:
        load_venue(path)
    assert len(caught.value.problems) == 2
    assert "2 problems" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            BASE.replace("    capacity: 800", "   capacity: 800"),
            "line 6: not valid YAML",
            id="bad-indentation",
        ),
        pytest.param(
            BASE.replace("    capacity: 800", "\tcapacity: 800"),
            "line 6: not valid YAML: found character '\\t'",
            id="tab-indentation",
        ),
        pytest.param(
            BASE.replace("name: Test Festival", "name: Test: Festival"),
            "line 2: not valid YAML: mapping values are not allowed here",
            id="unquoted-colon",
        ),
        pytest.param("", "file is empty", id="empty-file"),
        pytest.param("# nothing here yet\n", "file is empty", id="comments-only"),
        pytest.param("- zones\n- gates\n", "valid dictionary", id="list-at-top"),
    ],
)
def test_unreadable_venue_file(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "venue.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_venue(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def test_missing_venue_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "venue.yaml"
    with pytest.raises(ConfigError) as caught:
        load_venue(path)
    assert str(caught.value) == f"{path}: cannot read file: No such file or directory"


# --- known gaps, kept here so a fix shows up as an unexpected pass ------------------------------


def test_unclosed_bracket_names_the_line_it_opens(tmp_path: Path) -> None:
    path = tmp_path / "venue.yaml"
    path.write_text(BASE.replace("capacity: 800", "capacity: [800"))
    with pytest.raises(ConfigError, match="line 6: "):
        load_venue(path)


@pytest.mark.parametrize("area", [".inf", "1e400"])
def test_infinite_area_is_rejected(tmp_path: Path, area: str) -> None:
    path = tmp_path / "venue.yaml"
    path.write_text(BASE.replace("area_m2: 1000", f"area_m2: {area}"))
    with pytest.raises(ConfigError, match=r"line 5: zones\[0\]\.area_m2"):
        load_venue(path)


def test_repeated_key_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "venue.yaml"
    path.write_text(BASE.replace("    capacity: 800\n", "    capacity: 800\n    capacity: 8000\n"))
    with pytest.raises(ConfigError, match="line 7: "):
        load_venue(path)
