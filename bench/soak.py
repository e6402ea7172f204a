"""Soak: a steady stream through Mosquitto, `opsroom ingest` and `opsroom rules` for minutes.

    python bench/soak.py [--seconds 600] [--rate 2000] [--every 30]

Readings (every sensor of examples/venue.yaml, plus synthetic ones to reach the rate) are
published at QoS 1 with live timestamps; a few fridges cross their limits now and then so
the rules raise and resolve alerts. Every `--every` seconds a JSON line reports throughput,
lag (messages published but not yet stored / not yet evaluated) and resident memory of each
process; the last line is a summary with memory growth over the second half of the run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from opsroom import topics  # noqa: E402
from opsroom.broker import Mosquitto  # noqa: E402
from opsroom.venue import load_venue  # noqa: E402

EVENT = "soak"


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def sensors() -> list[tuple[str, str]]:
    venue = load_venue(ROOT / "examples" / "venue.yaml")
    known = [(kind, sid) for (kind, sid) in venue.sensors()]
    extra = [("coldchain", f"probe-{i:04d}") for i in range(400)]  # unknown: stored, counted
    return known + extra


def body(kind: str, sid: str, rng: random.Random, t: float) -> dict[str, object]:
    ts = datetime.fromtimestamp(t, UTC).isoformat()
    if kind == "crowd":
        return {
            "ts": ts,
            "in": rng.randint(0, 30),
            "out": rng.randint(0, 30),
            "occupancy": rng.randint(100, 2000),
        }
    if kind == "power":
        return {
            "ts": ts,
            "voltage_v": rng.gauss(230, 1.5),
            "frequency_hz": rng.gauss(50, 0.02),
            "current_a": rng.uniform(50, 150),
            "power_kw": rng.uniform(20, 60),
        }
    if kind == "coldchain":
        # every fifth minute the first fridges run warm: alerts fire and resolve
        warm = int(t // 60) % 5 == 4 and sid.endswith("fridge")
        return {"ts": ts, "temp_c": rng.gauss(9.5 if warm else 3.5, 0.2)}
    return {
        "ts": ts,
        "lat": 52.07 + rng.uniform(-0.001, 0.001),
        "lon": -1.02,
        "speed_kmh": rng.uniform(10, 25),
    }


def service(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "opsroom", *cmd],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--rate", type=float, default=2000, help="messages per second")
    ap.add_argument("--every", type=float, default=30, help="report interval, seconds")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="opsroom-soak-"))
    rng = random.Random(7)
    all_sensors = sensors()
    with Mosquitto(tmp / "mosquitto") as broker:
        env = {
            **os.environ,
            "OPSROOM_MQTT_URL": broker.url,
            "OPSROOM_EVENT": EVENT,
            "OPSROOM_STORE": f"sqlite:///{tmp / 'soak.db'}",
            "OPSROOM_DATA_DIR": str(tmp),
            "OPSROOM_SPOOL_DIR": str(tmp / "spool"),
            "OPSROOM_STATS_INTERVAL_S": "2",
            "OPSROOM_VENUE": str(ROOT / "examples" / "venue.yaml"),
            "OPSROOM_RULES": str(ROOT / "examples" / "rules.yaml"),
        }
        procs = {
            "ingest": service(["ingest"], env, tmp / "ingest.log"),
            "rules": service(["rules"], env, tmp / "rules.log"),
        }
        stats: dict[str, dict[str, float]] = {}
        alerts = [0]

        def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
            if "/_sys/" in m.topic:
                stats[m.topic.rsplit("/", 1)[1]] = json.loads(m.payload)
            elif m.payload:
                alerts[0] += 1

        watch = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        watch.on_message = on_message
        watch.connect("127.0.0.1", broker.port)
        watch.subscribe([(topics.system(EVENT, "+"), 0), (topics.alerts_filter(EVENT), 0)])
        watch.loop_start()
        time.sleep(3)  # services connected and subscribed
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        pub.max_inflight_messages_set(2000)
        pub.max_queued_messages_set(0)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        published = 0
        series = []
        t0 = time.monotonic()
        next_report = t0 + args.every
        try:
            while (elapsed := time.monotonic() - t0) < args.seconds:
                due = int(elapsed * args.rate) - published
                now = time.time()
                for _ in range(max(due, 0)):
                    kind, sid = all_sensors[published % len(all_sensors)]
                    pub.publish(
                        topics.reading(EVENT, kind, sid),
                        json.dumps(body(kind, sid, rng, now)),
                        qos=1,
                    )
                    published += 1
                if time.monotonic() >= next_report:
                    next_report += args.every
                    ing, rul = stats.get("ingest", {}), stats.get("rules", {})
                    row = {
                        "t_s": round(elapsed),
                        "published": published,
                        "rate_msg_s": round(published / elapsed),
                        "ingest_stored": ing.get("stored", 0),
                        # the services report every 2 s, so up to 2 s x rate of this is
                        # the report's own age, not lag
                        "ingest_lag_msgs": published - int(ing.get("stored", 0)),
                        "rules_evaluated": rul.get("readings", 0),
                        "rules_lag_msgs": published - int(rul.get("readings", 0)),
                        "alert_messages": alerts[0],
                        "rss_mb": {n: rss_mb(p.pid) for n, p in procs.items()}
                        | {"mosquitto": rss_mb(broker.proc.pid) if broker.proc else 0.0},
                    }
                    series.append(row)
                    print(json.dumps(row), flush=True)
                    for name, p in procs.items():
                        if p.poll() is not None:
                            raise SystemExit(f"{name} died; see {tmp}/{name}.log")
                time.sleep(0.005)
            time.sleep(5)  # drain
        finally:
            for p in procs.values():
                p.send_signal(signal.SIGTERM)
            for p in procs.values():
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
            pub.loop_stop()
            watch.loop_stop()
        ing, rul = stats.get("ingest", {}), stats.get("rules", {})
        half = [r for r in series if r["t_s"] >= args.seconds / 2] or series
        summary = {
            "seconds": args.seconds,
            "target_rate_msg_s": args.rate,
            "published": published,
            "achieved_rate_msg_s": round(published / args.seconds),
            "ingest_stored": ing.get("stored"),
            "ingest_rejected": ing.get("rejected"),
            "rules_evaluated": rul.get("readings"),
            "rules_transitions": rul.get("transitions"),
            "max_ingest_lag_msgs": max((r["ingest_lag_msgs"] for r in series), default=None),
            "max_rules_lag_msgs": max((r["rules_lag_msgs"] for r in series), default=None),
            "rss_mb_second_half": {
                n: [half[0]["rss_mb"][n], half[-1]["rss_mb"][n]] for n in half[0]["rss_mb"]
            }
            if half
            else {},
            "exit_codes": {n: p.returncode for n, p in procs.items()},
        }
        print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
