"""Floods against a real Mosquitto and SQLite: made-up sensor ids, and oversized payloads."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from ingest import IngestService
from opsroom import topics
from opsroom.broker import MESSAGE_SIZE_LIMIT, Mosquitto
from opsroom.rulesfile.model import load_rules
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from opsroom.unknown import MAX_TRACKED
from opsroom.venue import Venue, load_venue
from rules.engine import Engine
from rules.service import RulesService
from tests.conftest import publisher, wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
STRANGERS = 3 * MAX_TRACKED  # more distinct unknown ids than any structure may hold


@pytest.fixture(scope="module")
def venue() -> Venue:
    return load_venue(ROOT / "examples" / "venue.yaml")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "floods.db")
    yield s
    s.close()


def settings_for(port: int, event: str, tmp_path: Path, **kw: Any) -> Settings:
    return Settings.load(
        {
            "event": event,
            "mqtt_url": f"mqtt://127.0.0.1:{port}",
            "stats_interval_s": 0.2,
            "spool_dir": tmp_path / "spool",
            "data_dir": tmp_path / "data",
            "session_expiry_s": 120,
            **kw,
        },
        env={},
    )


def start_ingest(settings: Settings, store: SqliteStore, venue: Venue) -> IngestService:
    service = IngestService(settings, store, venue)
    service.start()
    assert service.wait_connected(10)
    return service


def crowd(event: str, sensor: str, extra: bytes = b"") -> tuple[str, bytes]:
    ts = datetime.now(UTC).isoformat().encode()
    return topics.reading(event, "crowd", sensor), b'{"ts": "%s", "occupancy": 7%s}' % (ts, extra)


def publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    pub = publisher(port)
    try:
        infos = [pub.publish(t, p, qos=1) for t, p in messages]
        for info in infos:
            info.wait_for_publish(20)
    finally:
        pub.loop_stop()
        pub.disconnect()


def unknown_lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == logger and "not in the venue file" in r.getMessage()
    ]


def strangers(event: str, n: int = STRANGERS) -> list[tuple[str, bytes]]:
    return [crowd(event, f"stranger-{i:05d}") for i in range(n)]


def test_ingest_a_flood_of_unknown_ids_costs_one_line_a_minute_and_bounded_memory(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    venue: Venue,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = start_ingest(settings_for(broker.port, event, tmp_path), store, venue)
    try:
        publish(broker.port, strangers(event))
        assert wait_until(lambda: service.counters.stored == STRANGERS), service.counters
        # within the minute: the first unknown reading is reported, the rest waits
        assert len(unknown_lines(caplog, "opsroom.ingest")) == 1
        assert service.unknown.tracked <= MAX_TRACKED
        assert len(service._topics) < 10  # made-up ids are not cached
    finally:
        service.stop()
    lines = unknown_lines(caplog, "opsroom.ingest")
    assert len(lines) == 2, lines  # and at stop, one summary of the rest
    assert lines[1].startswith(f"{STRANGERS - 1} reading(s) from at least {MAX_TRACKED} sensor")
    assert "(stored)" in lines[1]
    assert service.counters.unknown_sensors == STRANGERS
    assert store.count("crowd") == STRANGERS  # stored, as by default before


def test_ingest_unknown_summary_lines_follow_the_interval(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    venue: Venue,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With a short interval, every reading is told, in lines at least an interval apart."""
    settings = settings_for(broker.port, event, tmp_path, unknown_log_interval_s=0.3)
    service = start_ingest(settings, store, venue)
    try:
        publish(broker.port, strangers(event, 50))
        assert wait_until(lambda: service.counters.stored == 50)
        # the writer writes what the interval gathered, without waiting for another reading
        assert wait_until(lambda: told(caplog) == 50)
    finally:
        service.stop()
    records = [r for r in caplog.records if "not in the venue file" in r.getMessage()]
    assert len(records) >= 2 and told(caplog) == 50
    assert records[0].getMessage().startswith("1 reading(s) from 1 sensor(s)")
    assert "crowd/stranger-00000" in records[0].getMessage()
    gaps = [b.created - a.created for a, b in pairwise(records)]
    assert min(gaps) >= 0.29, gaps


def told(caplog: pytest.LogCaptureFixture) -> int:
    """Readings the summary lines have told of so far."""
    return sum(int(line.split()[0]) for line in unknown_lines(caplog, "opsroom.ingest"))


def test_ingest_can_dead_letter_readings_of_unknown_sensors(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    venue: Venue,
    tmp_path: Path,
    collect: Any,
) -> None:
    dead = collect(topics.deadletter_filter(event))
    settings = settings_for(broker.port, event, tmp_path, unknown_sensors="deadletter")
    service = start_ingest(settings, store, venue)
    zone = venue.zones[0].id
    try:
        publish(broker.port, [crowd(event, "stranger"), crowd(event, zone)])
        assert wait_until(lambda: store.count() == 1)
        assert wait_until(lambda: service.counters.deadletters_published == 1)
    finally:
        service.stop()
    assert [r.sensor_id for r in store.latest("crowd")] == [zone]
    (letter,) = dead.messages
    assert letter.topic == topics.deadletter(event, "crowd", "stranger")
    body = json.loads(letter.payload)
    assert "crowd sensor 'stranger' is not in the venue file" in body["reason"]
    assert service.counters.unknown_sensors == 1 and service.counters.rejected == 1


def test_settings_name_a_bad_unknown_sensors_value() -> None:
    from opsroom.configfile import ConfigError

    with pytest.raises(ConfigError, match="OPSROOM_UNKNOWN_SENSORS"):
        Settings.load(env={"OPSROOM_UNKNOWN_SENSORS": "drop"})


def test_an_oversized_payload_gives_a_capped_dead_letter_with_length_and_hash(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    venue: Venue,
    tmp_path: Path,
    collect: Any,
) -> None:
    dead = collect(topics.deadletter_filter(event))
    service = start_ingest(settings_for(broker.port, event, tmp_path), store, venue)
    zone = venue.zones[0].id
    topic, big = crowd(event, zone, b', "pad": "' + b"x" * 200_000 + b'"')
    assert service.limits.max_bytes < len(big) < MESSAGE_SIZE_LIMIT
    try:
        publish(broker.port, [(topic, big), crowd(event, zone)])
        assert wait_until(lambda: store.count() == 1)
        assert wait_until(lambda: service.counters.deadletters_published == 1)
    finally:
        service.stop()
    (letter,) = dead.wait_for(1)
    assert len(letter.payload) < 2 * service.limits.max_bytes  # not 4/3 of 200 KB
    body = json.loads(letter.payload)
    assert "over the 16384 limit" in body["reason"]
    assert base64.b64decode(body["payload_b64"]) == big[: service.limits.max_bytes]
    assert body["payload_bytes"] == len(big)
    assert body["payload_sha256"] == hashlib.sha256(big).hexdigest()
    assert body["payload_truncated"] is True


def test_the_broker_drops_a_payload_over_its_limit_and_ingest_carries_on(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    venue: Venue,
    tmp_path: Path,
    collect: Any,
) -> None:
    dead = collect(topics.deadletter_filter(event))
    service = start_ingest(settings_for(broker.port, event, tmp_path), store, venue)
    zone = venue.zones[0].id
    topic, huge = crowd(event, zone, b', "pad": "' + b"x" * MESSAGE_SIZE_LIMIT + b'"')
    try:
        publish(broker.port, [(topic, huge), crowd(event, zone)])
        assert wait_until(lambda: store.count() == 1)
    finally:
        service.stop()
    assert service.counters.received == 1  # the huge one never reached ingest
    assert service.counters.rejected == 0 and dead.messages == []


def start_rules(settings: Settings, store: SqliteStore, venue: Venue) -> RulesService:
    ruleset = load_rules(ROOT / "examples" / "rules.yaml", venue)
    service = RulesService(settings, store, lambda state: Engine(ruleset, venue, state), venue)
    service.start()
    assert service.wait_connected(10)
    return service


def test_rules_a_flood_of_unknown_ids_costs_one_line_a_minute_and_bounded_memory(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    venue: Venue,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = start_rules(settings_for(broker.port, event, tmp_path), store, venue)
    try:
        publish(broker.port, strangers(event))
        assert wait_until(lambda: service.counters.readings == STRANGERS), service.counters
        assert len(unknown_lines(caplog, "opsroom.rules")) == 1
        assert service.unknown.tracked <= MAX_TRACKED
        assert len(service._topics) < 10
    finally:
        service.stop()
    lines = unknown_lines(caplog, "opsroom.rules")
    assert len(lines) == 2, lines
    assert lines[1].startswith(f"{STRANGERS - 1} reading(s) from at least {MAX_TRACKED} sensor")
    assert service.counters.unknown_sensors == STRANGERS
    assert service.counters.engine_errors == 0


def test_rules_refuse_oversized_status_and_ack_payloads_before_parsing(
    broker: Mosquitto,
    event: str,
    store: SqliteStore,
    venue: Venue,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = start_rules(settings_for(broker.port, event, tmp_path), store, venue)
    zone = venue.zones[0].id
    pad = b"x" * 100_000
    try:
        publish(
            broker.port,
            [
                (topics.status(event, zone), b'{"state": "offline", "pad": "%s"}' % pad),
                (topics.ack(event, "a1"), b'{"actor": "ops", "note": "%s"}' % pad),
                crowd(event, zone),
            ],
        )
        assert wait_until(lambda: service.counters.readings == 1)
    finally:
        service.stop()
    c = service.counters
    assert (c.statuses, c.bad_statuses, c.acks, c.bad_acks) == (0, 1, 0, 1)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("bytes, over the 16384 limit" in m for m in warned) == 2
