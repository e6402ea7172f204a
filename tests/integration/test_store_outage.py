"""Store outage: ingest keeps receiving, spools to disk, and writes everything on recovery."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest import IngestService
from ingest.spool import Spool
from opsroom import topics
from opsroom.broker import Mosquitto
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from opsroom.telemetry import Reading
from tests.conftest import publisher, wait_until

pytestmark = pytest.mark.integration
OUTAGE_S = float(os.environ.get("OPSROOM_TEST_OUTAGE_S", "60"))
RATE = 2000  # messages per second


def test_spool_round_trip_and_bound(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=4000)
    t0 = datetime(2026, 7, 4, 18, tzinfo=UTC)
    batch = [
        Reading("coldchain", f"f{i}", t0 + timedelta(seconds=i), {"temp_c": 3.5}) for i in range(20)
    ]
    assert spool.append(batch)
    assert spool.readings == 20
    assert not spool.append(batch * 10)  # over the bound: refused whole, nothing written
    assert spool.readings == 20
    again = Spool(tmp_path / "spool", max_bytes=4000)  # a restart finds what was spooled
    assert again.readings == 20
    store = SqliteStore(tmp_path / "s.db")
    assert again.replay_one(store) == 20
    assert again.readings == 0 and again.bytes == 0
    assert store.count() == 20
    assert store.latest("coldchain", ["f19"])[0].ts == t0 + timedelta(seconds=19)


def test_spool_replay_hands_over_what_the_store_refuses_and_skips_damaged_lines(
    tmp_path: Path,
) -> None:
    """A spooled reading the store refuses (not an outage) used to fail every replay, so the
    spool never emptied; now it goes to the caller (ingest dead-letters it) and the rest is
    written. A damaged line is skipped the same way."""
    spool = Spool(tmp_path / "spool", max_bytes=1_000_000)
    t0 = datetime(2026, 7, 4, 18, tzinfo=UTC)
    batch = [
        Reading(
            "coldchain", f"f{i}", t0 + timedelta(seconds=i), {"temp_c": 13.37 if i == 7 else 3.5}
        )
        for i in range(40)
    ]
    assert spool.append(batch[:20]) and spool.append(batch[20:])
    [segment] = (tmp_path / "spool").glob("spool-*.jsonl")
    with segment.open("ab") as f:
        f.write(b'["coldchain", "f99", "not a time", false, {}]\n')
    again = Spool(tmp_path / "spool", max_bytes=1_000_000)
    assert again.readings == 41
    store = SqliteStore(tmp_path / "s.db")
    with sqlite3.connect(store.path) as conn:  # the real file refuses one value
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON readings "
            "WHEN json_extract(NEW.data, '$.temp_c') = 13.37 "
            "BEGIN SELECT RAISE(ABORT, 'temp_c value refused'); END"
        )
    refused: list[tuple[Reading, str]] = []
    assert again.replay_one(store, chunk=16, refused=lambda r, why: refused.append((r, why))) == 39
    assert [(r.sensor_id, "temp_c value refused" in why) for r, why in refused] == [("f7", True)]
    assert again.readings == 0 and again.bytes == 0
    assert store.count() == 39
    assert again.replay_one(store) == 0  # nothing is left to wedge a later replay
    store.close()


@pytest.mark.slow
def test_store_outage_at_2000_msgs_loses_and_doubles_nothing(
    own_broker: Mosquitto, event: str, tmp_path: Path
) -> None:
    """The SQLite file is locked by another process for OUTAGE_S seconds mid-stream."""
    db = tmp_path / "outage.db"
    store = SqliteStore(db, busy_timeout_s=0.1)
    settings = Settings.load(
        {
            "event": event,
            "mqtt_url": own_broker.url,
            "stats_interval_s": 1,
            "spool_dir": tmp_path / "spool",
        },
        env={},
    )
    service = IngestService(settings, store)
    service.start()
    assert service.wait_connected(10)  # the broker confirmed the subscription
    pub = publisher(own_broker.port)
    total = int(RATE * (OUTAGE_S + 10))
    start = datetime.now(UTC) - timedelta(hours=1)
    sent = 0

    def publish_all() -> None:
        nonlocal sent
        t0 = time.monotonic()
        for i in range(total):
            ts = (start + timedelta(milliseconds=i)).isoformat()
            pub.publish(
                topics.reading(event, "power", f"gen-{i % 40}"),
                json.dumps({"ts": ts, "power_kw": float(i % 500)}),
                qos=1,
            )
            sent += 1
            ahead = sent / RATE - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)

    feeder = threading.Thread(target=publish_all)
    feeder.start()
    # the store is fine for a while: readings are stored before the outage begins
    assert wait_until(lambda: service.counters.stored >= RATE * 2, timeout=30), service.counters
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # the store is locked: every write fails
    outage_started = service.counters.stored
    # the outage lasts until ingest has spooled half its nominal length of readings: a
    # positive signal (an ingest that stalled in the outage never gets there)
    assert wait_until(
        lambda: service.counters.spooled >= RATE * OUTAGE_S * 0.5, timeout=OUTAGE_S * 3
    ), service.counters
    received_during = service.counters.received
    locker.execute("ROLLBACK")
    locker.close()
    feeder.join()
    try:
        assert wait_until(lambda: store.count() == total, timeout=120), (
            store.count(),
            service.counters,
        )
        assert wait_until(lambda: service.counters.spool_pending == 0, timeout=30)
    finally:
        service.stop()
        pub.loop_stop()
    c = service.counters
    # ingest kept receiving during the outage (and spooled, above, what it could not store)
    assert received_during > outage_started + RATE * OUTAGE_S * 0.5
    assert c.store_errors >= 1
    assert c.replayed == c.spooled
    # every reading stored exactly once: one row per (kind, sensor, ts)
    assert store.count() == total
    rows = (
        sqlite3.connect(db)
        .execute("SELECT count(*), count(DISTINCT sensor_id || ts) FROM readings")
        .fetchone()
    )
    assert rows == (total, total)
    assert not list((tmp_path / "spool").glob("*.jsonl"))
