"""Runs the store contract suite against every adapter: SQLite always, InfluxDB when configured."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
def scoped(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], Store]]:
    """Opens a store of an event, every one on the same fresh file (or bucket) of each adapter."""
    if request.param == "sqlite":
        opened: list[Store] = []

        def open_sqlite(event: str) -> Store:
            opened.append(SqliteStore(tmp_path / "contract.db", event=event))
            return opened[-1]

        yield open_sqlite
        for s in opened:
            s.close()
        return
    factory, reason = influx_store_factory()
    if factory is None:
        pytest.skip(f"InfluxDB contract run skipped: {reason}")
    with factory() as open_influx:
        yield open_influx


@pytest.fixture
def store(scoped: Callable[[str], Store]) -> Store:
    """A fresh, empty store of each adapter (event "demo")."""
    return scoped("demo")
