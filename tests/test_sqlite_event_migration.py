"""A SQLite file from before readings carried their event opens, and its rows become the
opening store's event (the one event the file served)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from opsroom.alerts import AlertEvent
from opsroom.store.sqlite import SqliteStore
from opsroom.telemetry import Reading

T0 = datetime(2026, 7, 4, 18, 0, 0, tzinfo=UTC)
T0_US = 1_783_188_000_000_000

# the schema as it was before the event column (commit 5aa441f)
OLD_SCHEMA = """
CREATE TABLE readings (
    kind TEXT NOT NULL, sensor_id TEXT NOT NULL, ts INTEGER NOT NULL, drill INTEGER NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (kind, sensor_id, ts)
) WITHOUT ROWID;
CREATE TABLE latest (
    kind TEXT NOT NULL, sensor_id TEXT NOT NULL, ts INTEGER NOT NULL, drill INTEGER NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (kind, sensor_id)
) WITHOUT ROWID;
CREATE TABLE alert_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, state TEXT NOT NULL,
    ts INTEGER NOT NULL, data TEXT NOT NULL, UNIQUE (alert_id, state, ts)
);
CREATE INDEX alert_events_ts ON alert_events (ts);
"""


def alert(state: str, seconds: int) -> AlertEvent:
    return AlertEvent(
        alert_id="a1",
        rule="fridge-warm",
        subject="fridge-1",
        kind="coldchain",
        severity="warning",
        state=state,  # type: ignore[arg-type]
        ts=T0 + timedelta(seconds=seconds),
    )


def old_file(path: Path) -> Path:
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    for s, value in ((0, 3.0), (60, 4.0)):
        row = (
            "coldchain",
            "fridge-1",
            T0_US + s * 1_000_000,
            0,
            orjson.dumps({"temp_c": value}).decode(),
        )
        db.execute("INSERT INTO readings VALUES (?,?,?,?,?)", row)
    db.execute("INSERT INTO latest VALUES (?,?,?,?,?)", row)
    for e in (alert("firing", 0), alert("resolved", 60)):
        db.execute(
            "INSERT INTO alert_events (alert_id, state, ts, data) VALUES (?,?,?,?)",
            (e.alert_id, e.state, T0_US + int((e.ts - T0).total_seconds()) * 1_000_000,
             e.model_dump_json()),
        )  # fmt: skip
    db.commit()
    db.close()
    return path


def test_an_old_file_opens_and_its_rows_become_the_opening_event(tmp_path: Path) -> None:
    path = old_file(tmp_path / "old.db")
    store = SqliteStore(path, event="fest")
    assert store.migrated == 2 + 1 + 2  # readings, latest, alert events
    assert store.count() == 2
    [latest] = store.latest("coldchain")
    assert (latest.ts, latest.values) == (T0 + timedelta(seconds=60), {"temp_c": 4.0})
    assert [e.state for e in store.alert_events()] == ["firing", "resolved"]
    # still idempotent for the migrated rows; new rows and alerts go on from there
    store.write_readings([Reading("coldchain", "fridge-1", T0, {"temp_c": 3.0})])
    store.write_readings(
        [Reading("coldchain", "fridge-1", T0 + timedelta(minutes=2), {"temp_c": 5.0})]
    )
    store.write_alert_events([alert("resolved", 60), alert("firing", 300)])
    assert store.count() == 3
    assert store.latest("coldchain")[0].values == {"temp_c": 5.0}
    assert [e.state for e in store.alert_events()] == ["firing", "resolved", "firing"]
    store.close()
    # another event on the migrated file sees none of it; reopening migrates nothing
    other = SqliteStore(path, event="other")
    assert (other.migrated, other.count(), other.latest("coldchain"), other.alert_events()) == (
        0, 0, [], [],
    )  # fmt: skip
    other.close()
    again = SqliteStore(path, event="fest")
    assert (again.migrated, again.count()) == (0, 3)
    again.close()


def test_an_old_file_another_process_is_writing_opens_once_it_is_done(tmp_path: Path) -> None:
    """The switch to WAL needs the file to itself, and SQLite refuses it at once ("database is
    locked", no busy timeout) while another connection writes: the store waits for it instead
    (seen when two services started together on a loaded machine)."""
    path = old_file(tmp_path / "old.db")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another service, mid-migration
    done = threading.Event()

    def finish() -> None:
        done.wait(10)
        other.execute("COMMIT")

    finisher = threading.Thread(target=finish)
    finisher.start()
    try:
        threading.Timer(0.3, done.set).start()
        store = SqliteStore(path, event="fest")
    finally:
        done.set()
        finisher.join()
        other.close()
    try:
        assert store.migrated == 5
    finally:
        store.close()


def test_two_services_opening_an_old_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = old_file(tmp_path / "old.db")
    stores: list[SqliteStore] = []
    barrier = threading.Barrier(2)

    def open_it() -> None:
        barrier.wait()
        stores.append(SqliteStore(path, event="fest"))

    threads = [threading.Thread(target=open_it) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s.migrated for s in stores) == [0, 5]
    assert [s.count() for s in stores] == [2, 2]
    for s in stores:
        s.close()
