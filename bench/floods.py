"""Floods: what distinct unknown sensor ids and one oversized payload cost ingest and rules.

Runs `opsroom ingest` and `opsroom rules` as real processes (example venue and rules, SQLite)
against a local Mosquitto on 127.0.0.1:

    python bench/floods.py [--ids 200000] [--oversized-mb 50]

Phase 1 publishes one reading from each of `--ids` distinct sensors that are not in the venue
file and reports each service's RSS and log bytes before and after. Phase 2 publishes one
`--oversized-mb` payload to fresh processes, once through a broker with the Mosquitto config
this checkout ships and once through a broker without a size limit (what the services
themselves do with it), and reports the peak RSS (VmHWM) and the dead letter's size.
Prints JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from opsroom import topics  # noqa: E402
from opsroom.broker import Mosquitto  # noqa: E402

EVENT = "bench"
KNOWN = ("crowd", "main-arena")  # a sensor of examples/venue.yaml: the readiness sentinel


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


class Watch:
    """Latest counters of both services (_sys/+) and the dead letters that came by."""

    def __init__(self, port: int) -> None:
        self.counters: dict[str, dict[str, Any]] = {}
        self.deadletters: list[int] = []  # sizes in bytes
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.on_connect = lambda c, *a: c.subscribe(
            [(topics.system(EVENT, "+"), 0), (topics.deadletter_filter(EVENT), 0)]
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._ready.wait(10), "watch could not subscribe"

    def _on_message(self, c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        if "/_sys/" in msg.topic:
            self.counters[msg.topic.rsplit("/", 1)[1]] = json.loads(msg.payload)
        else:
            self.deadletters.append(len(msg.payload))

    def get(self, service: str, name: str) -> int:
        return int(self.counters.get(service, {}).get(name, 0))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Services:
    """`opsroom ingest` and `opsroom rules` of this checkout, logging to files."""

    def __init__(self, tmp: Path, port: int) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "OPSROOM_EVENT": EVENT,
            "OPSROOM_MQTT_URL": f"mqtt://127.0.0.1:{port}",
            "OPSROOM_STORE": f"sqlite:///{tmp}/bench.db",
            "OPSROOM_VENUE": str(ROOT / "examples" / "venue.yaml"),
            "OPSROOM_RULES": str(ROOT / "examples" / "rules.yaml"),
            "OPSROOM_DATA_DIR": str(tmp / "data"),
            "OPSROOM_SPOOL_DIR": str(tmp / "spool"),
            "OPSROOM_STATS_INTERVAL_S": "1",
        }
        self.logs = {name: tmp / f"{name}.log" for name in ("ingest", "rules")}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        for name, log in self.logs.items():
            with log.open("wb") as out:
                self.procs[name] = subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        "import sys; from opsroom.app.cli import main; sys.exit(main())",
                        name,
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )

    def figures(self) -> dict[str, dict[str, float]]:
        return {
            name: {**proc_status(p.pid), "log_bytes": self.logs[name].stat().st_size}
            for name, p in self.procs.items()
        }

    def stop(self) -> dict[str, int]:
        """SIGTERM both; their log sizes once they have exited."""
        for p in self.procs.values():
            p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            p.wait(60)
        return {name: log.stat().st_size for name, log in self.logs.items()}


def publisher(port: int) -> tuple[mqtt.Client, threading.Semaphore]:
    slots = threading.Semaphore(20_000)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(1000)
    pub.max_queued_messages_set(0)
    pub.on_publish = lambda *a: slots.release()
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    return pub, slots


def reading(sensor: tuple[str, str], extra: str = "") -> tuple[str, bytes]:
    ts = datetime.now(UTC).isoformat()
    return (
        topics.reading(EVENT, *sensor),
        f'{{"ts": "{ts}", "occupancy": 1{extra}}}'.encode(),
    )


def ready(watch: Watch, port: int) -> None:
    """Publish the sentinel until both services have counted it (subscribed and running)."""
    pub, _ = publisher(port)

    def seen() -> bool:
        return watch.get("ingest", "received") >= 1 and watch.get("rules", "readings") >= 1

    deadline = time.monotonic() + 60
    while not seen():
        if time.monotonic() > deadline:
            raise TimeoutError("services did not start")
        pub.publish(*reading(KNOWN), qos=1)
        time.sleep(1)
    pub.loop_stop()
    pub.disconnect()
    time.sleep(2)  # let the counters settle


def flood(tmp: Path, ids: int) -> dict[str, Any]:
    with Mosquitto(tmp / "mosquitto") as broker:
        watch = Watch(broker.port)
        services = Services(tmp, broker.port)
        try:
            ready(watch, broker.port)
            base_in, base_rules = watch.get("ingest", "received"), watch.get("rules", "readings")
            before = services.figures()
            pub, slots = publisher(broker.port)
            t0 = time.perf_counter()
            for i in range(ids):
                slots.acquire()
                pub.publish(*reading(("crowd", f"stranger-{i:07d}")), qos=1)
            for _ in range(20_000):
                slots.acquire()
            pub.loop_stop()
            pub.disconnect()
            wait(
                lambda: (
                    watch.get("ingest", "received") >= base_in + ids
                    and watch.get("ingest", "stored") + watch.get("ingest", "rejected")
                    >= watch.get("ingest", "received")
                    and watch.get("rules", "readings") >= base_rules + ids
                ),
                1800,
                "both services to take the flood",
            )
            elapsed = time.perf_counter() - t0
            time.sleep(2)
            after = services.figures()
        finally:
            final_logs = services.stop()
            watch.close()
    return {
        "ids": ids,
        "seconds": round(elapsed, 1),
        **{
            name: {
                "rss_mb_before": before[name]["VmRSS"],
                "rss_mb_after": after[name]["VmRSS"],
                "log_bytes_before": before[name]["log_bytes"],
                "log_bytes_after": after[name]["log_bytes"],
                "log_bytes_after_stop": final_logs[name],
            }
            for name in ("ingest", "rules")
        },
    }


def oversized(tmp: Path, mb: float, broker_limit: bool) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if not broker_limit and "message_size_limit" in {f.name for f in dataclasses.fields(Mosquitto)}:
        kw["message_size_limit"] = 0
    with Mosquitto(tmp / "mosquitto", **kw) as broker:
        watch = Watch(broker.port)
        services = Services(tmp, broker.port)
        try:
            ready(watch, broker.port)
            base_in = watch.get("ingest", "received")
            base_rules = watch.get("rules", "received")
            base_rejected = watch.get("ingest", "rejected")
            before = services.figures()
            pub, _ = publisher(broker.port)
            pad = ', "pad": "' + "x" * int(mb * 1e6) + '"'
            big = pub.publish(*reading(KNOWN, pad), qos=1)
            sentinel = pub.publish(*reading(KNOWN), qos=1)
            big.wait_for_publish(120)
            sentinel.wait_for_publish(120)
            pub.loop_stop()
            pub.disconnect()
            # the sentinel came after the big one on the same connection: once both services
            # counted it, they are past the big one, whether the broker passed it on or not
            wait(
                lambda: (
                    watch.get("ingest", "received") > base_in
                    and watch.get("rules", "received") > base_rules
                ),
                300,
                "the sentinel behind the oversized payload",
            )
            # if the broker passed the big one on, ingest rejects it (counters come each second)
            with contextlib.suppress(TimeoutError):
                wait(lambda: watch.get("ingest", "rejected") > base_rejected, 5, "")
            time.sleep(2)
            after = services.figures()
            delivered = watch.get("ingest", "rejected") > base_rejected
        finally:
            services.stop()
            watch.close()
    return {
        "payload_mb": mb,
        "delivered_by_broker": delivered,
        "deadletter_bytes": max(watch.deadletters, default=0),
        **{
            name: {
                "peak_rss_mb_before": before[name]["VmHWM"],
                "peak_rss_mb_after": after[name]["VmHWM"],
            }
            for name in ("ingest", "rules")
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ids", type=int, default=200_000, help="distinct unknown sensor ids")
    ap.add_argument("--oversized-mb", type=float, default=50, help="size of the big payload")
    ap.add_argument("--skip-flood", action="store_true")
    ap.add_argument("--skip-oversized", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="opsroom-floods-"))
    result: dict[str, Any] = {"checkout": str(ROOT), "cpu_count": os.cpu_count()}
    if not args.skip_flood:
        print(f"flood of {args.ids} unknown ids...", file=sys.stderr)
        result["unknown_ids"] = flood(tmp / "flood", args.ids)
    if not args.skip_oversized:
        for limit in (True, False):
            name = "shipped_broker" if limit else "broker_without_limit"
            print(f"oversized payload, {name}...", file=sys.stderr)
            result[f"oversized_{name}"] = oversized(tmp / name, args.oversized_mb, limit)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
