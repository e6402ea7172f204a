"""Rules engine throughput: readings evaluated per second in-process, with the example rules.

The example venue is grown to `--subjects` entities (a quarter each of crowd counters, power
meters, temperature probes and GPS trackers, on the example's routes), each reporting at its
family's interval with realistic values, noise and a few incidents: fridges warming, a hot
cabinet cooling, generators overloading and tripping, crowd surges, buses straying off route
or stopping, devices going silent. The readings are built first; only evaluation is timed:

    python bench/rules_engine.py [--subjects 1000] [--minutes 90] [--repeat 3]

Prints JSON: readings evaluated per second by `process()` alone, and with `tick()` after
every reading (the silence check a service runs as its event clock moves), the transitions
raised, and the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from opsroom.rulesfile.model import load_rules  # noqa: E402
from opsroom.telemetry import Reading  # noqa: E402
from opsroom.venue import Venue, load_venue  # noqa: E402
from rules.engine import Engine  # noqa: E402

START = datetime(2026, 7, 4, 14, 0, tzinfo=UTC)
M_PER_DEG = 111_195.0


def grow_venue(base: Venue, subjects: int, rng: random.Random) -> Venue:
    """The example venue plus generated entities, `subjects` sensors in all."""
    data = base.model_dump(mode="json")
    routes = [r["id"] for r in data["routes"]]
    quarter = subjects // 4
    have = lambda section: len(data[section])  # noqa: E731
    i = 0
    while have("zones") + have("gates") < quarter:
        i += 1
        if i % 3:
            area = rng.choice([2_000, 5_000, 12_000, 30_000])
            data["zones"].append(
                {"id": f"zone-{i}", "area_m2": area, "capacity": int(area * rng.uniform(1.8, 2.2))}
            )
        else:
            data["gates"].append({"id": f"gate-{i}", "width_m": rng.choice([2, 4, 6, 10])})
    while have("generators") < quarter:
        data["generators"].append(
            {"id": f"gen-{have('generators')}", "rated_kva": rng.choice([60, 200, 500, 800])}
        )
    while have("catering") < quarter:
        kind = rng.choice(["fridge", "fridge", "freezer", "hot_holding"])
        data["catering"].append({"id": f"unit-{have('catering')}", "type": kind})
    while (
        have("zones") + have("gates") + have("generators") + have("catering") + have("shuttles")
        < subjects
    ):
        data["shuttles"].append({"id": f"bus-{have('shuttles')}", "route": rng.choice(routes)})
    return Venue.model_validate(data)


class Clocked:
    """Readings of one device at its report interval; `at(t)` gives the payload at t seconds."""

    def __init__(self, kind: str, sid: str, interval: float, rng: random.Random) -> None:
        self.kind, self.sid, self.interval = kind, sid, interval
        self.offset = rng.uniform(0, interval)
        self.rng = rng
        self.silent: tuple[float, float] | None = None
        self.incident: tuple[float, float] | None = None

    def in_incident(self, t: float) -> bool:
        """True while the device's incident lasts."""
        return self.incident is not None and self.incident[0] <= t < self.incident[1]

    def values(self, t: float) -> dict[str, Any] | None:
        """The payload's values at `t` seconds."""
        raise NotImplementedError


class Zone(Clocked):
    """A zone counter: occupancy over a slow evening curve; a surge to 3 persons/m²."""

    def __init__(self, z: Any, rng: random.Random) -> None:
        super().__init__("crowd", z.id, 30.0, rng)
        self.area, self.capacity = z.area_m2, z.capacity

    def values(self, t: float) -> dict[str, Any]:
        fill = 0.2 + 0.4 * math.sin(t / 5400 * math.pi) ** 2
        occupancy = self.capacity * fill * self.rng.uniform(0.97, 1.03)
        if self.in_incident(t):
            occupancy = self.area * 2.3  # a surge past 2 persons/m²
        return {"occupancy": int(occupancy)}


class Gate(Clocked):
    """A gate counter: in/out counts; a surge to 75 persons/m/min."""

    def __init__(self, g: Any, rng: random.Random) -> None:
        super().__init__("crowd", g.id, 30.0, rng)
        self.width = g.width_m

    def values(self, t: float) -> dict[str, Any]:
        per_m_min = 75.0 if self.in_incident(t) else self.rng.uniform(5, 30)
        n = int(per_m_min * self.width / 2)  # 30 s reports
        return {"in": int(n * 0.8), "out": n - int(n * 0.8)}


class Generator(Clocked):
    """A power meter at 35-70 % load; an overload to 90 %, or a trip to 0 V."""

    def __init__(self, g: Any, rng: random.Random) -> None:
        super().__init__("power", g.id, 10.0, rng)
        self.rated_kw = g.rated_kva * g.power_factor
        self.nominal_v = g.nominal_v
        self.load = rng.uniform(0.35, 0.7)
        self.trip = rng.random() < 0.5

    def values(self, t: float) -> dict[str, Any]:
        load = self.load * self.rng.uniform(0.95, 1.05)
        volts = self.nominal_v * self.rng.uniform(0.99, 1.01)
        if self.in_incident(t):
            if self.trip:
                return {"voltage_v": 0.0, "current_a": 0.0, "power_kw": 0.0, "frequency_hz": 0.0}
            load = 0.9
        kw = self.rated_kw * load
        amps = kw * 1000 / (3 * volts * 0.9)
        hz = 50.0 + self.rng.uniform(-0.05, 0.05)
        return {"voltage_v": volts, "current_a": amps, "power_kw": kw, "frequency_hz": hz}


class Probe(Clocked):
    """A temperature probe; a fault takes it out of its holding range."""

    NORMAL = {"fridge": 3.0, "freezer": -20.0, "hot_holding": 70.0}
    FAULT = {"fridge": 9.0, "freezer": -10.0, "hot_holding": 55.0}

    def __init__(self, c: Any, rng: random.Random) -> None:
        super().__init__("coldchain", c.id, 60.0, rng)
        self.type = c.type

    def values(self, t: float) -> dict[str, Any]:
        base = self.FAULT[self.type] if self.in_incident(t) else self.NORMAL[self.type]
        return {"temp_c": round(base + self.rng.gauss(0, 0.3), 2), "door_open": False}


class Bus(Clocked):
    """A GPS tracker moving along its route with jitter; it strays 150 m, or stops."""

    def __init__(self, s: Any, route: Any, rng: random.Random) -> None:
        super().__init__("shuttle", s.id, 10.0, rng)
        self.path = route.geometry()
        self.limit = route.speed_limit_kmh
        self.pos = rng.uniform(0, len(self.path) - 1)
        self.stopped = rng.random() < 0.5

    def values(self, t: float) -> dict[str, Any]:
        speed = self.limit * self.rng.uniform(0.6, 0.95)
        off = self.rng.gauss(0, 5)
        if self.in_incident(t):
            if self.stopped:
                speed = self.rng.uniform(0, 1.5)
            else:
                off += 150.0
        else:
            self.pos = (self.pos + speed / 3.6 * self.interval / 400) % (len(self.path) - 1)
        i = int(self.pos)
        f = self.pos - i
        (alat, alon), (blat, blon) = self.path[i], self.path[i + 1]
        lat = alat + f * (blat - alat) + off / M_PER_DEG
        lon = alon + f * (blon - alon)
        return {"lat": lat, "lon": lon, "speed_kmh": round(speed, 1), "heading_deg": 90.0}


def devices(venue: Venue, rng: random.Random, minutes: int) -> list[Clocked]:
    """Every device of the venue, some with an incident and some with a silence."""
    routes = {r.id: r for r in venue.routes}
    out: list[Clocked] = []
    out += [Zone(z, rng) for z in venue.zones]
    out += [Gate(g, rng) for g in venue.gates]
    out += [Generator(g, rng) for g in venue.generators]
    out += [Probe(c, rng) for c in venue.catering]
    out += [Bus(s, routes[s.route], rng) for s in venue.shuttles]
    span = minutes * 60.0
    for dev in out:
        if rng.random() < 0.05:
            start = rng.uniform(0, span * 0.7)
            dev.incident = (start, start + rng.uniform(10, 40) * 60)
        if rng.random() < 0.02:
            start = rng.uniform(0, span * 0.8)
            dev.silent = (start, start + rng.uniform(3, 15) * 60)
    return out


def readings(devs: list[Clocked], minutes: int) -> list[Reading]:
    """Every device's readings over `minutes`, in event-time order."""
    out: list[tuple[float, int, Reading]] = []
    span = minutes * 60.0
    for n, dev in enumerate(devs):
        t = dev.offset
        while t < span:
            if dev.silent is None or not dev.silent[0] <= t < dev.silent[1]:
                ts = START + timedelta(seconds=round(t, 3))
                values = dev.values(t)
                if values is not None:
                    out.append((t, n, Reading(dev.kind, dev.sid, ts, values, False)))
            t += dev.interval * dev.rng.uniform(0.98, 1.02)
    out.sort(key=lambda x: (x[0], x[1]))
    return [r for _, _, r in out]


def run(ruleset: Any, venue: Venue, batch: list[Reading], tick: bool) -> tuple[float, int]:
    """Seconds to evaluate `batch` on a fresh engine, and the transitions raised."""
    engine = Engine(ruleset, venue)
    process, advance = engine.process, engine.tick
    transitions = 0
    started = time.perf_counter()
    if tick:
        for r in batch:
            transitions += len(process(r)) + len(advance(r.ts))
    else:
        for r in batch:
            transitions += len(process(r))
    return time.perf_counter() - started, transitions


def main() -> None:
    """Build the readings, time the engine on them, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    venue = grow_venue(load_venue(ROOT / "examples" / "venue.yaml"), args.subjects, rng)
    ruleset = load_rules(ROOT / "examples" / "rules.yaml", venue)
    batch = readings(devices(venue, rng, args.minutes), args.minutes)
    by_kind: dict[str, int] = {}
    for r in batch:
        by_kind[r.kind] = by_kind.get(r.kind, 0) + 1

    plain = [run(ruleset, venue, batch, tick=False) for _ in range(args.repeat)]
    ticked = [run(ruleset, venue, batch, tick=True) for _ in range(args.repeat)]
    best, best_ticked = min(s for s, _ in plain), min(s for s, _ in ticked)
    print(
        json.dumps(
            {
                "subjects": len(venue.sensors()),
                "rules": len(ruleset.rules),
                "readings": len(batch),
                "readings_by_kind": by_kind,
                "event_minutes": args.minutes,
                "readings_per_s": round(len(batch) / best),
                "readings_per_s_with_tick_each": round(len(batch) / best_ticked),
                "us_per_reading": round(best / len(batch) * 1e6, 2),
                "transitions": plain[0][1],
                "transitions_with_ticks": ticked[0][1],
                "target_per_s": 50_000,
                "repeat": args.repeat,
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
