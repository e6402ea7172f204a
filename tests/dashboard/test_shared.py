"""Many screens, one query: the dashboard's snapshots and charts are shared by every session."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dashboard import cache, charts, queries
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
    """Ten screens whose refreshes straddle a second boundary (clocks 1 s apart) within one
    refresh interval: the overview's data age and zone table are computed once, not per
    session or per second."""
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
        clock = now + n % 2  # half of them a second later, as ui.now_s() would give them
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
    zones = cache.frame(store_url, venue_path, mtime, "zones", now + 1)
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
