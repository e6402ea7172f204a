"""Rules latency: publish-to-alert through a real Mosquitto, every reading a transition.

The rules service runs as `opsroom rules` in its own process (as deployed), on a bench venue of
`--zones` zones and one rule: occupancy above 95 % of capacity is critical at once (hold 0),
cleared at 92 %. Each zone's readings alternate 99 % and 50 %, so every reading fires or
resolves an alert. A publisher sends `--rate` readings per second for `--seconds`; a
subscriber on alerts/+ matches each alert message to its reading (same zone, same ts) and
measures the wall time from just before the publish to the alert's arrival:

    python bench/rules.py [--rate 2000] [--seconds 20] [--zones 50]

Prints JSON: achieved publish rate, alerts matched, latency p50/p90/p99/max in ms; and, if
bench/rules_engine.py is there, the in-process engine throughput it measures (run as its own
process, so the two figures do not disturb each other).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opsroom import topics
from opsroom.broker import Mosquitto

ROOT = Path(__file__).resolve().parents[1]

EVENT = "bench-rules"
CAPACITY = 1000
RULES = """\
rules:
  - id: bench-occupancy
    kind: threshold
    applies_to: zones
    value: occupancy_pct
    hold: 0s
    levels:
      - {severity: critical, above: 95, clear: 92}
"""


def venue_yaml(zones: int) -> str:
    """A venue of `zones` zones and nothing else."""
    lines = ["event: {name: Rules bench}", "zones:"]
    for i in range(zones):
        lines.append(f"  - {{id: zone-{i:03d}, area_m2: 2000, capacity: {CAPACITY}}}")
    return "\n".join(lines) + "\n"


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of a sorted list."""
    if not values:
        return float("nan")
    k = max(0, min(len(values) - 1, round(p / 100 * len(values)) - 1))
    return values[k]


def client(port: int, name: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def start_service(tmp: Path, broker: Mosquitto) -> tuple[subprocess.Popen[bytes], Path]:
    """`opsroom rules` on the bench files; returns once its counters show it connected."""
    (tmp / "rules.yaml").write_text(RULES)
    env = {
        **os.environ,
        "OPSROOM_MQTT_URL": broker.url,
        "OPSROOM_EVENT": EVENT,
        "OPSROOM_STORE": f"sqlite:///{tmp / 'bench.db'}",
        "OPSROOM_RULES": str(tmp / "rules.yaml"),
        "OPSROOM_VENUE": str(tmp / "venue.yaml"),
        "OPSROOM_DATA_DIR": str(tmp / "data"),
        "OPSROOM_STATS_INTERVAL_S": "1",
    }
    log = tmp / "rules.log"
    ready = threading.Event()
    watcher = client(broker.port, "bench-watch")
    watcher.on_message = lambda c, u, m: ready.set()
    watcher.subscribe(topics.system(EVENT, "rules"), qos=1)
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "opsroom", "rules"], env=env, stderr=err, cwd=ROOT
        )
    if not ready.wait(30):
        proc.kill()
        raise RuntimeError(f"rules service did not start: {log.read_text()}")
    watcher.loop_stop()
    watcher.disconnect()
    return proc, log


def engine_throughput(repeat: int) -> Any:
    """bench/rules_engine.py's in-process figures (its JSON), if that bench is there."""
    path = Path(__file__).with_name("rules_engine.py")
    if not path.exists():
        return "skipped: bench/rules_engine.py is not there"
    print("in-process engine throughput (bench/rules_engine.py)...", file=sys.stderr)
    out = subprocess.run(
        [sys.executable, str(path), "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return f"failed: {out.stderr.strip().splitlines()[-1:]}"
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=2000, help="readings per second (2000)")
    ap.add_argument("--seconds", type=float, default=20, help="how long to publish (20)")
    ap.add_argument("--zones", type=int, default=50, help="zones in the bench venue (50)")
    ap.add_argument("--skip-engine", action="store_true", help="skip the in-process figures")
    ap.add_argument("--engine-repeat", type=int, default=3, help="rules_engine.py --repeat (3)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="opsroom-bench-rules-"))
    (tmp / "venue.yaml").write_text(venue_yaml(args.zones))
    n = int(args.rate * args.seconds)
    zones = [f"zone-{i:03d}" for i in range(args.zones)]
    base = datetime.now(UTC) - timedelta(hours=1)
    sent: dict[tuple[str, str], float] = {}  # (zone, ts) -> publish time
    arrived: list[tuple[float, bytes]] = []  # parsed after the run, to keep the receiver light

    def on_alert(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        arrived.append((time.perf_counter(), bytes(m.payload)))

    with Mosquitto(tmp / "mosquitto") as broker:
        proc, log = start_service(tmp, broker)
        try:
            sub = client(broker.port, "bench-sub")
            sub.on_message = on_alert
            sub.subscribe(topics.alerts_filter(EVENT), qos=1)
            pub = client(broker.port, "bench-pub")
            time.sleep(0.5)
            print(f"publishing {n} readings at {args.rate}/s...", file=sys.stderr)
            start = time.perf_counter()
            for i in range(n):
                due = start + i / args.rate
                ahead = due - time.perf_counter()
                if ahead > 0.0005:
                    time.sleep(ahead)
                zone = zones[i % len(zones)]
                step = i // len(zones)  # this zone's reading number
                ts = (base + timedelta(milliseconds=i)).isoformat()
                occupancy = CAPACITY * (99 if step % 2 == 0 else 50) // 100
                payload = orjson.dumps({"ts": ts, "occupancy": occupancy})
                sent[(zone, ts)] = time.perf_counter()
                pub.publish(topics.reading(EVENT, "crowd", zone), payload, qos=1)
            publish_s = time.perf_counter() - start
            deadline = time.perf_counter() + 30
            while len(arrived) < n and time.perf_counter() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)  # the resolved events' retained-clearing messages
            pub.loop_stop()
            sub.loop_stop()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    got: dict[tuple[str, str], float] = {}  # (zone, ts) -> first alert message's arrival
    for at, payload in arrived:
        if payload:  # empty: a cleared retained message
            alert = orjson.loads(payload)
            ts = datetime.fromisoformat(alert["ts"]).isoformat()
            got.setdefault((alert["subject"], ts), at)
    latencies = sorted((got[k] - t0) * 1000 for k, t0 in sent.items() if k in got)
    result: dict[str, Any] = {
        "readings": n,
        "target_rate_msg_s": args.rate,
        "achieved_publish_rate_msg_s": round(n / publish_s),
        "alerts_matched": len(latencies),
        "missing": n - len(latencies),
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 2),
            "p90": round(percentile(latencies, 90), 2),
            "p99": round(percentile(latencies, 99), 2),
            "max": round(latencies[-1], 2) if latencies else None,
        },
        "target_p99_ms": 100,
        "service_exit_code": proc.returncode,
        "service_log": str(log),
        "cpu_count": os.cpu_count(),
    }
    if not args.skip_engine:
        result["engine_in_process"] = engine_throughput(args.engine_repeat)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
