"""The store protocol every adapter implements, and the shapes it returns."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from opsroom.alerts import AlertEvent
from opsroom.audit import AuditEntry
from opsroom.controllog.model import LogEntry
from opsroom.telemetry import Reading


class StoreError(RuntimeError):
    """The store could not do what was asked (unreachable, locked, misconfigured)."""


class BadDataError(StoreError):
    """The store refused the data itself, not for an outage: writing it again fails the same way.

    A caller holding a batch should not wait for the store to recover but find the reading(s)
    at fault (ingest writes the batch in halves until each refused reading is alone).
    """


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def show_int(value: int) -> str:
    """An integer for a message: its digits, or its size when it has too many to print."""
    return str(value) if value.bit_length() <= 256 else f"an integer of {value.bit_length()} bits"


def _text_problem(what: str, text: object) -> str | None:
    if not isinstance(text, str):
        return f"{what} is a {type(text).__name__}, not a string"
    if "\x00" in text:
        return f"{what} {text[:40]!r} contains a NUL character"
    try:
        text.encode()
    except UnicodeEncodeError:
        return f"{what} {text[:40]!r} is not valid Unicode (a lone surrogate)"
    return None


def reading_problem(reading: Reading) -> str | None:
    """Why no store can keep `reading` faithfully, or None: what every adapter refuses.

    Values must be bools, 64-bit integers or finite floats (SQLite and InfluxDB store integers
    in 64 bits; NaN and infinities have no JSON form), and names valid Unicode without NUL
    (SQLite cuts text at a NUL). An adapter may refuse more (see its docstring); it raises
    BadDataError naming the field. Cheap enough to run on every reading of a batch.
    """
    for name, value in reading.values.items():
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                return f"field {name!r}: {value} is not a finite number"
        elif kind is int:
            if not INT64_MIN <= value <= INT64_MAX:
                return f"field {name!r}: {show_int(int(value))} does not fit a 64-bit integer"
        elif kind is not bool:
            return f"field {name!r}: unsupported value type {kind.__name__}"
        if type(name) is not str or not name.isprintable():  # NUL and surrogates are not
            problem = _text_problem("field name", name)
            if problem is not None:
                return problem
    return _text_problem("sensor_id", reading.sensor_id) or _text_problem("kind", reading.kind)


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One point of a series: a sensor's value of one field at a time (or bucket start)."""

    sensor_id: str
    ts: datetime
    value: float


@runtime_checkable
class Store(Protocol):
    """Where readings and alert events of one event are kept.

    A store object is scoped to one event id, `event`, given when it is opened
    (`open_store(settings)` passes `settings.event`; the adapters take `event=`): everything it
    writes is marked with that event (a column in SQLite, the `event_id` tag in InfluxDB) and
    everything it reads, counts or returns is of that event only. Stores of different events
    may share one file or bucket (a rehearsal and the live day) and never see each other's
    readings, latest values or alerts. Callers therefore never pass the event per call.

    Contract (tests/contract/ runs it against every adapter):
    - `write_readings` is idempotent per (event, kind, sensor_id, ts): writing a reading again,
      in the same batch or a later one, leaves the store as it was. Timestamps keep
      microsecond precision.
    - `latest` returns, per sensor of a kind, the reading with the greatest ts, whatever
      order the readings were written in.
    - `series` returns points with start <= ts < end, ordered by sensor then ts. With
      `every`, it returns one point per (sensor, bucket): the mean of the field over the
      bucket, stamped with the bucket's start (buckets aligned to the Unix epoch).
      Readings without the field are skipped.
    - `series_many` returns, for each field asked, exactly what `series` returns for it, from
      one pass over the readings (a chart page's fields at the cost of one).
    - `write_alert_events` is idempotent per (event, alert_id, state, ts); `alert_events` returns
      them ordered by ts then insertion.
    - `write_log` is idempotent per (event, entry id): the first write of an id is kept, a
      rewrite adds nothing. `log_entries` returns entries with start <= event_ts < end (or
      all), ordered by event_ts then insertion; `incident_id` keeps one incident's thread
      (its opening entry included), `category` one category, `text` the entries whose words
      contain it, case-insensitively (`LogEntry.matches`). No method edits or deletes an
      entry: the log is append-only (a correction is a new entry).
    - Failures raise StoreError; nothing is half-written from the caller's point of view
      (a batch that raised may be written again).
    - A reading the store cannot keep faithfully raises BadDataError (a StoreError) naming
      the reading and the field, and is never stored altered: at least every reading with a
      `reading_problem` (an adapter may refuse more). Any other StoreError is an outage.
    - The audit trail is append-only: `write_audit` adds entries (idempotent per (event, ts,
      user, action, target)) and no method edits or removes one; `audit_entries` returns them
      with start <= ts < end, ordered by ts, optionally of one user and/or one action.
    """

    event: str

    def write_readings(self, readings: Sequence[Reading]) -> None:
        """Store a batch of readings (idempotent)."""
        ...

    def latest(self, kind: str, sensor_ids: Collection[str] | None = None) -> list[Reading]:
        """The newest reading of each sensor of `kind` (optionally only `sensor_ids`)."""
        ...

    def series(
        self,
        kind: str,
        field: str,
        sensor_ids: Collection[str],
        start: datetime,
        end: datetime,
        every: timedelta | None = None,
    ) -> list[SeriesPoint]:
        """One field of chosen sensors over [start, end), optionally averaged per `every`."""
        ...

    def series_many(
        self,
        kind: str,
        fields: Sequence[str],
        sensor_ids: Collection[str],
        start: datetime,
        end: datetime,
        every: timedelta | None = None,
    ) -> dict[str, list[SeriesPoint]]:
        """`series` of several fields in one query: field -> its points (every field asked)."""
        ...

    def count(self, kind: str | None = None) -> int:
        """How many readings are stored (of `kind`, or of every kind)."""
        ...

    def write_alert_events(self, events: Sequence[AlertEvent]) -> None:
        """Store alert transitions (idempotent)."""
        ...

    def alert_events(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        alert_id: str | None = None,
    ) -> list[AlertEvent]:
        """Alert transitions with start <= ts < end (or all), optionally of one alert."""
        ...

    def write_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append audit entries (idempotent; there is no way to change or remove one)."""
        ...

    def audit_entries(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        user: str | None = None,
        action: str | None = None,
    ) -> list[AuditEntry]:
        """Audit entries with start <= ts < end (or all), optionally of one user / action."""
        ...

    def write_log(self, entries: Sequence[LogEntry]) -> None:
        """Append control log entries (idempotent per id)."""
        ...

    def log_entries(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        incident_id: str | None = None,
        category: str | None = None,
        text: str | None = None,
    ) -> list[LogEntry]:
        """Control log entries with start <= event_ts < end (or all), optionally filtered."""
        ...

    def close(self) -> None:
        """Flush and release the store."""
        ...


def active_alerts(events: Sequence[AlertEvent]) -> list[AlertEvent]:
    """The latest event of each alert that is not resolved, newest first.

    An alert id names one occurrence, so a resolution is final: an alert with a `resolved`
    event is not active whatever sorts after it (an acknowledgement its sender dated in the
    future, stored before the rules service stamped acknowledgements itself).
    """
    last: dict[str, AlertEvent] = {}
    resolved: set[str] = set()
    for event in events:
        last[event.alert_id] = event
        if not event.active:
            resolved.add(event.alert_id)
    return sorted(
        (e for e in last.values() if e.alert_id not in resolved), key=lambda e: e.ts, reverse=True
    )
