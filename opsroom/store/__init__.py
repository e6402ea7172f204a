"""The store: one protocol, two adapters (SQLite embedded default, InfluxDB 2 production)."""

from __future__ import annotations

from opsroom.settings import Settings
from opsroom.store.base import (
    BadDataError,
    SeriesPoint,
    Store,
    StoreError,
    active_alerts,
    reading_problem,
)

__all__ = [
    "BadDataError",
    "SeriesPoint",
    "Store",
    "StoreError",
    "active_alerts",
    "open_store",
    "reading_problem",
]


def open_store(settings: Settings) -> Store:
    """Open the store the settings name (`sqlite:///PATH` or `influxdb`), scoped to
    `settings.event`: it reads and writes that event's data only."""
    if settings.store.startswith("sqlite:///"):
        from opsroom.store.sqlite import SqliteStore

        return SqliteStore(settings.store.removeprefix("sqlite:///"), event=settings.event)
    from opsroom.store.influx import InfluxStore

    if settings.influxdb_token is None:
        raise StoreError("store is influxdb but OPSROOM_INFLUXDB_TOKEN is not set")
    return InfluxStore(
        url=settings.influxdb_url,
        token=settings.influxdb_token.get_secret_value(),
        org=settings.influxdb_org,
        bucket=settings.influxdb_bucket,
        event=settings.event,
    )
