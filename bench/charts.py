"""First load of each family page with its 24 h charts: the store calls it makes, cold cache.

    python bench/charts.py [--hours 24] [--runs 5] [--db PATH]

Fills a SQLite store with `--hours` of readings of the example venue (examples/venue.yaml),
every sensor at its family's report interval (6 generators and 6 shuttles every 10 s, 12
crowd counters every 30 s, 13 catering units and 2 weather stations every 60 s: about
160,000 readings a day), values from each family's sample payload with a seeded wobble.
Then, for each page, makes the calls its live fragment makes through dashboard/cache.py
(the 24 h window where the page has a picker) with every cache emptied first: a page's first
load, when no session has fetched its closed hours yet. The store is wrapped to count and
time its calls. A second pass (`refresh`) is the next refresh once the snapshots have
expired (cache.TTL_S), closed hours cached. Each figure is the median (and max) of `--runs` runs.

Prints one JSON object for the set-up, then one per page; target: first load <= 1000 ms.
An existing --db with the same number of rows is reused.

Figures (2 cores, Debian 12, Python 3.11, SQLite 3.40; other helpers' tests running, load
average 4-7), first load ms, median of 5 (store calls):
    page       before: one series call per field and hour   after: series_many, closed span
    power      1609 (75 series, 1045 in the store)           384 (2 series_many, 303 in the store)
    coldchain  1074 (100 series)                             227 (8 series_many)
    crowd       218 (27)                                      86
    weather      70 (8)                                       52
    overview    258 (28)                                      76
The refresh after a first load (closed hours cached): power 198 -> 52 ms. At load average
8-10 the power page measured 2384-3224 ms before and 887-1374 ms after. What is left is
SQLite 3.40's json_extract, which parses a row's JSON again for every field asked.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

# "No runtime found": the caches run in memory here, as they do in the app
logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)

from dashboard import cache  # noqa: E402
from dashboard.families import power as power_part  # noqa: E402
from opsroom.families import FAMILIES  # noqa: E402
from opsroom.store.sqlite import SqliteStore  # noqa: E402
from opsroom.telemetry import Reading  # noqa: E402
from opsroom.venue import Venue, load_venue  # noqa: E402

VENUE = ROOT / "examples" / "venue.yaml"
RULES = ROOT / "examples" / "rules.yaml"
TARGET_MS = 1000
DAY_S = 86_400.0
EVENT = "bench"


def readings(venue: Venue, end: datetime, hours: int, seed: int = 1) -> list[Reading]:
    """Every sensor of the venue at its family's interval over the `hours` before `end`."""
    rnd = random.Random(seed)
    out: list[Reading] = []
    for kind, sensor in sorted(venue.sensors()):
        family = FAMILIES[kind]
        sample = {k: v for k, v in family.sample.items() if k != "ts"}
        step = family.report_interval.total_seconds()
        n = int(hours * 3600 // step)
        for i in range(n):
            values = {
                k: (round(v * (1 + rnd.uniform(-0.05, 0.05)), 2) if type(v) is float else v)
                for k, v in sample.items()
            }
            out.append(Reading(kind, sensor, end - timedelta(seconds=(n - i) * step), values))
    return out


class Timed:
    """A store whose calls are counted and timed (per method name)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.calls: dict[str, int] = {}
        self.ms: dict[str, float] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.calls[name] = self.calls.get(name, 0) + 1
                self.ms[name] = self.ms.get(name, 0.0) + (time.perf_counter() - t) * 1000

        return timed


def pages(venue: Venue, url: str) -> dict[str, Callable[[float], object]]:
    """Each page's live fragment's data calls (dashboard/families/*.py, views/overview.py)."""
    key = (url, str(VENUE), VENUE.stat().st_mtime)
    rules = (str(RULES), RULES.stat().st_mtime)
    gens = tuple(g.id for g in venue.generators)
    zones = tuple(z.id for z in venue.zones)
    stations = tuple(s.id for s in venue.stations)
    by_type = {
        t: tuple(u.id for u in venue.catering if u.type == t)
        for t in ("fridge", "freezer", "hot_holding")
    }

    def power(now: float) -> object:
        cache.data_age(*key, ("power",), now, 60.0)
        cache.frame(*key, "generators", now, rules)
        return cache.series_many(url, "power", power_part.FIELDS, gens, now, DAY_S)

    def crowd(now: float) -> object:
        cache.data_age(*key, ("crowd",), now, 60.0)
        cache.frame(*key, "zones", now, rules)
        cache.frame(*key, "gates", now, rules)
        return cache.series(url, "crowd", "occupancy", zones, now, DAY_S)

    def coldchain(now: float) -> object:
        cache.data_age(*key, ("coldchain",), now, 60.0)
        cache.frame(*key, "units", now, rules)
        return [
            cache.series(url, "coldchain", "temp_c", ids, now, DAY_S) for ids in by_type.values()
        ]

    def weather(now: float) -> object:
        cache.data_age(*key, ("weather",), now, 60.0)
        cache.frame(*key, "stations", now, rules)
        cache.frame(*key, "structures", now, rules)
        return cache.series_many(
            url, "weather", ("gust_ms", "strike_km"), stations, now, 3 * 3600.0
        )

    def overview(now: float) -> object:
        cache.active_table(url, now)
        for name in ("zones", "gates", "generators", "units", "shuttles", "stations", "structures"):
            cache.frame(*key, name, now, rules)
        return [cache.data_age(*key, (k,), now, 60.0) for k in FAMILIES]

    return {
        "power": power,
        "crowd": crowd,
        "coldchain": coldchain,
        "weather": weather,
        "overview": overview,
    }


def cold() -> None:
    """Empty every cache the dashboard keeps (snapshots and closed hours), not the store."""
    cache.SNAPSHOTS.clear()
    cache.CLOSED.clear()
    st.cache_data.clear()


def time_page(load: Callable[[float], object], timed: Timed, runs: int) -> dict:
    """First load (cold caches) and the refresh after it, median and max of `runs`."""
    first: list[float] = []
    refresh: list[float] = []
    calls: dict[str, int] = {}
    store_ms: list[float] = []
    for _ in range(runs):
        cold()
        timed.calls.clear()
        timed.ms.clear()
        t = time.perf_counter()
        load(time.time())
        first.append((time.perf_counter() - t) * 1000)
        calls = dict(timed.calls)
        store_ms.append(sum(timed.ms.values()))
        time.sleep(cache.TTL_S)  # the next refresh finds every snapshot expired
        t = time.perf_counter()
        load(time.time())
        refresh.append((time.perf_counter() - t) * 1000)
    median = statistics.median(first)
    return {
        "first_ms": round(median, 1),
        "first_ms_max": round(max(first), 1),
        "store_ms": round(statistics.median(store_ms), 1),
        "store_calls": calls,
        "refresh_ms": round(statistics.median(refresh), 1),
        "ok": median <= TARGET_MS,
    }


def main() -> None:
    """Fill (or reuse) the store, then print the figures as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", type=Path, help="store file (default: a temporary one)")
    args = parser.parse_args()

    venue = load_venue(VENUE)
    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="opsroom-bench-")
        args.db = Path(tmp.name) / "charts.db"
    store = SqliteStore(args.db, event=EVENT)
    # the data ends now: the pages read it as of the wall clock, as the app does
    end = datetime.now(UTC).replace(microsecond=0)
    batch = readings(venue, end, args.hours)
    setup: dict[str, object] = {"sensors": len(venue.sensors()), "hours": args.hours}
    if store.count() == len(batch):  # a reused file: its data may end a while ago
        setup["reused"] = str(args.db)
    else:
        t = time.perf_counter()
        for i in range(0, len(batch), 10_000):
            store.write_readings(batch[i : i + 10_000])
        setup["fill_s"] = round(time.perf_counter() - t, 1)
    setup["rows"] = store.count()
    setup["db_mb"] = round(args.db.stat().st_size / 1e6, 1)
    print(json.dumps({"setup": setup}), flush=True)

    url = f"sqlite:///{args.db}#{EVENT}"
    timed = Timed(store)
    cache.store = lambda key: timed  # type: ignore[assignment]  # every page reads through it
    for page, load in pages(venue, url).items():
        print(json.dumps({"page": page, **time_page(load, timed, args.runs)}), flush=True)
    store.close()
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
