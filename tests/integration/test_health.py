"""`opsroom health SERVICE`: the container health check, against a real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest import IngestService
from opsroom.broker import Mosquitto
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration


def health(broker: Mosquitto, event: str, service: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPSROOM_MQTT_URL": broker.url, "OPSROOM_EVENT": event}
    return subprocess.run(
        [sys.executable, "-m", "opsroom", "health", service, "--max-age", "30"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_health_reports_a_running_ingest_and_a_missing_service(
    broker: Mosquitto, event: str, tmp_path: Path
) -> None:
    settings = Settings.load(
        {
            "event": event,
            "mqtt_url": broker.url,
            "stats_interval_s": 0.2,
            "spool_dir": tmp_path / "spool",
        },
        env={},
    )
    store = SqliteStore(tmp_path / "h.db")
    service = IngestService(settings, store)
    service.start()
    try:
        assert service.wait_connected(10)
        ok = health(broker, event, "ingest")
        missing = health(broker, event, "nothing-here")
    finally:
        service.stop()
        store.close()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ingest reported" in ok.stdout
    assert missing.returncode == 1
    assert "no status" in missing.stdout
