"""Many screens, one query: the dashboard's snapshots and charts are shared by every session."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dashboard import cache, charts, queries
from dashboard.families import power
from opsroom.store import Store
from opsroom.store.sqlite import SqliteStore
from opsroom.telemetry import Reading
from tests.dashboard import data


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    data.fill(tmp_path / "store.db", datetime.now(UTC))
    cache.SNAPSHOTS.clear()
    yield f"sqlite:///{tmp_path / 'store.db'}#demo"  # the store key: URL and event
    cache.SNAPSHOTS.clear()


def test_ten_sessions_refreshing_together_run_each_query_once(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten screens refreshing together, half of them asking with a clock one snapshot's life
    (TTL_S) later: the overview's data age and zone table are computed once, not per
    session."""
    runs = {"data_age": 0, "zones": 0}
    from dashboard.families import TABLES  # the crowd part's zone table

    real_age, real_zones = queries.data_age, TABLES["zones"]

    def counted_age(*args, **kw):  # type: ignore[no-untyped-def]
        runs["data_age"] += 1
        time.sleep(0.05)  # a query that takes a while: the others must wait, not run it too
        return real_age(*args, **kw)

    def counted_zones(*args, **kw):  # type: ignore[no-untyped-def]
        runs["zones"] += 1
        return real_zones(*args, **kw)

    monkeypatch.setattr(queries, "data_age", counted_age)
    monkeypatch.setitem(TABLES, "zones", counted_zones)
    venue_path = str(data.VENUE)
    mtime = data.VENUE.stat().st_mtime
    now = float(int(time.time()))
    start = threading.Barrier(10)
    ages: list[queries.DataAge] = []

    def session(n: int) -> None:
        clock = now + (n % 2) * cache.TTL_S  # ui.now_s(): whole seconds, at or before now
        start.wait()
        ages.append(cache.data_age(store_url, venue_path, mtime, ("crowd",), clock, 30.0))
        zones = cache.frame(store_url, venue_path, mtime, "zones", clock)
        zones["status"] = "changed by one page"  # must not reach any other page

    threads = [threading.Thread(target=session, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert runs == {"data_age": 1, "zones": 1}
    assert len({a.newest for a in ages}) == 1 and ages[0].sensors > 0
    zones = cache.frame(store_url, venue_path, mtime, "zones", now + cache.TTL_S)
    assert runs["zones"] == 1  # the same snapshot, handed out as a copy
    assert "changed by one page" not in set(zones["status"])


def test_a_snapshot_older_than_the_callers_clock_allows_is_taken_again(store_url: str) -> None:
    venue_path, mtime = str(data.VENUE), data.VENUE.stat().st_mtime
    now = time.time()
    first = cache.data_age(store_url, venue_path, mtime, ("power",), now, 30.0)
    before = cache.SNAPSHOTS.computed
    assert cache.data_age(store_url, venue_path, mtime, ("power",), now, 30.0) == first
    assert cache.SNAPSHOTS.computed == before
    cache.data_age(store_url, venue_path, mtime, ("power",), now + cache.TTL_S + 1, 30.0)
    assert cache.SNAPSHOTS.computed == before + 1


def test_the_same_chart_is_built_once_and_new_data_builds_a_new_one(store_url: str) -> None:
    ids = ("gen-dance-tent", "gen-main-stage")
    now = datetime.now(UTC)
    frame = queries.series_frame(
        cache.store(store_url), "power", "voltage_v", ids, now.replace(hour=0), now
    )
    assert len(frame)
    lines = [(253.0, "#d62728", "+10 %")]
    one = charts.series_chart(frame, {}, "Voltage", "V", (), lines, "Europe/London")
    two = charts.series_chart(frame.copy(), {}, "Voltage", "V", (), lines, "Europe/London")
    assert one is two
    changed = frame.assign(value=frame["value"] + 1)
    three = charts.series_chart(changed, {}, "Voltage", "V", (), lines, "Europe/London")
    assert three is not one
    assert list(three.data[0].y) == list(frame[frame["sensor_id"] == ids[1]]["value"] + 1)
    assert three.layout.shapes[0].y0 == 253.0 and three.layout.annotations[0].text == "+10 %"


class CountingStore:
    """A real store whose series reads are recorded as (method, start, end)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads: list[tuple[str, datetime, datetime]] = []
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if name not in ("series", "series_many"):
            return attr

        def read(*args: Any, **kw: Any) -> Any:
            with self._lock:
                self.reads.append((name, args[3], args[4]))
            return attr(*args, **kw)

        return read


def test_ten_sessions_opening_the_24h_power_charts_cost_two_queries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The power page's three 24 h charts, opened by ten screens at once on a cold cache: one
    query for the closed hours and one for the live hour, and the same points as one query
    over the whole day; the next refresh reads the live hour only."""
    now = datetime.now(UTC).replace(microsecond=0)
    gens = ("gen-a", "gen-b")
    real = SqliteStore(tmp_path / "day.db", event="demo")
    real.write_readings(
        [
            Reading(
                "power",
                gen,
                now - timedelta(minutes=m),
                {"voltage_v": 230 + m % 7, "frequency_hz": 50 - m % 3 / 10, "power_kw": m % 90},
            )
            for gen in gens
            for m in range(0, 23 * 60 + 30)
        ]
    )
    counting = CountingStore(real)
    monkeypatch.setattr(cache, "store", lambda key: counting)
    cache.SNAPSHOTS.clear()
    cache.CLOSED.clear()
    url = f"sqlite:///{tmp_path / 'day.db'}#demo"
    start = threading.Barrier(10)
    seen: list[dict[str, pd.DataFrame]] = []

    def session() -> None:
        start.wait()
        seen.append(cache.series_many(url, "power", power.FIELDS, gens, time.time(), 86_400))

    threads = [threading.Thread(target=session) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 10 and [name for name, *_ in counting.reads] == ["series_many"] * 2
    for field in power.FIELDS:
        whole = queries.series_frame(
            real,
            "power",
            field,
            gens,
            now - timedelta(hours=25),
            now + queries.HOUR,
            timedelta(minutes=10),
        )
        assert len(whole) > 280
        assert all(s[field].to_dict("list") == whole.to_dict("list") for s in seen)

    counting.reads.clear()
    cache.series_many(url, "power", power.FIELDS, gens, time.time() + cache.TTL_S + 1, 86_400)
    assert counting.reads and all(
        end - begin <= queries.HOUR + queries.FUTURE_SLACK for _, begin, end in counting.reads
    )
    real.close()
