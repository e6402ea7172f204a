"""The simulation: deterministic for a seed, and physically consistent."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest

from opsroom.families.shuttle import route_of
from opsroom.geo import Polyline
from opsroom.venue import Venue
from simulators.drill import Drill
from simulators.engine import Message, Simulation
from simulators.families.crowd import crowd_model
from tests.simulators.conftest import simulate, small_drill

Run = tuple[Simulation, list[Message]]


def digest(messages: list[Message]) -> str:
    h = hashlib.sha256()
    for m in messages:
        h.update(m.topic.encode() + b"\0" + m.payload + b"\n")
    return h.hexdigest()


def readings(run: Run, kind: str) -> dict[str, list[tuple[float, dict[str, Any]]]]:
    """Good readings of one family by sensor: [(t, payload)]."""
    out: dict[str, list[tuple[float, dict[str, Any]]]] = defaultdict(list)
    for m in run[1]:
        if m.kind == "reading" and m.topic.split("/")[2] == kind:
            out[m.sensor_id].append((m.t, json.loads(m.payload)))
    return out


def during(drill: Drill, incident_type: str, target: str, t: float, after_s: float = 0) -> bool:
    for i in drill.incidents:
        start = i.at.total_seconds()
        end = start + i.duration.total_seconds() + after_s
        if i.type == incident_type and i.target == target and start <= t < end:
            return True
    return False


def targets(drill: Drill) -> set[str]:
    return {i.target for i in drill.incidents}


def test_same_seed_same_stream(venue: Venue, opening_rush: Drill) -> None:
    a = list(simulate(venue, opening_rush, seed=42).messages())
    b = list(simulate(venue, opening_rush, seed=42).messages())
    assert len(a) > 5000
    assert [(m.topic, m.payload) for m in a] == [(m.topic, m.payload) for m in b]


def test_other_seed_other_stream(venue: Venue, opening_rush: Drill) -> None:
    a = list(simulate(venue, opening_rush, seed=42).messages())
    b = list(simulate(venue, opening_rush, seed=43).messages())
    assert digest(a) != digest(b)


def test_messages_are_in_time_order_and_within_the_drill(festival_run: Run) -> None:
    sim, messages = festival_run
    times = [m.t for m in messages]
    assert times == sorted(times)
    assert times[0] == 0 and times[-1] == sim.duration


def test_every_device_goes_online_reports_and_is_cleared(festival_run: Run) -> None:
    sim, messages = festival_run
    status = [m for m in messages if m.kind == "status"]
    ids = {d.sensor_id for d in sim.devices}
    assert len(ids) == len(sim.venue.sensors()) == 39
    assert all(m.retain for m in status)
    first = [m for m in status if m.t == 0]
    assert {m.sensor_id for m in first} == ids
    for m in first:
        assert json.loads(m.payload) == {
            "state": "online",
            "ts": "2026-07-04T08:00:00.000Z",
            "drill": True,
        }
    assert {m.sensor_id for m in messages if m.kind == "reading"} == ids
    last = {m.sensor_id: m.payload for m in status}
    assert set(last.values()) == {b""}  # retained statuses cleared at the end


def test_every_payload_is_marked_drill(festival_run: Run) -> None:
    for m in festival_run[1]:
        if m.kind in ("reading", "incident") or (m.kind == "status" and m.payload):
            assert json.loads(m.payload)["drill"] is True
        elif m.kind == "malformed" and m.payload.startswith(b"{") and m.payload.endswith(b"}"):
            assert b'"drill": true' in m.payload or b'"drill":true' in m.payload


def test_zone_occupancy_never_negative_and_in_out_add_up(festival_run: Run) -> None:
    zones = {z.id for z in festival_run[0].venue.zones}
    for zone, series in readings(festival_run, "crowd").items():
        if zone not in zones:
            continue
        previous = None
        for _, p in series:
            assert p["occupancy"] >= 0
            assert p["in"] >= 0 and p["out"] >= 0
            if previous is not None:
                assert p["occupancy"] == previous + p["in"] - p["out"], zone
            previous = p["occupancy"]


def test_gate_counts_add_up_to_their_zone(venue: Venue, festival_day: Drill) -> None:
    sim = simulate(venue, festival_day)
    gate_in: dict[str, int] = defaultdict(int)
    gate_out: dict[str, int] = defaultdict(int)
    zone_of = {g.id: g.zone for g in venue.gates}
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for m in sim.messages():
        if m.kind != "reading" or m.topic.split("/")[2] != "crowd":
            continue
        p = json.loads(m.payload)
        if m.sensor_id in zone_of:
            gate_in[m.sensor_id] += p["in"]
            gate_out[m.sensor_id] += p["out"]
        else:
            first.setdefault(m.sensor_id, p["occupancy"] - p["in"] + p["out"])
            last[m.sensor_id] = p["occupancy"]
    model = crowd_model(sim.world)
    for gate, zone in zone_of.items():
        assert zone is not None
        totals = model.gate_totals[gate]
        # what the gate reported is what went through it (minus the last unreported stretch)
        assert gate_in[gate] <= totals.in_ and totals.in_ - gate_in[gate] < 2000
        zone_state = model.zones[zone]
        assert zone_state.occupancy == round(zone_state.zone.capacity * 0.05) + (
            totals.in_ - totals.out
        )


def test_waves_fill_zones_before_headline_acts(festival_run: Run) -> None:
    arena = dict(
        (round(t), p["occupancy"]) for t, p in readings(festival_run, "crowd")["main-arena"]
    )
    before = max(o for t, o in arena.items() if 10 * 3600 <= t < 11 * 3600)
    headline = max(o for t, o in arena.items() if 13 * 3600 <= t < 14 * 3600)
    after = max(o for t, o in arena.items() if t >= 17 * 3600)
    assert headline > 0.75 * 40_000 > before
    assert after < 0.1 * 40_000  # egress after the curfew


def test_shuttles_stay_in_corridor_and_under_the_limit(festival_run: Run) -> None:
    sim, _ = festival_run
    drill = sim.drill
    for bus_id, series in readings(festival_run, "shuttle").items():
        route = route_of(sim.venue, bus_id)
        assert route is not None
        path = Polyline(route.geometry())
        seats = next(s.seats for s in sim.venue.shuttles if s.id == bus_id)
        moved = 0.0
        for t, p in series:
            off = path.distance_m(p["lat"], p["lon"])
            if not during(drill, "shuttle_off_route", bus_id, t, after_s=180):
                assert off <= route.corridor_m - 20, (bus_id, t, off)
            if not during(drill, "overspeed", bus_id, t):
                assert p["speed_kmh"] <= route.speed_limit_kmh, (bus_id, t, p)
            assert 0 <= p["passengers"] <= seats
            moved += p["speed_kmh"]
        assert moved > 0, f"{bus_id} never moved"


def test_incidents_show_in_the_readings(festival_run: Run) -> None:
    sim, _ = festival_run
    drill = sim.drill
    shuttles = readings(festival_run, "shuttle")
    off = [
        Polyline(sim.venue.routes[0].geometry()).distance_m(p["lat"], p["lon"])
        for t, p in shuttles["town-bus-1"]
        if during(drill, "shuttle_off_route", "town-bus-1", t)
    ]
    assert max(off) > 300
    fast = [
        p["speed_kmh"]
        for t, p in shuttles["loop-bus-2"]
        if during(drill, "overspeed", "loop-bus-2", t)
    ]
    assert max(fast) > 24 + 10
    stopped = [
        p["speed_kmh"]
        for t, p in shuttles["town-bus-3"]
        if during(drill, "shuttle_breakdown", "town-bus-3", t) and t > 7 * 3600 + 300
    ]
    assert stopped and max(stopped) == 0
    temps = readings(festival_run, "coldchain")
    assert max(p["temp_c"] for _, p in temps["scoops-freezer-1"]) > -12
    assert max(p["temp_c"] for _, p in temps["green-leaf-fridge"]) > 8
    assert min(p["temp_c"] for _, p in temps["curry-up-hot"]) < 63
    power = readings(festival_run, "power")
    assert min(p["voltage_v"] for _, p in power["gen-dance-tent"]) == 0
    assert min(p["voltage_v"] for _, p in power["gen-second-stage"]) < 230 * 0.85
    assert max(p["power_kw"] / 0.8 / 800 for _, p in power["gen-main-stage"]) > 0.95
    gate = readings(festival_run, "crowd")["arena-gate"]
    assert max(p["in"] / 10 / 0.5 for _, p in gate) > 82  # persons per metre per minute
    tent = readings(festival_run, "crowd")["dance-tent"]
    assert max(p["occupancy"] for _, p in tent) > 0.95 * 5000


def test_silent_sensors_are_silent(festival_run: Run) -> None:
    sim, messages = festival_run
    for inc in sim.drill.incidents:
        if inc.type != "sensor_silent":
            continue
        start = inc.at.total_seconds()
        end = start + inc.duration.total_seconds()
        mine = [m for m in messages if m.sensor_id == inc.target and start <= m.t < end]
        assert not [m for m in mine if m.kind == "reading"]
        statuses = [m for m in mine if m.kind == "status"]
        assert [json.loads(m.payload)["state"] for m in statuses] == ["offline"]
        assert statuses[0].will == (inc.mode == "disconnect")


def test_temperatures_and_power_are_plausible_without_incidents(festival_run: Run) -> None:
    sim, _ = festival_run
    hit = targets(sim.drill)
    types = {u.id: u.type for u in sim.venue.catering}
    for unit, series in readings(festival_run, "coldchain").items():
        temps = [p["temp_c"] for _, p in series]
        assert all(-40 < x < 100 for x in temps)
        if unit in hit:
            continue
        if types[unit] == "fridge":
            assert min(temps) > 0 and max(temps) < 5, unit
        elif types[unit] == "freezer":
            assert min(temps) > -25 and max(temps) < -18, unit
        else:
            assert min(temps) > 63 and max(temps) < 80, unit
    rated = {g.id: g for g in sim.venue.generators}
    for gen, series in readings(festival_run, "power").items():
        g = rated[gen]
        for _, p in series:
            assert 0 <= p["fuel_pct"] <= 100
            if gen in hit:
                continue
            assert 0.85 * g.nominal_v < p["voltage_v"] < 1.10 * g.nominal_v
            assert abs(p["frequency_hz"] - g.nominal_hz) < 0.02 * g.nominal_hz
            assert p["power_kw"] / g.power_factor / g.rated_kva < 0.8


def test_malformed_payloads_are_sent_between_good_readings(festival_run: Run) -> None:
    sim, messages = festival_run
    bad = [m for m in messages if m.kind == "malformed"]
    inc = next(i for i in sim.drill.incidents if i.type == "malformed_payloads")
    assert {m.sensor_id for m in bad} == {inc.target}
    assert len(bad) == pytest.approx(inc.duration.total_seconds() / 60 * inc.per_minute, abs=2)
    good = [
        m
        for m in messages
        if m.kind == "reading"
        and m.sensor_id == inc.target
        and inc.at.total_seconds() <= m.t < (inc.at + inc.duration).total_seconds()
    ]
    assert good


def test_incident_notices_start_and_end(festival_run: Run) -> None:
    sim, messages = festival_run
    notices = [json.loads(m.payload) for m in messages if m.kind == "incident"]
    assert len(notices) == 2 * len(sim.drill.incidents)
    assert {n["phase"] for n in notices} == {"start", "end"}
    assert all(m.topic == "opsroom/demo/drill/incidents" for m in messages if m.kind == "incident")


def test_a_small_venue_drill(venue: Venue) -> None:
    drill = small_drill(
        venue, "incidents:\n  - {type: generator_trip, at: 1m, target: gen-family}\n"
    )
    sim = simulate(venue, drill)
    assert sum(1 for m in sim.messages() if m.kind == "reading") > 1000


def test_a_replay_later_differs_only_in_timestamps(venue: Venue, opening_rush: Drill) -> None:
    """A drill replayed another day: its clock is anchored elsewhere, its values are the same."""

    def values(sim: Simulation) -> list[tuple[str, object]]:
        out: list[tuple[str, object]] = []
        for m in sim.messages():
            body = json.loads(m.payload) if m.kind != "malformed" and m.payload else m.kind
            if isinstance(body, dict):
                for key in ("ts", "start", "end"):  # the timestamps (incident notices have 3)
                    body.pop(key, None)
            out.append((m.topic, body))
        return out

    first = simulate(venue, opening_rush, seed=9)
    later = Simulation(
        venue, opening_rush, "demo", first.anchor + timedelta(days=3, seconds=7), random.Random(9)
    )
    assert values(first) == values(later)
