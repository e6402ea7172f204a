"""InfluxStore for the store contract suite: a fresh temporary bucket per test.

Runs only against a real InfluxDB 2 named by the environment:
    OPSROOM_TEST_INFLUXDB_URL     e.g. http://127.0.0.1:8086 (unset: the InfluxDB run is skipped)
    OPSROOM_TEST_INFLUXDB_TOKEN   a token allowed to create and delete buckets in the org
    OPSROOM_TEST_INFLUXDB_ORG     organization name, default "opsroom"
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta

from influxdb_client.client.influxdb_client import InfluxDBClient

from opsroom.store import Store
from opsroom.store.influx import InfluxStore

# The contract's readings are dated 2026-07-04, not "recent": look back over everything.
LOOKBACK = timedelta(days=366 * 50)


def influx_store_factory() -> tuple[
    Callable[[], AbstractContextManager[Callable[[str], Store]]] | None, str
]:
    """(factory, "") when OPSROOM_TEST_INFLUXDB_URL is set, else (None, reason). The factory
    makes a fresh bucket and yields a function opening a store of an event on it."""
    url = os.environ.get("OPSROOM_TEST_INFLUXDB_URL", "").strip()
    if not url:
        return None, "OPSROOM_TEST_INFLUXDB_URL is not set (no InfluxDB 2 server to test against)"
    token = os.environ.get("OPSROOM_TEST_INFLUXDB_TOKEN", "")
    if not token:
        return None, "OPSROOM_TEST_INFLUXDB_URL is set but OPSROOM_TEST_INFLUXDB_TOKEN is not"
    org = os.environ.get("OPSROOM_TEST_INFLUXDB_ORG", "") or "opsroom"

    @contextmanager
    def factory() -> Iterator[Callable[[str], Store]]:
        name = f"opsroom-contract-{uuid.uuid4().hex[:12]}"
        with InfluxDBClient(url=url, token=token, org=org) as admin:
            buckets = admin.buckets_api()
            bucket = buckets.create_bucket(bucket_name=name, org=org)
            opened: list[InfluxStore] = []

            def open_store(event: str) -> Store:
                opened.append(
                    InfluxStore(url, token, org, name, event=event, latest_lookback=LOOKBACK)
                )
                return opened[-1]

            try:
                yield open_store
            finally:
                try:
                    for store in opened:
                        store.close()
                finally:
                    buckets.delete_bucket(bucket)

    return factory, ""
