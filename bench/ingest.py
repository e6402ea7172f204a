"""Ingest throughput: Opsroom's MQTT-to-SQLite rate against a bare paho subscriber's drain rate.

Both consumers get the same N queued QoS-1 messages from a local Mosquitto (persistent
sessions, filled while they are offline) and drain them alone, one after the other:

    python bench/ingest.py [--n 200000] [--sensors 2000]

Prints JSON: the bare subscriber's rate (no processing, auto-ack), Opsroom's ingest-to-store
rate (validation, batching, SQLite writes, ack after store), and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest import IngestService
from opsroom import topics
from opsroom.broker import Mosquitto
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore

EVENT = "bench"


def payloads(n: int, sensors: int) -> list[tuple[str, bytes]]:
    """n readings over the four families and `sensors` sensors, each (kind, sensor, ts) unique."""
    kinds = ["crowd", "power", "coldchain", "shuttle"]
    start = datetime.now(UTC) - timedelta(hours=1)
    out = []
    for i in range(n):
        kind = kinds[i % 4]
        sensor = f"{kind}-{(i // 4) % sensors:05d}"
        ts = (start + timedelta(milliseconds=i)).isoformat()
        if kind == "crowd":
            body = {"ts": ts, "occupancy": i % 5000, "in": i % 13, "out": i % 11}
        elif kind == "power":
            body = {
                "ts": ts,
                "voltage_v": 230.1,
                "current_a": 151.2,
                "power_kw": 104.5,
                "frequency_hz": 50.01,
                "fuel_pct": 71.0,
            }
        elif kind == "coldchain":
            body = {"ts": ts, "temp_c": 3.2 + (i % 7) / 10, "door_open": False, "battery_pct": 88}
        else:
            body = {
                "ts": ts,
                "lat": 52.07 + (i % 100) / 1e4,
                "lon": -1.02,
                "speed_kmh": 27.0,
                "heading_deg": 90.0,
                "passengers": 12,
            }
        out.append((topics.reading(EVENT, kind, sensor), json.dumps(body).encode()))
    return out


def v5_props(expiry: int = 3600) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry
    props.ReceiveMaximum = 65535
    return props


def bare_client(port: int, on_message=None) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)
    if on_message is not None:
        client.on_message = on_message
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", port, clean_start=False, properties=v5_props())
    client.loop_start()
    return client


def publish_all(port: int, msgs: list[tuple[str, bytes]], window: int = 20_000) -> float:
    """Publish at QoS 1 and wait for every PUBACK; at most `window` unconfirmed at once
    (paho's packet ids wrap at 65,535, so more outstanding would collide)."""
    slots = threading.Semaphore(window)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(1000)
    pub.max_queued_messages_set(0)
    pub.on_publish = lambda *a: slots.release()
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    t0 = time.perf_counter()
    for topic, payload in msgs:
        slots.acquire()
        pub.publish(topic, payload, qos=1)
    for _ in range(window):
        slots.acquire()
    elapsed = time.perf_counter() - t0
    pub.loop_stop()
    pub.disconnect()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000, help="messages (default 200,000)")
    ap.add_argument("--sensors", type=int, default=2000, help="sensors per family")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="opsroom-bench-"))
    msgs = payloads(args.n, args.sensors)
    with Mosquitto(tmp / "mosquitto") as broker:
        settings = Settings.load(
            {
                "event": EVENT,
                "mqtt_url": broker.url,
                "stats_interval_s": 3600,
                "spool_dir": tmp / "spool",
            },
            env={},
        )
        # 1. create both persistent sessions, then leave them offline
        bare = bare_client(broker.port)
        bare.subscribe(topics.readings_filter(EVENT), qos=1)
        time.sleep(0.5)
        bare.disconnect()
        bare.loop_stop()
        store = SqliteStore(tmp / "bench.db")
        service = IngestService(settings, store)
        service.start()
        assert service.wait_connected(10)
        time.sleep(0.5)
        service.stop()
        # 2. queue N messages for both
        print(f"publishing {args.n} messages...", file=sys.stderr)
        publish_s = publish_all(broker.port, msgs)
        # 3. bare paho drain: QoS 1, auto-ack, no processing
        got = 0
        all_in = threading.Event()

        def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
            nonlocal got
            got += 1
            if got >= args.n:
                all_in.set()

        print("bare paho drain...", file=sys.stderr)
        t0 = time.perf_counter()
        bare = bare_client(broker.port, on_message)
        all_in.wait(600)
        bare_s = time.perf_counter() - t0
        bare.disconnect()
        bare.loop_stop()
        # 4. opsroom ingest drain into SQLite
        print("opsroom ingest drain...", file=sys.stderr)
        service = IngestService(settings, store)
        t0 = time.perf_counter()
        service.start()
        while service.counters.stored < args.n and time.perf_counter() - t0 < 900:
            time.sleep(0.01)
        ingest_s = time.perf_counter() - t0
        service.stop()
        stored = store.count()
        store.close()
    result = {
        "messages": args.n,
        "sensors": args.sensors * 4,
        "publish_rate_msg_s": round(args.n / publish_s),
        "bare_paho_qos1_drain_msg_s": round(got / bare_s),
        "opsroom_ingest_to_sqlite_msg_s": round(service.counters.stored / ingest_s),
        "ratio": round((service.counters.stored / ingest_s) / (got / bare_s), 3),
        "stored_rows": stored,
        "rejected": service.counters.rejected,
        "batches": service.counters.batches,
        "mean_batch": round(service.counters.stored / max(service.counters.batches, 1)),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
