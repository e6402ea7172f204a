"""A populated store for the dashboard's tests: the example venue, 30 minutes of readings."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from opsroom.alerts import AlertEvent
from opsroom.families.shuttle import route_of
from opsroom.store.sqlite import SqliteStore
from opsroom.telemetry import Reading
from opsroom.venue import Venue, load_venue

VENUE = Path(__file__).resolve().parents[2] / "examples" / "venue.yaml"
STEP = timedelta(seconds=30)
# what the tests expect to see
HOT_FRIDGE = "green-leaf-fridge"  # 9 °C: critical
BUSY_ZONE = "main-arena"  # 90 % of capacity: warning
STRANDED_BUS = "loop-bus-2"  # 0 km/h, 500 m off its route
ALERT_ID = "coldchain-critical.green-leaf-fridge"


def venue() -> Venue:
    """The example venue."""
    return load_venue(VENUE)


def readings(v: Venue, end: datetime, minutes: int = 30, drill: bool = False) -> list[Reading]:
    """Readings of every venue sensor every 30 s for `minutes` up to `end`."""
    out: list[Reading] = []
    steps = minutes * 60 // int(STEP.total_seconds())
    for i in range(steps + 1):
        ts = end - (steps - i) * STEP
        for z in v.zones:
            share = 0.90 if z.id == BUSY_ZONE else 0.50
            out.append(Reading("crowd", z.id, ts, {"occupancy": int(z.capacity * share)}, drill))
        for g in v.gates:
            out.append(Reading("crowd", g.id, ts, {"in": 100, "out": 20}, drill))
        for gen in v.generators:
            kw = gen.rated_kva * gen.power_factor * 0.5
            values = {"voltage_v": 231.0, "frequency_hz": 50.0, "power_kw": kw, "fuel_pct": 80.0}
            out.append(Reading("power", gen.id, ts, values, drill))
        for u in v.catering:
            temp = {"fridge": 3.0, "freezer": -20.0, "hot_holding": 70.0}[u.type]
            if u.id == HOT_FRIDGE:
                temp = 9.0
            out.append(Reading("coldchain", u.id, ts, {"temp_c": temp}, drill))
        for n, bus in enumerate(v.shuttles):
            route = route_of(v, bus.id)
            assert route is not None
            line = route.geometry()
            if bus.id == STRANDED_BUS:
                lat, lon, speed = line[5][0] + 0.0045, line[5][1], 0.0
            else:
                lat, lon = line[(i + n * 3) % len(line)]
                speed = 20.0
            values = {"lat": lat, "lon": lon, "speed_kmh": speed, "passengers": 20}
            out.append(Reading("shuttle", bus.id, ts, values, drill))
    return out


def firing_alert(at: datetime, drill: bool = False) -> AlertEvent:
    """A critical alert on the hot fridge, firing since 20 minutes before `at`."""
    return AlertEvent(
        alert_id=ALERT_ID,
        rule="coldchain-critical",
        subject=HOT_FRIDGE,
        kind="coldchain",
        severity="critical",
        state="firing",
        ts=at,
        started_at=at - timedelta(minutes=20),
        value=9.0,
        message="Green Leaf Kitchen - salad fridge above 8 °C for 15 min",
        drill=drill,
    )


def fill(
    path: Path, end: datetime, *, drill: bool = False, alert: bool = True, event: str = "demo"
) -> Path:
    """Write the readings (and the firing alert) of `event` into a SQLite store at `path`."""
    v = venue()
    store = SqliteStore(path, event=event)
    try:
        store.write_readings(readings(v, end, drill=drill))
        if alert:
            store.write_alert_events([firing_alert(end - timedelta(minutes=1), drill=drill)])
    finally:
        store.close()
    return path
