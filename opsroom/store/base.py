"""The store protocol every adapter implements, and the shapes it returns."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from opsroom.alerts import AlertEvent
from opsroom.telemetry import Reading


class StoreError(RuntimeError):
    """The store could not do what was asked (unreachable, locked, misconfigured)."""


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One point of a series: a sensor's value of one field at a time (or bucket start)."""

    sensor_id: str
    ts: datetime
    value: float


@runtime_checkable
class Store(Protocol):
    """Where readings and alert events are kept.

    Contract (tests/contract/ runs it against every adapter):
    - `write_readings` is idempotent per (kind, sensor_id, ts): writing a reading again,
      in the same batch or a later one, leaves the store as it was. Timestamps keep
      microsecond precision.
    - `latest` returns, per sensor of a kind, the reading with the greatest ts, whatever
      order the readings were written in.
    - `series` returns points with start <= ts < end, ordered by sensor then ts. With
      `every`, it returns one point per (sensor, bucket): the mean of the field over the
      bucket, stamped with the bucket's start (buckets aligned to the Unix epoch).
      Readings without the field are skipped.
    - `write_alert_events` is idempotent per (alert_id, state, ts); `alert_events` returns
      them ordered by ts then insertion.
    - Failures raise StoreError; nothing is half-written from the caller's point of view
      (a batch that raised may be written again).
    """

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
