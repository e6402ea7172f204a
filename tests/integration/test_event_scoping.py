"""Two events ingested through a real Mosquitto into one SQLite file, read back per event with
`opsroom query` as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest import IngestService
from opsroom import topics
from opsroom.broker import Mosquitto
from opsroom.settings import Settings
from opsroom.store import open_store
from tests.conftest import publisher, wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def opsroom(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSROOM_")}
    return subprocess.run(
        [sys.executable, "-m", "opsroom", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_query_latest_per_event_after_ingesting_two_events(
    broker: Mosquitto, event: str, tmp_path: Path
) -> None:
    db = tmp_path / "shared.db"
    live, rehearsal = f"{event}-live", f"{event}-rehearsal"
    services = {}
    stores = []
    for name in (live, rehearsal):
        settings = Settings.load(
            {
                "event": name,
                "mqtt_url": broker.url,
                "store": f"sqlite:///{db}",
                "spool_dir": tmp_path / f"spool-{name}",
            },
            env={},
        )
        stores.append(open_store(settings))  # as `opsroom ingest` opens it: scoped to its event
        services[name] = IngestService(settings, stores[-1])
        services[name].start()
    try:
        assert all(s.wait_connected(10) for s in services.values())  # SUBACKs came
        now = datetime.now(UTC).replace(microsecond=0)
        pub = publisher(broker.port)
        sent = {
            # the same fridge at the same time in both events: a rehearsal's hot fridge
            live: [("fridge-1", 3.5), ("fridge-2", 4.0)],
            rehearsal: [("fridge-1", 9.5)],
        }
        infos = []
        for name, readings in sent.items():
            for sensor, temp in readings:
                payload = {"ts": (now - timedelta(seconds=5)).isoformat(), "temp_c": temp}
                topic = topics.reading(name, "coldchain", sensor)
                infos.append(pub.publish(topic, json.dumps(payload), qos=1))
        for info in infos:
            info.wait_for_publish(10)

        def all_stored() -> bool:
            return all(services[n].counters.stored == len(r) for n, r in sent.items())

        assert wait_until(all_stored), {n: s.counters for n, s in services.items()}
        pub.disconnect()
    finally:
        for s in services.values():
            s.stop()
        for store in stores:
            store.close()

    def latest(name: str) -> dict[str, float]:
        done = opsroom(
            "query", "latest", "--kind", "coldchain", "--event", name,
            "--store", f"sqlite:///{db}", "--json",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return {r["sensor_id"]: r["temp_c"] for r in json.loads(done.stdout)}

    assert latest(live) == {"fridge-1": 3.5, "fridge-2": 4.0}
    assert latest(rehearsal) == {"fridge-1": 9.5}
    assert latest(f"{event}-other") == {}
