"""`opsroom health SERVICE`: the container health check, against a real broker."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
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


def test_a_dead_ingest_writer_fails_health_and_stops_the_service(
    broker: Mosquitto, event: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The writer thread ends (here: SystemExit raised inside it): `run()` returns with the
    reason, so `opsroom ingest` exits 1 and compose restarts it, and `opsroom health ingest`
    fails at once, not only once the status has gone stale. Before, the process stayed up
    storing nothing and health said it was fine."""
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
    stop = threading.Event()
    runner = threading.Thread(target=service.run, args=(stop,), kwargs={"check_s": 0.1})
    runner.start()
    try:
        assert service.wait_connected(10)
        assert health(broker, event, "ingest").returncode == 0
        writer = service._writer
        assert writer is not None and writer.ident is not None
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(writer.ident), ctypes.py_object(SystemExit)
        )
        runner.join(15)
        assert not runner.is_alive(), "run() kept going without its writer"
        dead = health(broker, event, "ingest")
    finally:
        stop.set()
        runner.join(15)
        store.close()
    assert service.failed is not None and "SystemExit" in service.failed
    assert dead.returncode == 1, dead.stdout + dead.stderr
    assert "ingest is not working: the writer thread died: SystemExit" in dead.stdout
    # the death was logged with its traceback, as it should be; not a swallowed error here
    assert any("writer thread died" in r.getMessage() for r in caplog.records)
    caplog.clear()
