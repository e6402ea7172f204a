"""Runs the store contract suite against every adapter: SQLite always, InfluxDB when configured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsroom.store import Store
from opsroom.store.sqlite import SqliteStore

try:
    from tests.contract.influx_factory import influx_store_factory
except ImportError:  # pragma: no cover - the adapter's factory is part of the suite

    def influx_store_factory():  # type: ignore[no-untyped-def]
        return None, "tests/contract/influx_factory.py is missing"


@pytest.fixture(params=["sqlite", "influxdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, empty store of each adapter."""
    if request.param == "sqlite":
        s = SqliteStore(tmp_path / "contract.db")
        yield s
        s.close()
        return
    factory, reason = influx_store_factory()
    if factory is None:
        pytest.skip(f"InfluxDB contract run skipped: {reason}")
    with factory() as s:
        yield s
