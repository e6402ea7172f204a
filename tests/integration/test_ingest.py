"""Ingest against a real Mosquitto over TCP and a real SQLite file."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest import IngestService
from opsroom import topics
from opsroom.broker import Mosquitto
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from opsroom.venue import load_venue
from tests.conftest import publisher, wait_status, wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def now_iso(offset_s: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat()


def valid_messages(event: str, n_per_kind: int) -> list[tuple[str, bytes]]:
    """n readings of each family, every one with a distinct (kind, sensor, ts)."""
    base = datetime.now(UTC) - timedelta(minutes=30)
    out = []
    for i in range(n_per_kind):
        ts = (base + timedelta(seconds=i)).isoformat()
        out += [
            (
                topics.reading(event, "crowd", f"zone-{i % 7}"),
                json.dumps({"ts": ts, "occupancy": 100 + i}).encode(),
            ),
            (
                topics.reading(event, "power", f"gen-{i % 4}"),
                json.dumps(
                    {"ts": ts, "voltage_v": 230.0, "frequency_hz": 50.0, "power_kw": 80 + i % 5}
                ).encode(),
            ),
            (
                topics.reading(event, "coldchain", f"fridge-{i % 10}"),
                json.dumps({"ts": ts, "temp_c": 3.5, "door_open": False}).encode(),
            ),
            (
                topics.reading(event, "shuttle", f"bus-{i % 6}"),
                json.dumps({"ts": ts, "lat": 52.07, "lon": -1.02, "speed_kmh": 25}).encode(),
            ),
        ]
    return out


def invalid_messages(event: str) -> list[tuple[str, bytes, str]]:
    """(topic, payload, expected reason fragment)."""
    t = lambda kind, sid: topics.reading(event, kind, sid)  # noqa: E731
    return [
        (t("coldchain", "fridge-1"), b"{not json", "not valid JSON"),
        (t("coldchain", "fridge-1"), b'{"ts": %d, "temp_c": NaN}' % int(time.time()), "JSON"),
        (
            t("coldchain", "fridge-1"),
            json.dumps({"ts": now_iso(), "temp_c": "warm"}).encode(),
            "temp_c",
        ),
        (
            t("shuttle", "bus-1"),
            json.dumps({"ts": now_iso(), "lat": 91, "lon": 0, "speed_kmh": 1}).encode(),
            "lat",
        ),
        (
            t("crowd", "zone-1"),
            json.dumps({"ts": now_iso(), "occupancy": -4}).encode(),
            "occupancy",
        ),
        (
            t("power", "gen-a"),
            json.dumps({"ts": now_iso(3600), "voltage_v": 230}).encode(),
            "ahead of now",
        ),
        (t("power", "gen-a"), json.dumps({"voltage_v": 230}).encode(), "ts"),
        (t("power", "gen-a"), b"[1, 2, 3]", "JSON object"),
        (
            t("coldchain", "fridge-1"),
            b'{"ts": 1, "temp_c": 3, "pad": "' + b"x" * 20_000 + b'"}',
            "limit",
        ),
        (
            t("seismic", "probe-1"),
            json.dumps({"ts": now_iso(), "wind": 3}).encode(),
            "unknown sensor kind",
        ),
    ]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "ingest.db")
    yield s
    s.close()


def start_ingest(
    port: int, event: str, store: SqliteStore, protocol: str = "auto", **kw: object
) -> IngestService:
    settings = Settings.load(
        {
            "event": event,
            "mqtt_url": f"mqtt://127.0.0.1:{port}",
            "stats_interval_s": 0.5,
            "mqtt_protocol": protocol,
            "spool_dir": store.path.parent / "spool",
        },
        env={},
    )
    service = IngestService(settings, store, **kw)  # type: ignore[arg-type]
    service.start()
    assert service.wait_connected(10)  # the broker confirmed the subscription
    return service


def test_mixed_stream_exact_counts(
    broker: Mosquitto, event: str, store: SqliteStore, collect
) -> None:
    dead = collect(topics.deadletter_filter(event))
    sysmsgs = collect(topics.system(event, "ingest"))
    venue = load_venue(ROOT / "examples" / "venue.yaml")
    service = start_ingest(broker.port, event, store, venue=venue)
    good = valid_messages(event, 250)  # 1,000 valid readings
    expected_bad = invalid_messages(event)
    bad = list(expected_bad)
    dupes = good[:100]  # redelivered / republished readings
    pub = publisher(broker.port)
    stream = []
    for i, msg in enumerate(good):  # bad payloads interleaved with good ones
        stream.append(msg)
        if i % 97 == 0 and bad:
            stream.append(bad.pop()[:2])
    stream += [m[:2] for m in bad] + dupes
    marker = (topics.reading(event, "coldchain", "marker"), b"marker")  # dead-lettered last
    stream.append(marker)
    infos = [pub.publish(topic, payload, qos=1) for topic, payload in stream]
    for info in infos:
        info.wait_for_publish(10)
    try:
        assert wait_until(lambda: service.counters.received == len(stream)), service.counters
        assert wait_until(lambda: store.count() == len(good))
        # nothing more must arrive: the marker's dead letter is the last one ingest sends
        assert wait_until(lambda: any(b"bWFya2Vy" in m.payload for m in dead.messages))
        dead.sync()
    finally:
        service.stop()
        pub.loop_stop()
    assert store.count() == 1000
    assert {k: store.count(k) for k in ("crowd", "power", "coldchain", "shuttle")} == {
        "crowd": 250,
        "power": 250,
        "coldchain": 250,
        "shuttle": 250,
    }
    c = service.counters
    assert c.received == 1000 + len(expected_bad) + 100 + 1  # and the marker
    assert c.rejected == len(expected_bad) + 1
    assert c.stored == 1100  # duplicates are written again, and change nothing
    # every sensor of the stream is unknown to the example venue except none: all counted
    assert c.unknown_sensors == c.stored
    letters = [m for m in dead.messages if b"bWFya2Vy" not in m.payload]
    assert len(letters) == len(expected_bad)
    reasons = {}
    for m in letters:
        body = json.loads(m.payload)
        kept = base64.b64decode(body["payload_b64"])
        reasons[body["payload_sha256"]] = (m.topic, body["reason"], body["topic"], kept)
    for topic, payload, fragment in expected_bad:
        kind, sensor = topic.split("/")[2:]
        got_topic, reason, original_topic, kept = reasons[hashlib.sha256(payload).hexdigest()]
        assert kept == payload[:16_384]  # whole, but for the oversized one's start
        assert got_topic == topics.deadletter(event, kind, sensor)
        assert original_topic == topic
        assert fragment in reason, (fragment, reason)
    # counters are published retained on _sys/ingest; the last one, after the stop, says so
    assert wait_until(
        lambda: bool(sysmsgs.messages) and b'"stopped"' in sysmsgs.messages[-1].payload, 10
    ), [(m.retain, m.payload[:200]) for m in sysmsgs.messages[-3:]]
    last = json.loads(sysmsgs.messages[-1].payload)
    assert last["rejected"] == len(expected_bad) + 1 and last["stored"] == 1100


def test_known_venue_sensors_are_not_counted_unknown(
    broker: Mosquitto, event: str, store: SqliteStore
) -> None:
    venue = load_venue(ROOT / "examples" / "venue.yaml")
    service = start_ingest(broker.port, event, store, venue=venue)
    zone = venue.zones[0].id
    pub = publisher(broker.port)
    pub.publish(
        topics.reading(event, "crowd", zone), json.dumps({"ts": now_iso(), "occupancy": 5}), qos=1
    ).wait_for_publish(5)
    pub.publish(
        topics.reading(event, "crowd", "nowhere"),
        json.dumps({"ts": now_iso(), "occupancy": 5}),
        qos=1,
    ).wait_for_publish(5)
    try:
        assert wait_until(lambda: store.count() == 2)
    finally:
        service.stop()
        pub.loop_stop()
    assert service.counters.unknown_sensors == 1
    assert {r.sensor_id for r in store.latest("crowd")} == {zone, "nowhere"}


def test_bad_payloads_never_hold_up_good_ones(
    broker: Mosquitto, event: str, store: SqliteStore, collect
) -> None:
    """A flood of bad payloads in front of one good reading: the good one is stored promptly."""
    service = start_ingest(broker.port, event, store)
    pub = publisher(broker.port)
    for _ in range(2000):
        pub.publish(topics.reading(event, "coldchain", "fridge-1"), b"garbage", qos=1)
    pub.publish(
        topics.reading(event, "coldchain", "fridge-2"),
        json.dumps({"ts": now_iso(), "temp_c": 4.0}),
        qos=1,
    ).wait_for_publish(10)
    try:
        assert wait_until(lambda: store.count() == 1, timeout=10)
        assert wait_until(lambda: service.counters.rejected == 2000, timeout=10)
    finally:
        service.stop()
        pub.loop_stop()
    assert [r.sensor_id for r in store.latest("coldchain")] == ["fridge-2"]


def test_broker_restart_mid_stream_loses_nothing(
    own_broker: Mosquitto, event: str, store: SqliteStore
) -> None:
    """Stop and restart Mosquitto while readings flow: every acknowledged publish is stored."""
    service = start_ingest(own_broker.port, event, store)
    pub = publisher(own_broker.port, client_id=f"pub-{event}")
    confirmed: set[int] = set()
    pub.on_publish = lambda c, u, mid, rc, p: confirmed.add(mid)
    msgs = valid_messages(event, 1500)  # 6,000 readings
    for i, (topic, payload) in enumerate(msgs):
        pub.publish(topic, payload, qos=1)  # queued by paho while the broker is away
        if i == 2500:
            assert wait_until(lambda: service.counters.received > 0, timeout=10)  # flowing
            own_broker.stop()
            # the broker is really gone for ingest before it comes back
            assert wait_until(lambda: not service.session.connected.is_set(), timeout=10)
            own_broker.start()
    try:
        assert wait_until(lambda: len(confirmed) == len(msgs), timeout=60), len(confirmed)
        assert wait_until(lambda: store.count() == len(msgs), timeout=60), store.count()
    finally:
        service.stop()
        pub.loop_stop()
    assert store.count() == 6000
    assert service.counters.reconnects >= 1


def test_cli_ingest_stores_and_exits_zero_on_sigterm(
    broker: Mosquitto, event: str, tmp_path: Path
) -> None:
    db = tmp_path / "cli.db"
    env = {
        **os.environ,
        "OPSROOM_MQTT_URL": broker.url,
        "OPSROOM_EVENT": event,
        "OPSROOM_STORE": f"sqlite:///{db}",
        "OPSROOM_SPOOL_DIR": str(tmp_path / "spool"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsroom", "ingest"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        pub = publisher(broker.port)
        wait_status(broker.port, event, "ingest")  # retained "ready": SUBACK came
        for topic, payload in valid_messages(event, 25):
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
        pub.loop_stop()

        def stored() -> int:
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "opsroom",
                    "query",
                    "latest",
                    "--kind",
                    "coldchain",
                    "--json",
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            return len(json.loads(out.stdout))

        assert wait_until(lambda: stored() == 10, timeout=20)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "ingest stopped" in err
    rows = json.loads(
        subprocess.run(
            [sys.executable, "-m", "opsroom", "query", "latest", "--kind", "shuttle", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert {r["sensor_id"] for r in rows} == {f"bus-{i}" for i in range(6)}
    assert all({"kind", "sensor_id", "ts", "lat", "lon", "speed_kmh"} <= set(r) for r in rows)


def test_mqtt_311_with_a_small_inflight_window(
    tmp_path: Path, event: str, store: SqliteStore
) -> None:
    """Brokers without v5 (the embedded one) and Mosquitto's default window of 20 unacked
    messages: ingest flushes as the stream pauses instead of waiting for a full batch."""
    broker = Mosquitto(tmp_path / "m311", max_inflight_messages=20).start()
    try:
        service = start_ingest(broker.port, event, store, protocol="3.1.1")
        assert service.protocol == "3.1.1"
        pub = publisher(broker.port)
        msgs = valid_messages(event, 500)  # 2,000 readings
        started = time.monotonic()
        for topic, payload in msgs:
            pub.publish(topic, payload, qos=1)
        try:
            assert wait_until(lambda: store.count() == len(msgs), timeout=30), store.count()
        finally:
            service.stop()
            pub.loop_stop()
        # with 20 in flight, waiting for 1,000-reading batches would take 1 s per 20 readings
        assert time.monotonic() - started < 20
    finally:
        broker.stop()


def crowd_stream(event: str, start: int, n: int) -> list[tuple[str, bytes]]:
    """n crowd readings with distinct (sensor, ts), numbered from `start`."""
    base = datetime.now(UTC) - timedelta(minutes=20)
    return [
        (
            topics.reading(event, "crowd", f"zone-{i % 5}"),
            json.dumps(
                {"ts": (base + timedelta(seconds=i)).isoformat(), "occupancy": 100 + i}
            ).encode(),
        )
        for i in range(start, start + n)
    ]


def test_a_poison_reading_is_dead_lettered_and_ingest_carries_on_after_a_restart(
    broker: Mosquitto, event: str, store: SqliteStore, collect
) -> None:
    """`"occupancy": 2**64` amid good readings: it used to kill the writer thread (and again
    after every restart, as the broker redelivered it); now it is dead-lettered, naming the
    field, and every good reading is stored, before and after a restart."""
    dead = collect(topics.deadletter_filter(event))
    poison = json.dumps({"ts": now_iso(), "occupancy": 18446744073709551616}).encode()
    service = start_ingest(broker.port, event, store)
    pub = publisher(broker.port)
    stream = crowd_stream(event, 0, 100)
    stream += [(topics.reading(event, "crowd", "zone-poison"), poison)]
    stream += crowd_stream(event, 100, 100)
    try:
        for topic, payload in stream:
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
        assert wait_until(lambda: store.count() == 200, timeout=15), store.count()
        [letter] = dead.wait_for(1)
        assert wait_until(lambda: service.counters.deadletters_published == 1)
    finally:
        service.stop()
    body = json.loads(letter.payload)
    assert letter.topic == topics.deadletter(event, "crowd", "zone-poison")
    assert "occupancy" in body["reason"] and "1000000" in body["reason"], body["reason"]
    assert base64.b64decode(body["payload_b64"]) == poison
    assert service.counters.stored == 200 and service.counters.rejected == 1

    again = start_ingest(broker.port, event, store)  # nothing redelivered holds it up
    try:
        for topic, payload in crowd_stream(event, 200, 50):
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
        assert wait_until(lambda: store.count() == 250, timeout=15), store.count()
        assert again.writer_alive()
    finally:
        again.stop()
        pub.loop_stop()
    assert len(dead.messages) == 1 and again.counters.rejected == 0


def refuse_temperature(db: Path, value: float) -> None:
    """Make a real SQLite file refuse one value, as a store refuses data (not an outage)."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON readings "
            f"WHEN json_extract(NEW.data, '$.temp_c') = {value} "
            "BEGIN SELECT RAISE(ABORT, 'temp_c value refused by the store'); END"
        )


def test_a_batch_the_store_refuses_is_bisected_to_the_one_bad_reading(
    broker: Mosquitto, event: str, store: SqliteStore, collect
) -> None:
    """The store refuses one reading of a batch for its content: the other readings of the
    batch are stored, the one is dead-lettered with the store's reason, nothing is spooled."""
    refuse_temperature(store.path, 13.37)
    dead = collect(topics.deadletter_filter(event))
    base = datetime.now(UTC) - timedelta(minutes=10)
    stream = [
        (
            topics.reading(event, "coldchain", f"fridge-{i % 8}"),
            json.dumps(
                {
                    "ts": (base + timedelta(seconds=i)).isoformat(),
                    "temp_c": 13.37 if i == 150 else 4.0,
                }
            ).encode(),
        )
        for i in range(300)
    ]
    service = start_ingest(broker.port, event, store)
    pub = publisher(broker.port)
    try:
        for topic, payload in stream:  # not waited for: they arrive in batches of many
            pub.publish(topic, payload, qos=1)
        assert wait_until(lambda: store.count() == 299, timeout=15), store.count()
        [letter] = dead.wait_for(1)
        assert wait_until(lambda: service.counters.deadletters_published == 1)
        assert service.writer_alive()
    finally:
        service.stop()
        pub.loop_stop()
    body = json.loads(letter.payload)
    assert letter.topic == topics.deadletter(event, "coldchain", "fridge-6")
    assert "the store refused this reading" in body["reason"]
    assert "temp_c value refused by the store" in body["reason"]
    assert json.loads(base64.b64decode(body["payload_b64"]))["temp_c"] == 13.37
    c = service.counters
    assert (c.store_refused, c.spooled, c.store_errors) == (1, 0, 0)


def test_a_cleared_retained_reading_is_counted_not_dead_lettered(
    broker: Mosquitto, event: str, store: SqliteStore, collect
) -> None:
    """A device clears its retained reading with an empty retained message (how MQTT deletes
    a retained message): counted as cleared and acknowledged, not dead-lettered. Epoch
    seconds written as a string are taken as the number; as milliseconds they are refused."""
    dead = collect(topics.deadletter_filter(event))
    service = start_ingest(broker.port, event, store)
    fridge = topics.reading(event, "coldchain", "fridge-1")
    epoch = int(time.time()) - 5
    as_text = topics.reading(event, "coldchain", "fridge-2")
    as_millis = topics.reading(event, "coldchain", "fridge-3")
    pub = publisher(broker.port)
    try:
        for topic, payload, retain in [
            (fridge, json.dumps({"ts": now_iso(-10), "temp_c": 4.0}).encode(), True),
            (fridge, b"", True),  # the clear
            (as_text, json.dumps({"ts": str(epoch), "temp_c": 4.5}).encode(), False),
            (as_millis, json.dumps({"ts": str(epoch * 1000), "temp_c": 4.5}).encode(), False),
        ]:
            pub.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
        assert wait_until(lambda: service.counters.received == 4), service.counters
        assert wait_until(lambda: store.count() == 2), store.count()
        assert wait_until(lambda: len(dead.messages) >= 1)
        letters = dead.sync()
    finally:
        service.stop()
        pub.loop_stop()
    assert service.counters.cleared == 1
    assert service.counters.rejected == 1
    assert [m.topic for m in letters] == [topics.deadletter(event, "coldchain", "fridge-3")]
    reason = json.loads(letters[0].payload)["reason"]
    assert "ts" in reason and "seconds (this looks like milliseconds)" in reason, reason
    stored = {r.sensor_id: r.ts for r in store.latest("coldchain")}
    assert stored["fridge-2"] == datetime.fromtimestamp(epoch, UTC)
    assert set(stored) == {"fridge-1", "fridge-2"}
