"""Drill simulator throughput: 2,000 simulated devices publishing to a local Mosquitto.

    python bench/simulate.py [--devices 2000] [--seconds 20] [--speed 60]

A synthetic venue of `--devices` devices (zones, gates, generators, catering units and
shuttles, in the example venue's proportions) plays a drill three ways:

1. generate only: the simulation's own rate (models + JSON), no MQTT;
2. unpaced: published at QoS 1 as fast as the broker acknowledges, for `--seconds` wall
   seconds, while a subscriber in another process counts what arrives;
3. paced at `--speed` x real time (the runner's normal mode), which needs about
   devices/22 x speed msg/s: does it keep up with its schedule?

Prints JSON. Target: >= 5,000 msg/s sustained.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opsroom.broker import Mosquitto
from opsroom.settings import Settings
from opsroom.venue import Venue, load_venue
from simulators.drill import load_drill_text
from simulators.engine import Simulation
from simulators.mqtt_sink import MqttSink
from simulators.runner import Runner, anchor_for

ROOT = Path(__file__).resolve().parents[1]
EVENT = "bench"


def synthetic_venue(devices: int) -> Venue:
    """The example venue scaled up: every entity copied until there are `devices` sensors."""
    base = load_venue(ROOT / "examples" / "venue.yaml").model_dump(mode="json")
    sections = ["zones", "gates", "generators", "catering", "shuttles"]
    per_copy = sum(len(base[s]) for s in sections)
    copies = -(-devices // per_copy)
    out: dict[str, Any] = {"event": base["event"], "routes": [], **{s: [] for s in sections}}
    for c in range(copies):
        suffix = f"-{c:03d}"
        for r in base["routes"]:
            out["routes"].append(
                {
                    **r,
                    "id": r["id"] + suffix,
                    "stops": [{**s, "id": s["id"] + suffix} for s in r["stops"]],
                }
            )
        for s in sections:
            for original in base[s]:
                item = {**original, "id": original["id"] + suffix}
                if s == "gates":
                    item["zone"] = item["zone"] + suffix
                if s == "shuttles":
                    item["route"] = item["route"] + suffix
                out[s].append(item)
    # trim to exactly `devices` sensors, from the catering units (the most numerous)
    extra = copies * per_copy - devices
    out["catering"] = out["catering"][: len(out["catering"]) - extra]
    return Venue.model_validate(out)


def count_messages(port: int, topic: str, ready: Any, done: Any, result: Any) -> None:
    """Subscriber process: count messages until `done` is set and the stream goes quiet."""
    n = 0
    first = last = 0.0

    def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal n, first, last
        last = time.monotonic()
        if n == 0:
            first = last
        n += 1

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_subscribe = lambda *a: ready.set()
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    done.wait()
    while time.monotonic() - last < 1.0:
        time.sleep(0.2)
    client.loop_stop()
    result.put({"received": n, "seconds": last - first})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--speed", type=float, default=60.0)
    args = ap.parse_args()

    venue = synthetic_venue(args.devices)
    drill = load_drill_text(
        "name: bench\nduration: 12h\nstart: '10:00'\ncrowd: {attendance: 0.6, arrival: 1h}\n",
        "bench.yaml",
        venue,
    )
    out: dict[str, Any] = {"devices": len(venue.sensors())}

    # 1. generation only
    sim = Simulation(venue, drill, EVENT, anchor_for(time.time(), 43200, 0), random.Random(1))
    t0 = time.perf_counter()
    n = 0
    for _ in sim.messages():
        n += 1
        if n >= 300_000:
            break
    out["generate_msg_per_s"] = round(n / (time.perf_counter() - t0))
    out["msgs_per_sim_second"] = round(sum(1.0 / d.interval for d in sim.devices), 1)

    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "mosquitto") as broker:
        settings = Settings(event=EVENT, mqtt_url=broker.url, mqtt_protocol="5")
        ctx = mp.get_context("spawn")
        for mode, speed in (("unpaced", 0.0), ("paced", args.speed)):
            ready, done, result = ctx.Event(), ctx.Event(), ctx.Queue()
            sub = ctx.Process(
                target=count_messages,
                args=(broker.port, f"opsroom/{EVENT}/#", ready, done, result),
            )
            sub.start()
            ready.wait(10)
            start = time.time()
            sim = Simulation(venue, drill, EVENT, anchor_for(start, 43200, speed), random.Random(1))
            sink = MqttSink(settings, "5", f"bench-{mode}")
            stop = threading.Event()
            timer = threading.Timer(args.seconds, stop.set)
            timer.start()
            runner = Runner(sim, sink, speed, start, sleep=sink.pump, stop=stop)
            state = runner.run()
            sink.drain(60)
            elapsed = time.time() - start
            sink.close()
            timer.cancel()
            done.set()
            got = result.get(timeout=60)
            sub.join(10)
            behind = 0.0
            if speed > 0:
                behind = max(0.0, elapsed - state.sim_t / speed)
            out[mode] = {
                "speed": speed or "max",
                "wall_s": round(elapsed, 1),
                "sim_s": round(state.sim_t),
                "published": state.sent,
                "published_acked_msg_per_s": round(state.sent / elapsed),
                "received": got["received"],
                "received_msg_per_s": round(got["received"] / max(got["seconds"], 1e-9)),
                "seconds_behind_schedule": round(behind, 2) if speed else None,
            }
    out["target_msg_per_s"] = 5000
    out["meets_target"] = out["unpaced"]["published_acked_msg_per_s"] >= 5000
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
