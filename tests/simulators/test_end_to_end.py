"""Every incident type raises its intended alert: drill -> Mosquitto -> ingest + rules -> report.

A compact drill (2 h 40 min of simulated time, played as fast as the broker takes it) injects
one incident of each of the 15 types; ingest stores the readings and dead-letters the malformed
payloads, the rules service raises the alerts, a stand-in duty officer acknowledges each alert,
and the after-action matching must find every incident detected by its expected rule, and
every malformed payload dead-lettered.
"""

from __future__ import annotations

import io
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingest import IngestService
from opsroom import topics
from opsroom.broker import Mosquitto
from opsroom.rulesfile.model import load_rules
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from opsroom.venue import Venue
from rules.engine import Engine
from rules.service import RulesService
from simulators.deadletters import watch_for
from simulators.drill import INCIDENT_TYPES
from simulators.engine import Simulation
from simulators.incidents import rule_ids
from simulators.matching import match
from simulators.mqtt_sink import MqttSink
from simulators.report import read_log, write_report
from simulators.runner import Runner, anchor_for
from tests.conftest import wait_until
from tests.simulators.conftest import ROOT, small_drill

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RULES = ROOT / "examples" / "rules.yaml"
DRILL = """
start: "12:00"
crowd: {doors: 0s, attendance: 0.5, arrival: 30m}
incidents:
  - {type: freezer_failure, at: 5m, target: scoops-freezer-2, duration: 55m, ambient_c: 28}
  - {type: fridge_door_open, at: 10m, target: dough-bros-fridge, duration: 30m}
  - {type: hot_holding_cooling, at: 15m, target: curry-up-hot, duration: 40m}
  - {type: generator_trip, at: 20m, target: gen-campsite, duration: 5m}
  - {type: voltage_sag, at: 30m, target: gen-food-court, duration: 3m}
  - {type: overload, at: 40m, target: gen-second-stage, duration: 5m}
  - {type: gate_surge, at: 50m, target: north-gate, duration: 6m}
  - {type: zone_over_capacity, at: 60m, target: family-area, duration: 40m}
  - {type: shuttle_breakdown, at: 70m, target: town-bus-2, duration: 15m}
  - {type: shuttle_off_route, at: 90m, target: town-bus-4, duration: 8m}
  - {type: overspeed, at: 100m, target: town-bus-1, duration: 5m}
  - {type: sensor_silent, at: 110m, target: little-acorns-fridge, duration: 15m}
  - {type: sensor_silent, at: 120m, target: fish-and-ships-freezer, duration: 15m,
     mode: disconnect}
  - {type: malformed_payloads, at: 130m, target: gen-family, duration: 5m}
  - {type: heat, at: 5m, target: wx-arena, duration: 40m, temp_c: 36, humidity_pct: 55}
  - {type: storm_front, at: 60m, target: wx-campsite, duration: 40m, peak_gust_ms: 24}
"""


def settings_for(broker: Mosquitto, event: str, tmp: Path) -> Settings:
    return Settings.load(
        {
            "event": event,
            "mqtt_url": broker.url,
            "stats_interval_s": 0.5,
            "data_dir": tmp / "data",
            "spool_dir": tmp / "spool",
            "session_expiry_s": 120,
        },
        env={},
    )


class DutyOfficer:
    """Acknowledges every alert that fires, as the dashboard's button would."""

    def __init__(self, port: int, event: str) -> None:
        self.event = event
        self.acked: set[str] = set()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *a: c.subscribe(topics.alerts_filter(event), qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        if not msg.payload:
            return
        alert = json.loads(msg.payload)
        if alert.get("state") == "firing" and alert["alert_id"] not in self.acked:
            self.acked.add(alert["alert_id"])
            ack = json.dumps({"actor": "duty-officer"})
            c.publish(topics.ack(self.event, alert["alert_id"]), ack, qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "e2e.db")
    yield s
    s.close()


def test_every_incident_raises_its_alert(
    broker: Mosquitto, event: str, venue: Venue, store: SqliteStore, tmp_path: Path
) -> None:
    drill = small_drill(venue, DRILL, duration="2h40m")
    assert {i.type for i in drill.incidents} == set(INCIDENT_TYPES)
    settings = settings_for(broker, event, tmp_path)
    ingest = IngestService(settings, store, venue)
    ruleset = load_rules(RULES, venue)
    rules = RulesService(settings, store, Engine(ruleset, venue, None), venue)
    ingest.start()
    rules.start()
    officer = DutyOfficer(broker.port, event)
    try:
        assert ingest.wait_connected(10) and rules.wait_connected(10)  # SUBACKs came
        start = time.time()
        sim = Simulation(
            venue,
            drill,
            event,
            anchor_for(start, drill.duration.total_seconds(), 0),
            random.Random(11),
            rule_ids(RULES),
        )
        expected_readings = sum(1 for m in sim.messages() if m.kind == "reading")
        sim = Simulation(venue, drill, event, sim.anchor, random.Random(11), rule_ids(RULES))
        log = io.StringIO()
        watch = watch_for(settings, "5", drill)
        assert watch is not None
        sink = MqttSink(settings, "5", f"sim-{event}", own_links=["fish-and-ships-freezer"])
        try:
            state = Runner(sim, sink, 0, start, sleep=sink.pump, log=log, watch=watch).run()
        finally:
            sink.close()
            watch.close()
        assert state.completed
        assert wait_until(lambda: store.count() >= expected_readings, timeout=120)
        assert store.count() == expected_readings
        assert ingest.counters.rejected >= 30  # the malformed payloads, dead-lettered
        # rules finished when the alert history stops growing
        seen: list[int] = []

        def settled() -> bool:
            seen.append(len(store.alert_events()))
            return len(seen) > 6 and len(set(seen[-6:])) == 1

        wait_until(settled, timeout=60, step=0.5)
    finally:
        officer.close()
        rules.stop()
        ingest.stop()

    path = tmp_path / "incidents.jsonl"
    path.write_text(log.getvalue())
    drill_log = read_log(path)
    events = store.alert_events()
    assert events and all(
        e.drill for e in events if e.subject in {d.sensor_id for d in sim.devices}
    )
    result = match(
        drill_log.incidents,
        events,
        window=(drill_log.start, drill_log.finish),
        deadletters=drill_log.deadletters,
    )
    md, page = write_report(
        drill_log, result, tmp_path / "report", grace=match.__kwdefaults__["grace"]
    )
    report = md.read_text()
    problems: list[Any] = []
    for o in result.outcomes:
        if o.detected is None:
            continue
        if not o.detected or not o.expected_rule_fired:
            problems.append((o.incident.type, o.incident.target, [a.rule for a in o.alerts]))
        elif o.time_to_ack is None:
            problems.append((o.incident.type, "not acknowledged"))
    assert not problems, report
    assert result.detected == result.expected == 15
    assert result.handled == result.malformed == 1, report  # every payload dead-lettered
    assert not result.unmatched, report  # no false alarms from the simulated devices
    assert page.stat().st_size > 1_000_000
    # the storm's lightning alert clears in event time, 30 minutes after its last close strike
    lightning = [e for e in events if e.rule == "lightning" and e.subject == "wx-campsite"]
    assert [e.state for e in lightning][-1] == "resolved", lightning
    fired, cleared = lightning[0].ts, lightning[-1].ts
    assert 30 * 60 <= (cleared - fired).total_seconds() <= 60 * 60, lightning
