"""Distances for the shuttle rules, and the derived values rules watch."""

from __future__ import annotations

import math
import random
from itertools import pairwise

import pytest

from opsroom.geo import Points, Polyline, haversine_m
from opsroom.rulesfile.subjects import subjects_of
from opsroom.rulesfile.values import VALUES
from opsroom.venue import load_venue
from tests.rules.engine_helpers import VENUE
from tests.rules.test_rules_file import EXAMPLE_VENUE


@pytest.mark.parametrize(
    ("a", "b", "metres"),
    [
        ((52.0, -1.0), (52.0, -1.0), 0.0),
        ((0.0, 0.0), (1.0, 0.0), 111_195.08),  # one degree of latitude
        # Rosetta Code's haversine task: BNA - LAX, 2887.2599506 km on a 6372.8 km sphere
        ((36.12, -86.67), (33.94, -118.40), 2_887_259.9506 * 6_371_008.8 / 6_372_800.0),
    ],
)
def test_haversine(a: tuple[float, float], b: tuple[float, float], metres: float) -> None:
    assert haversine_m(*a, *b) == pytest.approx(metres, rel=1e-9, abs=0.01)


def _sampled_distance(p: tuple[float, float], line: list[tuple[float, float]]) -> float:
    """Brute force: the nearest of 200 points on each segment, by haversine."""
    best = math.inf
    for (alat, alon), (blat, blon) in pairwise(line):
        for i in range(201):
            f = i / 200
            best = min(best, haversine_m(*p, alat + f * (blat - alat), alon + f * (blon - alon)))
    return best


def test_distance_to_the_example_routes_matches_brute_force() -> None:
    venue = load_venue(EXAMPLE_VENUE)
    rng = random.Random(7)
    for route in venue.routes:
        line = route.geometry()
        poly = Polyline(line)
        for _ in range(40):
            lat, lon = rng.choice(line)
            p = (lat + rng.uniform(-0.003, 0.003), lon + rng.uniform(-0.005, 0.005))
            expected = _sampled_distance(p, line)
            # within 0.2 % (projection) or 3 m (the brute force's sampling step)
            assert poly.distance_m(*p) == pytest.approx(expected, rel=2e-3, abs=3.0)


def test_a_point_on_the_line_is_at_zero_and_offsets_are_metres() -> None:
    poly = Polyline([(52.0, -1.0), (52.0, -0.97)])
    assert poly.distance_m(52.0, -0.985) == pytest.approx(0.0, abs=1e-6)
    north = 52.0 + 50 / 111_195.08
    assert poly.distance_m(north, -0.985) == pytest.approx(50.0, rel=1e-3)
    # beyond the end the distance is to the end point
    assert poly.distance_m(52.0, -0.96) == pytest.approx(
        haversine_m(52.0, -0.96, 52.0, -0.97), rel=1e-3
    )


def test_nearest_point() -> None:
    stops = Points([(52.0, -1.0), (52.0, -0.97)])
    assert stops.nearest_m(52.0, -0.9999) == pytest.approx(
        haversine_m(52.0, -0.9999, 52.0, -1.0), rel=1e-3
    )


def _value(name: str, subject_id: str, values: dict, dt: float | None = None) -> float | None:
    subject = subjects_of(VENUE)[subject_id]
    return VALUES[name].make(subject)(values, dt)


@pytest.mark.parametrize(
    ("name", "subject", "values", "dt", "expected"),
    [
        ("density_ppm2", "z1", {"occupancy": 2500}, None, 2.5),  # area 1000 m²
        ("density_ppm2", "z1", {"in": 5}, None, None),  # no occupancy: no density
        ("occupancy_pct", "z1", {"occupancy": 850}, None, 85.0),  # capacity 1000
        ("flow_ppmm", "g1", {"in": 60, "out": 6}, 30.0, 66.0),  # 2 m wide, 30 s
        ("flow_ppmm", "g1", {"in": 60}, 60.0, 30.0),
        ("flow_ppmm", "g1", {"in": 60}, None, None),  # first report: no interval yet
        ("flow_ppmm", "g1", {"occupancy": 60}, 30.0, None),
        ("load_pct", "gen1", {"power_kw": 64.0}, None, 80.0),  # 100 kVA x 0.8
        # 3 x 230 V x 130 A = 89.7 kVA: apparent power is the binding limit here
        (
            "load_pct",
            "gen1",
            {"power_kw": 64.0, "voltage_v": 230.0, "current_a": 130.0},
            None,
            89.7,
        ),
        ("load_pct", "gen1", {"voltage_v": 230.0, "current_a": 100.0}, None, 69.0),
        ("load_pct", "gen1", {"frequency_hz": 50.0}, None, None),
        ("voltage_pct", "gen1", {"voltage_v": 23.0}, None, 10.0),
        ("voltage_dev_pct", "gen1", {"voltage_v": 253.0}, None, 10.0),
        ("voltage_dev_pct", "gen1", {"voltage_v": 195.5}, None, -15.0),
        ("voltage_dev_pct", "gen1", {"voltage_v": 5.0}, None, None),  # an interruption
        ("frequency_dev_pct", "gen1", {"frequency_hz": 51.0}, None, 2.0),
        ("frequency_dev_pct", "gen1", {"frequency_hz": 0.0, "voltage_v": 0.0}, None, None),
        ("over_limit_kmh", "bus1", {"speed_kmh": 36.0}, None, 6.0),  # limit 30
        ("temp_c", "f1", {"temp_c": 4.5}, None, 4.5),
    ],
)
def test_derived_values(
    name: str, subject: str, values: dict, dt: float | None, expected: float | None
) -> None:
    got = _value(name, subject, values, dt)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, rel=1e-6)


def test_every_value_names_its_unit_and_groups() -> None:
    for derived in VALUES.values():
        assert derived.unit and derived.groups and derived.description
