"""Acknowledging an alert: a JSON message on `opsroom/<event>/ack/<alert_id>` at QoS 1."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Any

import orjson

from opsroom import topics
from opsroom.clock import utcnow
from opsroom.mqtt import make_client, negotiate_protocol
from opsroom.settings import Settings

MAX_ACTOR = 100
MAX_NOTE = 2000


class AckError(ValueError):
    """The acknowledgement was not sent; the message says why."""


def ack_payload(actor: str, note: str, ts: datetime) -> bytes:
    """The acknowledgement's JSON body: {"actor", "note", "ts"} (`ts`: this sender's clock, kept
    by the rules service as information; the acknowledgement is dated by its event clock)."""
    actor = actor.strip()
    if not actor:
        raise AckError("enter your name to acknowledge")
    if len(actor) > MAX_ACTOR or len(note) > MAX_NOTE:
        raise AckError(f"name at most {MAX_ACTOR} characters, note at most {MAX_NOTE}")
    return orjson.dumps({"actor": actor, "note": note.strip(), "ts": ts.isoformat()})


def publish_ack(
    settings: Settings,
    alert_id: str,
    actor: str,
    note: str,
    now: datetime | None = None,
    timeout: float = 5.0,
) -> str:
    """Publish an acknowledgement and wait for the broker's PUBACK; return the topic."""
    if not topics.valid_id(alert_id):
        raise AckError(f"invalid alert id {alert_id!r}")
    payload = ack_payload(actor, note, now or utcnow())
    topic = topics.ack(settings.event, alert_id)
    protocol = negotiate_protocol(settings, timeout)
    client = make_client(settings, f"opsroom-dashboard-ack-{uuid.uuid4().hex[:8]}", protocol)
    connected = threading.Event()
    result: dict[str, Any] = {}

    def on_connect(c: object, u: object, f: object, rc: Any, p: object) -> None:
        result["rc"] = rc
        connected.set()

    client.on_connect = on_connect
    url = settings.mqtt
    try:
        client.connect(url.host, url.port, keepalive=30)
    except OSError as exc:
        raise ConnectionError(f"cannot reach MQTT broker at {url}: {exc}") from exc
    client.loop_start()
    try:
        if not connected.wait(timeout) or result["rc"].is_failure:
            raise ConnectionError(f"MQTT broker at {url} did not accept the connection")
        info = client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise ConnectionError(f"MQTT broker at {url} did not confirm the acknowledgement")
    finally:
        client.disconnect()
        client.loop_stop()
    return topic
