"""Dead letters: bad input republished on `deadletter/<kind>/<sensor>` with its reason.

The original message is acknowledged only once the broker has confirmed the copy (paho's
confirmations are collected by the service core on the network thread and settled here, on
the writer's thread, so that no lock is held across publish()). A dead letter never waits
for, or holds up, good readings.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import TYPE_CHECKING

import orjson

from opsroom import topics
from opsroom.clock import Clock
from opsroom.mqtt import Received
from opsroom.service import ServiceCore
from opsroom.telemetry import Limits, Reading

if TYPE_CHECKING:
    from ingest.service import Counters

log = logging.getLogger("opsroom.ingest")


class DeadLetters:
    """Ingest's dead-letter publisher; `pending` maps a dead letter's mid to its original."""

    def __init__(
        self,
        core: ServiceCore[tuple[Received, Reading | str | None]],
        counters: Counters,
        limits: Limits,
        clock: Clock,
    ) -> None:
        self._core = core
        self._event = core.settings.event
        self.counters = counters
        self.limits = limits
        self.clock = clock
        self.pending: dict[int, Received] = {}

    def send(self, msg: Received, reason: str) -> None:
        """Republish a bad message with its reason; its ack waits for the broker's copy."""
        self.counters.rejected += 1
        client = self._core.client
        assert client is not None
        body = self.body(reason, msg.topic, msg.payload)
        log.debug("dead letter from %s: %s", msg.topic, reason)
        _, _, kind, sensor_id = msg.topic.split("/", 3)
        topic = topics.deadletter(self._event, kind, sensor_id)
        # registered before the confirmations are next drained, on this same thread: no race
        self.pending[client.publish(topic, body, qos=1).mid] = msg._replace(payload=b"")

    def body(self, reason: str, topic: str, payload: bytes) -> bytes:
        """The dead letter's JSON: reason, topic, time, and the payload (base64, capped)."""
        # at most what ingest would accept whole: an oversized payload is not amplified into
        # an even larger dead letter; its length and hash still identify it
        kept = payload[: self.limits.max_bytes]
        return orjson.dumps(
            {
                "reason": reason,
                "topic": topic,
                "received_at": self.clock().isoformat(),
                "payload_b64": base64.b64encode(kept).decode(),
                "payload_bytes": len(payload),
                "payload_sha256": hashlib.sha256(payload).hexdigest(),
                "payload_truncated": len(kept) < len(payload),
            }
        )

    def send_spooled(self, reading: Reading, reason: str) -> None:
        """Dead-letter a spooled reading the store refuses (its message was acknowledged when
        it was spooled: the payload is rebuilt from the reading)."""
        self.counters.rejected += 1
        self.counters.store_refused += 1
        log.warning("dropping a spooled %s reading of %r: %s", *reading[:2], reason)
        client = self._core.client
        if client is None:
            return
        try:
            payload = orjson.dumps(reading.to_json())
        except TypeError:  # what made the store refuse it may make it unencodable too
            payload = repr(reading).encode("utf-8", "backslashreplace")
        kind, sensor_id = reading.kind, reading.sensor_id
        if not (topics.valid_id(kind) and topics.valid_id(sensor_id)):
            kind, sensor_id = "invalid", "invalid"
        topic = topics.reading(self._event, kind, sensor_id)
        body = self.body(reason, topic, payload)
        client.publish(topics.deadletter(self._event, kind, sensor_id), body, qos=1)

    def settle(self) -> None:
        """Acknowledge the originals of dead letters the broker has confirmed."""
        done: list[Received] = []
        for mid in self._core.take_confirmed():
            original = self.pending.pop(mid, None)  # None: a counters publish
            if original is not None:
                done.append(original)
        self.counters.deadletters_published += len(done)
        self._core.ack(done)
