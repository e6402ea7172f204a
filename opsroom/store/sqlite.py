"""SQLite store: the embedded default. WAL, batched inserts, a 'latest' table kept on write.

A little over 400 lines: one adapter of the whole store protocol (readings, alerts, audit
trail, control log) with its schema and migration, as the InfluxDB adapter is.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from opsroom.alerts import AlertEvent
from opsroom.audit import AuditEntry
from opsroom.clock import from_us, to_us
from opsroom.controllog.model import LogEntry
from opsroom.store.base import BadDataError, SeriesPoint, StoreError, reading_problem
from opsroom.telemetry import Reading

log = logging.getLogger(__name__)

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    event TEXT NOT NULL,
    kind TEXT NOT NULL,
    sensor_id TEXT NOT NULL,
    ts INTEGER NOT NULL,            -- epoch microseconds
    drill INTEGER NOT NULL,
    data TEXT NOT NULL,             -- JSON object of the values
    PRIMARY KEY (event, kind, sensor_id, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (
    event TEXT NOT NULL,
    kind TEXT NOT NULL,
    sensor_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    drill INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (event, kind, sensor_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    state TEXT NOT NULL,
    ts INTEGER NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (event, alert_id, state, ts)
);
CREATE INDEX IF NOT EXISTS alert_events_event_ts ON alert_events (event, ts);
"""

# The audit trail: append-only, and the file says so itself (triggers refuse UPDATE and DELETE,
# whoever connects). Its own script: the triggers' bodies hold semicolons.
AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    ts INTEGER NOT NULL,            -- epoch microseconds, wall clock
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    data TEXT NOT NULL,             -- the whole entry as JSON
    UNIQUE (event, ts, user, action, target)
);
CREATE INDEX IF NOT EXISTS audit_event_ts ON audit (event, ts);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""

# The control log is append-only in the file itself: triggers refuse any UPDATE or DELETE.
# Its own script (a trigger body holds ';', which the migration's split on ';' would cut).
LOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS control_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    id TEXT NOT NULL,
    event_ts INTEGER NOT NULL,      -- epoch microseconds
    category TEXT NOT NULL,
    incident_id TEXT,
    data TEXT NOT NULL,             -- the entry as JSON
    UNIQUE (event, id)
);
CREATE INDEX IF NOT EXISTS control_log_event_ts ON control_log (event, event_ts);
CREATE TRIGGER IF NOT EXISTS control_log_no_update BEFORE UPDATE ON control_log
BEGIN SELECT RAISE(ABORT, 'the control log is append-only: entries are never changed'); END;
CREATE TRIGGER IF NOT EXISTS control_log_no_delete BEFORE DELETE ON control_log
BEGIN SELECT RAISE(ABORT, 'the control log is append-only: entries are never deleted'); END;
"""

# A file written before readings carried their event (no `event` column) is rebuilt once, in
# one transaction, with every old row given the event of the store that opens it first.
_UNSCOPED = ("readings", "latest", "alert_events")
_MIGRATE = tuple(f"ALTER TABLE {t} RENAME TO {t}_unscoped" for t in _UNSCOPED)
_COPY = (
    "INSERT INTO readings SELECT ?, kind, sensor_id, ts, drill, data FROM readings_unscoped",
    "INSERT INTO latest SELECT ?, kind, sensor_id, ts, drill, data FROM latest_unscoped",
    "INSERT INTO alert_events (seq, event, alert_id, state, ts, data)"
    " SELECT seq, ?, alert_id, state, ts, data FROM alert_events_unscoped ORDER BY seq",
)
_DROP = tuple(f"DROP TABLE {t}_unscoped" for t in _UNSCOPED)

# A whole batch goes in as one JSON parameter and one statement: executemany would release
# and retake the GIL for every row, and against a busy MQTT thread that fell to ~2k rows/s.
_ROWS = "SELECT ?1, value->>0, value->>1, value->>2, value->>3, value->4 FROM json_each(?2)"
_INSERT = f"INSERT OR IGNORE INTO readings (event, kind, sensor_id, ts, drill, data) {_ROWS}"
_UPSERT_LATEST = f"""
INSERT INTO latest (event, kind, sensor_id, ts, drill, data) {_ROWS} WHERE true
ON CONFLICT (event, kind, sensor_id) DO UPDATE
SET ts = excluded.ts, drill = excluded.drill, data = excluded.data
WHERE excluded.ts > latest.ts
"""


def _describe(reading: Reading) -> str:
    """Which reading, for an error message (names shortened, never unprintable)."""
    return f"{str(reading.kind)[:40]!r} reading of {str(reading.sensor_id)[:60]!r} at {reading.ts}"


def _wal(db: sqlite3.Connection, timeout_s: float) -> None:
    """Put the file in WAL mode. The switch needs the file to itself and SQLite answers "database
    is locked" at once, without its busy timeout, while another process opens or migrates the
    same file (two services starting together): try again until the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


class SqliteStore:
    """The Store protocol on one SQLite file, scoped to one event (see opsroom.store.base.Store).

    Several stores of different events may share a file: every row carries its event and
    every query filters by it. A file from before the `event` column is migrated when it is
    first opened: its rows become the opening store's event (the file served one event, the
    one its services were started with; see `migrated`).
    """

    def __init__(
        self, path: str | Path, busy_timeout_s: float = 5.0, *, event: str = "demo"
    ) -> None:
        if not isinstance(event, str) or not event:
            raise ValueError(f"event must be a non-empty string, not {event!r}")
        self.path = Path(path)
        self.event = event
        # rows of a pre-event file this store adopted as its event's (0: nothing migrated)
        self.migrated = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout_s, check_same_thread=False, isolation_level=None
            )
            _wal(self._db, busy_timeout_s)
            self._db.execute("PRAGMA synchronous=NORMAL")
            if self._unscoped():
                self._migrate()
            self._db.executescript(SCHEMA)
            self._db.executescript(AUDIT_SCHEMA)
            self._db.executescript(LOG_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from exc
        self._lock = threading.Lock()

    def _unscoped(self) -> bool:
        """True if the file has a readings table without the `event` column."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(readings)")}
        return bool(columns) and "event" not in columns

    def _migrate(self) -> None:
        """Rebuild a pre-event file's tables with the column, in one transaction (another
        process opening the file at the same time waits, then finds it done)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if self._unscoped():  # checked again under the write lock
                for statement in _MIGRATE:
                    self._db.execute(statement)
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                for statement in _COPY:
                    self.migrated += self._db.execute(statement, (self.event,)).rowcount
                for statement in _DROP:
                    self._db.execute(statement)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        if self.migrated:
            log.warning(
                "SQLite store %s had no event column: its %d rows now belong to event %r",
                self.path,
                self.migrated,
                self.event,
            )

    @contextmanager
    def _tx(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except (sqlite3.IntegrityError, sqlite3.DataError) as exc:
                # a constraint or value the database refuses: the data, not an outage
                raise BadDataError(f"SQLite store {self.path}: {what} refused: {exc}") from exc
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store {self.path}: {what} failed: {exc}") from exc

    def _query(self, what: str, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store {self.path}: {what} failed: {exc}") from exc

    def write_readings(self, readings: Sequence[Reading]) -> None:
        """Store a batch in one transaction; a repeated (event, kind, sensor, ts) is ignored.

        A reading SQLite cannot keep faithfully (see `reading_problem`: an integer beyond 64
        bits, NaN, a NUL in a name, ...) raises BadDataError naming it, and nothing is written.
        """
        if not readings:
            return
        for r in readings:
            problem = reading_problem(r)
            if problem is not None:
                raise BadDataError(f"SQLite store {self.path}: {_describe(r)}: {problem}")
        rows = orjson.dumps(
            [(r.kind, r.sensor_id, to_us(r.ts), int(r.drill), r.values) for r in readings]
        )
        with self._tx("write readings") as db:
            db.execute(_INSERT, (self.event, rows))
            # the same rows, in order: SQLite applies the upsert row by row, so a sensor with
            # several readings in the batch ends on its newest (in C, with the GIL released)
            db.execute(_UPSERT_LATEST, (self.event, rows))

    def latest(self, kind: str, sensor_ids: Collection[str] | None = None) -> list[Reading]:
        """The newest reading per sensor of a kind, from the latest table."""
        sql = "SELECT sensor_id, ts, drill, data FROM latest WHERE event = ? AND kind = ?"
        params: list[object] = [self.event, kind]
        if sensor_ids is not None:
            ids = list(sensor_ids)
            if not ids:
                return []
            sql += f" AND sensor_id IN ({','.join('?' * len(ids))})"
            params += ids
        rows = self._query("latest", sql + " ORDER BY sensor_id", params)
        return [
            Reading(kind, str(sid), from_us(int(str(ts))), orjson.loads(str(data)), bool(drill))
            for sid, ts, drill, data in rows
        ]

    def series(
        self,
        kind: str,
        field: str,
        sensor_ids: Collection[str],
        start: datetime,
        end: datetime,
        every: timedelta | None = None,
    ) -> list[SeriesPoint]:
        """One field over [start, end); bucket means aligned to the epoch when `every` is set."""
        return self.series_many(kind, [field], sensor_ids, start, end, every)[field]

    def series_many(
        self,
        kind: str,
        fields: Sequence[str],
        sensor_ids: Collection[str],
        start: datetime,
        end: datetime,
        every: timedelta | None = None,
    ) -> dict[str, list[SeriesPoint]]:
        """Several fields in one scan of the (event, kind, sensor_id, ts) key, not one scan and
        one query per field (json_extract still parses a row's JSON for each field)."""
        names = list(dict.fromkeys(fields))
        for field in names:
            if not _FIELD.match(field):
                raise StoreError(f"invalid field name {field!r}")
        out: dict[str, list[SeriesPoint]] = {field: [] for field in names}
        ids = list(sensor_ids)
        if not ids or not names:
            return out
        values = [f"json_extract(data, '$.{field}')" for field in names]
        where = (
            f"event = ? AND kind = ? AND sensor_id IN ({','.join('?' * len(ids))})"
            f" AND ts >= ? AND ts < ? AND ({' OR '.join(f'{v} IS NOT NULL' for v in values)})"
        )
        params: list[object] = [self.event, kind, *ids, to_us(start), to_us(end)]
        if every is None:
            sql = (
                f"SELECT sensor_id, ts, {', '.join(values)} FROM readings WHERE {where}"
                " ORDER BY sensor_id, ts"
            )
        else:
            step = int(every.total_seconds() * 1_000_000)
            if step <= 0:
                raise StoreError("series: every must be positive")
            means = ", ".join(f"avg({v})" for v in values)
            sql = (
                f"SELECT sensor_id, (ts / {step}) * {step} AS bucket, {means} FROM readings"
                f" WHERE {where} GROUP BY sensor_id, bucket ORDER BY sensor_id, bucket"
            )
        for sid, ts, *row in self._query("series", sql, params):
            at = from_us(int(str(ts)))
            for field, value in zip(names, row, strict=True):
                if value is not None:  # this reading (or bucket) has no such field
                    out[field].append(SeriesPoint(str(sid), at, float(str(value))))
        return out

    def count(self, kind: str | None = None) -> int:
        """Readings stored, of one kind or all."""
        if kind is None:
            sql, params = "SELECT count(*) FROM readings WHERE event = ?", [self.event]
        else:
            sql = "SELECT count(*) FROM readings WHERE event = ? AND kind = ?"
            params = [self.event, kind]
        rows = self._query("count", sql, params)
        return int(str(rows[0][0]))

    def write_alert_events(self, events: Sequence[AlertEvent]) -> None:
        """Store alert transitions; a repeated (event, alert_id, state, ts) is ignored."""
        if not events:
            return
        rows = [(self.event, e.alert_id, e.state, to_us(e.ts), e.model_dump_json()) for e in events]
        with self._tx("write alert events") as db:
            db.executemany(
                "INSERT OR IGNORE INTO alert_events (event, alert_id, state, ts, data)"
                " VALUES (?,?,?,?,?)",
                rows,
            )

    def alert_events(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        alert_id: str | None = None,
    ) -> list[AlertEvent]:
        """Alert transitions in [start, end), ordered by ts then insertion."""
        # one alert's few events: look them up by (event, alert_id), not through the event's
        # whole time index, which the planner would take for the ORDER BY (`+ts` rules it out)
        ts = "ts" if alert_id is None else "+ts"
        clauses: list[str] = ["event = ?"]
        params: list[object] = [self.event]
        if start is not None:
            clauses.append(f"{ts} >= ?")
            params.append(to_us(start))
        if end is not None:
            clauses.append(f"{ts} < ?")
            params.append(to_us(end))
        if alert_id is not None:
            clauses.append("alert_id = ?")
            params.append(alert_id)
        sql = f"SELECT data FROM alert_events WHERE {' AND '.join(clauses)} ORDER BY {ts}, seq"
        rows = self._query("alert events", sql, params)
        return [AlertEvent.model_validate_json(str(row[0])) for row in rows]

    def write_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append audit entries; a repeated (event, ts, user, action, target) is ignored."""
        if not entries:
            return
        rows = [
            (self.event, to_us(e.ts), e.user, e.action, e.target, e.model_dump_json())
            for e in entries
        ]
        with self._tx("write audit entries") as db:
            db.executemany(
                "INSERT OR IGNORE INTO audit (event, ts, user, action, target, data)"
                " VALUES (?,?,?,?,?,?)",
                rows,
            )

    def audit_entries(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        user: str | None = None,
        action: str | None = None,
    ) -> list[AuditEntry]:
        """Audit entries in [start, end), of one user / action if given, by ts then insertion."""
        clauses: list[str] = ["event = ?"]
        params: list[object] = [self.event]
        conditions: tuple[tuple[str, object], ...] = (
            ("ts >= ?", None if start is None else to_us(start)),
            ("ts < ?", None if end is None else to_us(end)),
            ("user = ?", user),
            ("action = ?", action),
        )
        for sql, value in conditions:
            if value is not None:
                clauses.append(sql)
                params.append(value)
        sql = f"SELECT data FROM audit WHERE {' AND '.join(clauses)} ORDER BY ts, seq"
        rows = self._query("audit entries", sql, params)
        return [AuditEntry.model_validate_json(str(row[0])) for row in rows]

    def write_log(self, entries: Sequence[LogEntry]) -> None:
        """Append control log entries; an id already stored is ignored (the first is kept)."""
        if not entries:
            return
        rows = [
            (self.event, e.id, to_us(e.event_ts), e.category, e.incident_id, e.model_dump_json())
            for e in entries
        ]
        with self._tx("write control log") as db:
            db.executemany(
                "INSERT OR IGNORE INTO control_log (event, id, event_ts, category, incident_id,"
                " data) VALUES (?,?,?,?,?,?)",
                rows,
            )

    def log_entries(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        incident_id: str | None = None,
        category: str | None = None,
        text: str | None = None,
    ) -> list[LogEntry]:
        """Control log entries in [start, end) of event time, by event time then insertion."""
        clauses: list[str] = ["event = ?"]
        params: list[object] = [self.event]
        for clause, value in (
            ("event_ts >= ?", None if start is None else to_us(start)),
            ("event_ts < ?", None if end is None else to_us(end)),
            ("incident_id = ?", incident_id),
            ("category = ?", category),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        sql = f"SELECT data FROM control_log WHERE {' AND '.join(clauses)} ORDER BY event_ts, seq"
        rows = self._query("control log", sql, params)
        found = [LogEntry.model_validate_json(str(row[0])) for row in rows]
        return found if not text else [e for e in found if e.matches(text)]

    def close(self) -> None:
        """Close the database (a checkpoint happens on the last connection's close)."""
        with self._lock:
            self._db.close()
