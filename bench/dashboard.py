"""Dashboard refresh time: each page's queries against 24 h of readings from 500 sensors in SQLite.

    python bench/dashboard.py [--sensors 500] [--hours 24] [--interval 30] [--db PATH]

Builds a synthetic venue of `--sensors` sensors (20 % zones, 10 % gates, 20 % generators,
40 % catering units, 10 % shuttles on 5 routes), fills a SQLite store with one reading per
sensor every `--interval` seconds for `--hours` hours (500 x 2,880 = 1.44 M rows by default)
plus 200 alerts, then times the queries.py functions each page calls on one refresh, with
no Streamlit cache in front (the worst case: every refresh misses). Each page is timed with
its default chart window and with the 24 h window: the first refresh (closed hours of the
charts not yet cached), then 5 more, median and max, with the closed hours cached as the
app caches them (dashboard/cache.py).

Prints one JSON object for the set-up, then one per page and window; target <= 1000 ms.
An existing --db with the same number of rows is reused.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard import queries
from dashboard.families import coldchain as coldchain_part
from dashboard.families import crowd as crowd_part
from dashboard.families import power as power_part
from dashboard.families import shuttle as shuttle_part
from opsroom.alerts import AlertEvent
from opsroom.store.sqlite import SqliteStore
from opsroom.telemetry import Reading
from opsroom.venue import Venue

TARGET_MS = 1000
RUNS = 5


def synthetic_venue(sensors: int) -> Venue:
    """A venue with `sensors` sensors over every family, laid out on a grid."""
    n_zones, n_gates, n_gens = sensors // 5, sensors // 10, sensors // 5
    n_buses = sensors // 10
    n_units = sensors - n_zones - n_gates - n_gens - n_buses
    lat0, lon0 = 52.07, -1.02

    def at(i: int) -> list[float]:
        return [lat0 + (i // 20) * 0.0005, lon0 + (i % 20) * 0.0008]

    types = ["fridge", "freezer", "hot_holding"]
    routes = [
        {
            "id": f"route-{r}",
            "stops": [
                {"id": f"stop-{r}-{s}", "lat": lat0 - 0.01 * r, "lon": lon0 + 0.005 * s}
                for s in range(4)
            ],
        }
        for r in range(5)
    ]
    return Venue.model_validate(
        {
            "event": {"name": "Bench"},
            "zones": [
                {
                    "id": f"zone-{i}",
                    "area_m2": 5000,
                    "capacity": 5000,
                    "location": at(i),
                    "polygon": [at(i), [at(i)[0] + 0.0004, at(i)[1]], at(i + 1)],
                }
                for i in range(n_zones)
            ],
            "gates": [
                {"id": f"gate-{i}", "width_m": 5, "zone": f"zone-{i % n_zones}"}
                for i in range(n_gates)
            ],
            "generators": [{"id": f"gen-{i}", "rated_kva": 200} for i in range(n_gens)],
            "catering": [{"id": f"unit-{i}", "type": types[i % 3]} for i in range(n_units)],
            "routes": routes,
            "shuttles": [{"id": f"bus-{i}", "route": f"route-{i % 5}"} for i in range(n_buses)],
        }
    )


def readings_at(venue: Venue, ts: datetime, step: int) -> list[Reading]:
    """One reading of every sensor at `ts`."""
    out = [
        Reading("crowd", z.id, ts, {"occupancy": 1000 + (step * 7 + i) % 3000})
        for i, z in enumerate(venue.zones)
    ]
    out += [Reading("crowd", g.id, ts, {"in": step % 50, "out": step % 20}) for g in venue.gates]
    out += [
        Reading(
            "power",
            g.id,
            ts,
            {
                "voltage_v": 228.0 + step % 5,
                "current_a": 150.0,
                "power_kw": 60.0 + (step + i) % 80,
                "frequency_hz": 50.0,
                "fuel_pct": 80.0,
            },
        )
        for i, g in enumerate(venue.generators)
    ]
    temps = {"fridge": 3.0, "freezer": -20.0, "hot_holding": 70.0}
    out += [
        Reading("coldchain", u.id, ts, {"temp_c": temps[u.type] + (step % 10) / 5})
        for u in venue.catering
    ]
    routes = {r.id: r for r in venue.routes}
    for i, bus in enumerate(venue.shuttles):
        stop = routes[bus.route].stops[(step + i) % 4]
        values = {"lat": stop.lat, "lon": stop.lon, "speed_kmh": 20.0, "passengers": 10}
        out.append(Reading("shuttle", bus.id, ts, values))
    return out


def alerts(venue: Venue, end: datetime, hours: int) -> list[AlertEvent]:
    """200 alerts over the day: fired, then resolved, the last 20 still firing."""
    out = []
    for i in range(200):
        unit = venue.catering[i % len(venue.catering)]
        start = end - timedelta(hours=hours) + timedelta(minutes=7 * i)
        base = {
            "alert_id": f"cold-{i}",
            "rule": "coldchain-critical",
            "subject": unit.id,
            "kind": "coldchain",
            "severity": "critical" if i % 2 else "warning",
            "started_at": start,
            "message": "bench",
        }
        out.append(AlertEvent(**base, state="firing", ts=start))
        if i < 180:
            out.append(AlertEvent(**base, state="resolved", ts=start + timedelta(minutes=20)))
    return out


def fill(store: SqliteStore, venue: Venue, end: datetime, hours: int, interval: int) -> dict:
    """Write the readings in batches of about 10,000 rows; return figures."""
    steps = hours * 3600 // interval
    batch: list[Reading] = []
    t0 = time.perf_counter()
    rows = 0
    for step in range(steps):
        batch += readings_at(venue, end - timedelta(seconds=(steps - step) * interval), step)
        if len(batch) >= 10_000:
            store.write_readings(batch)
            rows += len(batch)
            batch = []
    store.write_readings(batch)
    rows += len(batch)
    store.write_alert_events(alerts(venue, end, hours))
    seconds = time.perf_counter() - t0
    return {"rows": rows, "fill_s": round(seconds, 1), "rows_per_s": round(rows / seconds)}


def hour_cache(store: SqliteStore) -> Callable[..., queries.HourSlice]:
    """What the app's st.cache_data does for closed hours: fetch each hour once, keep it."""
    memo: dict[tuple[object, ...], object] = {}

    def closed(kind: str, field: str, ids: list[str], every: timedelta) -> queries.HourSlice:
        def fetch(hour: datetime):  # type: ignore[no-untyped-def]
            key = (kind, field, tuple(ids), every, hour)
            if key not in memo:
                memo[key] = queries.series_frame(
                    store, kind, field, ids, hour, hour + queries.HOUR, every
                )
            return memo[key]

        return fetch

    return closed


def pages(
    store: SqliteStore, venue: Venue, now: datetime, window: timedelta
) -> dict[str, dict[str, Callable[[], object]]]:
    """Each page's refresh: the queries.py calls dashboard/cache.py makes for it."""
    closed = hour_cache(store)
    every = queries.choose_every(window)
    zone_ids = [z.id for z in venue.zones]
    gen_ids = [g.id for g in venue.generators]
    non_freezers = [u.id for u in venue.catering if u.type != "freezer"]
    by_type = {
        t: [u.id for u in venue.catering if u.type == t]
        for t in ("fridge", "freezer", "hot_holding")
    }

    def act() -> list[AlertEvent]:
        return queries.active_alert_events(store, now)

    def age(*kinds: str) -> Callable[[], object]:
        return lambda: queries.data_age(store, venue, kinds, now, 60)

    def units() -> object:
        danger = coldchain_part.danger_zone_minutes(
            store,
            non_freezers,
            now,
            closed_hour=closed("coldchain", "temp_c", non_freezers, coldchain_part.DANGER_EVERY),
        )
        return coldchain_part.units_frame(store, venue, now, act(), danger)

    def series(kind: str, field: str, ids: list[str]) -> Callable[[], object]:
        hours = closed(kind, field, ids, every) if every else None
        return lambda: queries.window_series(store, kind, field, ids, now, window, hours)

    a = act()
    return {
        "overview": {
            "active_alerts": lambda: queries.active_alert_table(store, now),
            "zones": lambda: crowd_part.zones_frame(store, venue, now, act()),
            "gates": lambda: crowd_part.gates_frame(store, venue, now, act()),
            "generators": lambda: power_part.generators_frame(store, venue, now, act()),
            "units": units,
            "shuttles": lambda: shuttle_part.shuttles_frame(store, venue, now, act()),
            "data_age": lambda: (
                [queries.data_age(store, venue, [k], now, 60) for k in queries.FAMILY_LABELS]
                + [queries.data_age(store, venue, list(queries.FAMILY_LABELS), now, 60)]
            ),
        },
        "crowd": {
            "data_age": age("crowd"),
            "zones": lambda: crowd_part.zones_frame(store, venue, now, act()),
            "gates": lambda: crowd_part.gates_frame(store, venue, now, act()),
            "occupancy_series": series("crowd", "occupancy", zone_ids),
        },
        "power": {
            "data_age": age("power"),
            "generators": lambda: power_part.generators_frame(store, venue, now, act()),
            **{
                f"{f}_series": series("power", f, gen_ids)
                for f in ("voltage_v", "frequency_hz", "power_kw")
            },
        },
        "coldchain": {
            "data_age": age("coldchain"),
            "units": units,
            **{f"{t}_series": series("coldchain", "temp_c", ids) for t, ids in by_type.items()},
        },
        "shuttles": {
            "data_age": age("shuttle"),
            "shuttles": lambda: shuttle_part.shuttles_frame(store, venue, now, act()),
        },
        "alerts": {
            "active_alerts": lambda: queries.active_alert_table(store, now),
            "history": lambda: queries.alert_history(store, now - window, now),
            "readings_around": lambda: queries.readings_around(store, a[0]) if a else None,
        },
    }


def time_page(calls: dict[str, Callable[[], object]]) -> dict:
    """The first refresh (closed hours not cached yet), then median and max of RUNS more."""
    start = time.perf_counter()
    for call in calls.values():
        call()
    first = (time.perf_counter() - start) * 1000
    totals: list[float] = []
    each: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(RUNS):
        start = time.perf_counter()
        for name, call in calls.items():
            t = time.perf_counter()
            call()
            each[name].append((time.perf_counter() - t) * 1000)
        totals.append((time.perf_counter() - start) * 1000)
    median = statistics.median(totals)
    return {
        "ms": round(median, 1),
        "ms_max": round(max(totals), 1),
        "first_ms": round(first, 1),
        "ok": median <= TARGET_MS,
        "queries_ms": {k: round(statistics.median(v), 1) for k, v in each.items()},
    }


def main() -> None:
    """Fill (or reuse) the store, then print the figures as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sensors", type=int, default=500)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--interval", type=int, default=30, help="seconds between readings")
    parser.add_argument("--db", type=Path, help="store file (default: a temporary one)")
    args = parser.parse_args()

    venue = synthetic_venue(args.sensors)
    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="opsroom-bench-")
        args.db = Path(tmp.name) / "bench.db"
    store = SqliteStore(args.db)
    expected = len(venue.sensors()) * (args.hours * 3600 // args.interval)
    # the data ends 30 s before a whole hour: the worst case, a live hour that is nearly full
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(seconds=30)
    setup: dict[str, object] = {
        "sensors": len(venue.sensors()),
        "hours": args.hours,
        "interval_s": args.interval,
    }
    if store.count() == expected:
        setup["reused"] = str(args.db)
        end = max(r.ts for r in store.latest("power"))
    else:
        setup |= fill(store, venue, end, args.hours, args.interval)
    setup["db_mb"] = round(args.db.stat().st_size / 1e6, 1)
    print(json.dumps({"setup": setup}))
    now = end + timedelta(seconds=5)
    for label, window in (("1h", timedelta(hours=1)), ("24h", timedelta(hours=24))):
        for page, calls in pages(store, venue, now, window).items():
            print(json.dumps({"page": page, "window": label, **time_page(calls)}))
    store.close()
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
