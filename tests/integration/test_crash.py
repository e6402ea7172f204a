"""`kill -9` of ingest mid-stream: after a restart the store holds every message exactly once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsroom import topics
from opsroom.broker import Mosquitto
from opsroom.store.sqlite import SqliteStore
from tests.conftest import publisher, wait_status, wait_until

pytestmark = pytest.mark.integration


def start_ingest(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "opsroom", "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_9_mid_batch_loses_and_doubles_nothing(
    own_broker: Mosquitto, event: str, tmp_path: Path
) -> None:
    db = tmp_path / "crash.db"
    env = {
        **os.environ,
        "OPSROOM_MQTT_URL": own_broker.url,
        "OPSROOM_EVENT": event,
        "OPSROOM_STORE": f"sqlite:///{db}",
        "OPSROOM_SPOOL_DIR": str(tmp_path / "spool"),
    }
    proc = start_ingest(env)
    store = SqliteStore(db, event=event)  # what ingest stores under OPSROOM_EVENT
    wait_status(own_broker.port, event, "ingest")  # subscribed: the persistent session exists
    pub = publisher(own_broker.port)
    confirmed: set[int] = set()
    pub.on_publish = lambda c, u, mid, rc, p: confirmed.add(mid)
    total = 30_000
    start = datetime.now(UTC) - timedelta(hours=1)
    killed_at = None
    for i in range(total):
        ts = (start + timedelta(milliseconds=i)).isoformat()
        pub.publish(
            topics.reading(event, "coldchain", f"fridge-{i % 50}"),
            json.dumps({"ts": ts, "temp_c": 3.0 + (i % 30) / 10}),
            qos=1,
        )
        if i == total // 2:
            wait_until(lambda: store.count() > 1000, timeout=20)
            proc.send_signal(signal.SIGKILL)  # mid-stream, most likely mid-batch
            proc.wait(10)
            killed_at = store.count()
            proc = start_ingest(env)
        if i % 1000 == 0:  # pace by the broker's confirmations, at most 5,000 in flight
            floor = i - 5000
            wait_until(lambda: len(confirmed) >= floor, timeout=30)  # noqa: B023 (used at once)
    try:
        assert wait_until(lambda: len(confirmed) == total, timeout=60), len(confirmed)
        assert wait_until(lambda: store.count() == total, timeout=90), store.count()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        pub.loop_stop()
    assert proc.returncode == 0, err[-2000:]
    assert killed_at is not None and 0 < killed_at < total
    rows = (
        sqlite3.connect(db)
        .execute("SELECT count(*), count(DISTINCT sensor_id || ':' || ts) FROM readings")
        .fetchone()
    )
    assert rows == (total, total)
