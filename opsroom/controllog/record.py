"""Recording entries: into the store (the record), then on MQTT (the live feed).

The store is written first and is what counts: an entry the broker did not take is still
recorded, and every dashboard finds it on its next read of the store. The caller is told
that the live feed missed it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opsroom import topics
from opsroom.controllog.model import LogEntry
from opsroom.mqtt import make_client, negotiate_protocol
from opsroom.settings import Settings
from opsroom.store import Store


@dataclass(frozen=True)
class Recorded:
    """What became of a write: stored always (or it raised), published unless `problem`."""

    entries: tuple[LogEntry, ...]
    problem: str | None = None

    @property
    def published(self) -> bool:
        """True if the broker confirmed every entry."""
        return self.problem is None


def messages(event: str, entries: Sequence[LogEntry]) -> list[tuple[str, bytes]]:
    """(topic, JSON) of each entry on `opsroom/<event>/log/<category>/<id>`."""
    return [
        (topics.log_entry(event, e.category, e.id), e.model_dump_json().encode()) for e in entries
    ]


def publish(settings: Settings, entries: Sequence[LogEntry], timeout: float = 5.0) -> None:
    """Publish entries at QoS 1, not retained, and wait for the broker's PUBACKs.

    Raises ConnectionError when the broker cannot be reached or does not confirm.
    """
    protocol = negotiate_protocol(settings, timeout)
    client = make_client(settings, f"opsroom-log-{uuid.uuid4().hex[:8]}", protocol)
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
        sent = [client.publish(t, body, qos=1) for t, body in messages(settings.event, entries)]
        for info in sent:
            info.wait_for_publish(timeout)
        if not all(info.is_published() for info in sent):
            raise ConnectionError(f"MQTT broker at {url} did not confirm the log entries")
    finally:
        client.disconnect()
        client.loop_stop()


def record(
    store: Store, settings: Settings, entries: Sequence[LogEntry], timeout: float = 5.0
) -> Recorded:
    """Store the entries (raises StoreError if it cannot), then publish them."""
    store.write_log(entries)
    try:
        publish(settings, entries, timeout)
    except (ConnectionError, OSError) as exc:
        return Recorded(tuple(entries), f"recorded, but not published live: {exc}")
    return Recorded(tuple(entries))
