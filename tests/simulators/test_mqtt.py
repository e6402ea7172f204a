"""A short drill through a real Mosquitto: every message arrives, marked drill, wills work."""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingest import IngestService
from opsroom import topics
from opsroom.app.cli import main
from opsroom.broker import Mosquitto
from opsroom.families import FAMILIES
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from opsroom.venue import Venue
from simulators.engine import Simulation
from simulators.mqtt_sink import MqttSink
from simulators.runner import Runner, anchor_for
from tests.simulators.conftest import VENUE, small_drill

pytestmark = pytest.mark.integration

DRILL = """
incidents:
  - {type: sensor_silent, at: 2m, target: smokestack-fridge, duration: 3m, mode: disconnect}
  - {type: sensor_silent, at: 2m, target: gen-family, duration: 3m, mode: offline}
  - {type: generator_trip, at: 4m, target: gen-campsite, duration: 2m}
  - {type: malformed_payloads, at: 1m, target: north-gate, duration: 2m}
"""


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_drill_over_mosquitto(
    broker: Mosquitto,
    event: str,
    venue: Venue,
    collect: Callable[..., Any],
    protocol: str,
) -> None:
    drill = small_drill(venue, DRILL, duration="10m")
    settings = Settings(event=event, mqtt_url=broker.url, mqtt_protocol=protocol)
    collector = collect(f"opsroom/{event}/#")
    start = time.time()
    sim = Simulation(venue, drill, event, anchor_for(start, 600, 300), random.Random(5))
    expected = list(Simulation(venue, drill, event, sim.anchor, random.Random(5)).messages())
    sink = MqttSink(
        settings, protocol, f"sim-{event}", own_links=["smokestack-fridge", "gen-main-stage"]
    )
    try:
        state = Runner(sim, sink, 300, start, sleep=sink.pump).run()
    finally:
        sink.close()
    assert state.completed
    # every reading, malformed payload and notice, plus the statuses and the runner's status
    n_expected = len(expected) + 2
    got = collector.wait_for(n_expected, timeout=30)
    assert len(got) >= n_expected
    by_kind = Counter(m.topic.split("/")[2] for m in got)
    assert by_kind["drill"] == 8
    readings = [m for m in got if m.topic.split("/")[2] in FAMILIES]
    assert len(readings) == sum(1 for m in expected if m.kind in ("reading", "malformed"))
    for m in readings:
        try:
            payload = json.loads(m.payload)
        except ValueError:
            continue  # a malformed one
        if isinstance(payload, dict) and "ts" in payload:
            assert payload["drill"] is True

    # the disconnecting device's offline came from the broker (its will), then it came back
    def states(sensor_id: str) -> list[dict[str, Any]]:
        topic = topics.status(event, sensor_id)
        return [json.loads(m.payload or b"{}") for m in got if m.topic == topic]

    fridge = states("smokestack-fridge")
    assert [s.get("state") for s in fridge] == ["online", "offline", "online", None]
    assert all(s["drill"] is True for s in fridge[:3])
    # the will has no timestamp (it was fixed at connect time); MQTT 3.1.1 publishes it itself
    assert ("ts" in fridge[1]) is (protocol == "3.1.1")
    family = states("gen-family")
    assert [s.get("state") for s in family] == ["online", "offline", "online", None]
    sys_status = [json.loads(m.payload)["state"] for m in got if m.topic.endswith("_sys/simulate")]
    assert sys_status == ["running", "finished"]
    # readings arrive in the order the simulation made them, across the device's own link too
    sent = [(m.topic, m.payload) for m in expected if m.kind in ("reading", "malformed")]
    assert [(m.topic, m.payload) for m in readings] == sent


def test_simulate_command(
    broker: Mosquitto, event: str, tmp_path: Path, collect: Callable[..., Any]
) -> None:
    drill = tmp_path / "drill.yaml"
    drill.write_text(
        f"name: cli\nvenue: {VENUE}\nduration: 5m\nspeed: 0\nseed: 3\n"
        "incidents:\n  - {type: overload, at: 1m, target: gen-family, duration: 2m}\n"
        "  - {type: malformed_payloads, at: 1m, target: north-gate, duration: 1m}\n"
    )
    log = tmp_path / "log.jsonl"
    collector = collect(f"opsroom/{event}/power/+")
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    # ingest runs beside the command: the drill log says whether it dead-lettered the garbage
    ingest = IngestService(
        Settings(event=event, mqtt_url=broker.url, spool_dir=tmp_path / "spool"),
        SqliteStore(tmp_path / "store.db"),
    )
    ingest.start()
    assert ingest.wait_connected(10)
    try:
        code = main(
            [
                "simulate",
                str(drill),
                "--mqtt-url",
                broker.url,
                "--event",
                event,
                "--log",
                str(log),
                "--progress-every",
                "0.1",
            ]
        )
    finally:
        ingest.stop()
        for s, handler in saved.items():
            signal.signal(s, handler)
    assert code == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["record"] for r in records] == [
        "drill",
        "incident",
        "incident",
        "deadletters",
        "end",
    ]
    assert records[0]["seed"] == 3
    assert {r["type"]: r["expected"]["rules"] for r in records[1:3]} == {
        "overload": ["generator-load"],
        "malformed_payloads": [],
    }
    dead = records[3]
    assert dead["sent"] == dead["dead_lettered"] == records[4]["malformed"] > 0
    assert len(collector.wait_for(6 * 30)) == 6 * 30  # 6 generators, every 10 s for 5 min
