"""Health of a running service, judged by its retained status document on _sys/<service>.

A service is healthy when its latest status says it is ready, is recent (a service
publishes it from the thread that does its work, every `OPSROOM_STATS_INTERVAL_S`, so a
stuck or dead worker goes stale) and does not say `"healthy": false` (ingest says so, with
the `problem`, as soon as its writer thread has stopped).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import orjson
import paho.mqtt.client as mqtt

from opsroom import topics
from opsroom.clock import Clock, utcnow
from opsroom.mqtt import make_client, negotiate_protocol
from opsroom.settings import Settings


def check(
    settings: Settings,
    service: str,
    max_age: timedelta,
    *,
    clock: Clock = utcnow,
    timeout: float = 5.0,
) -> tuple[bool, str]:
    """(healthy, why): the service says it is ready, reported within `max_age`, and does not
    report a failure."""
    topic = topics.system(settings.event, service)
    got: list[bytes] = []
    arrived = threading.Event()

    def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        got.append(bytes(m.payload))
        arrived.set()

    protocol = negotiate_protocol(settings, timeout)
    client = make_client(settings, "", protocol)
    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
    url = settings.mqtt
    client.connect(url.host, url.port, keepalive=10)
    client.loop_start()
    try:
        arrived.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    if not got:
        return False, f"no status on {topic} within {timeout:.0f} s"
    try:
        status = orjson.loads(got[-1])
        if status.get("healthy") is False:  # said before any state: it is why it stopped
            problem = str(status.get("problem") or "it reported itself unhealthy")[:300]
            return False, f"{service} is not working: {problem}"
        state = status.get("state", "ready")  # a status without a state: counters only
        if state not in ("ready", "running"):  # "running": the drill simulator
            return False, f"{service} is {state}"
        ts = datetime.fromisoformat(status["ts"])
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        return False, f"unreadable status on {topic}"
    age = clock() - ts
    if age > max_age:
        return False, f"{service} last reported {age.total_seconds():.0f} s ago"
    return True, f"{service} reported {age.total_seconds():.0f} s ago"
