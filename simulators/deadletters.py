"""Did ingest handle the drill's malformed payloads? Watching them come back as dead letters.

Ingest republishes every payload it rejects on `opsroom/<event>/deadletter/<kind>/<sensor>`
with its reason, the original topic, and the original bytes (base64, cut at ingest's payload
limit) with their length and SHA-256. The drill knows what it sent and for which incident, so
each dead letter is attributed by its exact original topic and the hash of its exact bytes
(whole, even when the letter carries only their start); identical payloads (a `not_object` one
is always `[1, 2, 3]`) are taken oldest first.
The delay is wall time from the drill's publish to the dead letter's arrival at the watcher.

`DeadLetterTally` is the bookkeeping (pure, clock passed in); `DeadLetterWatch` runs it on a
threaded MQTT client of its own, subscribed before the drill's first message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from opsroom import topics
from opsroom.mqtt import Protocol, connect_async, make_client
from opsroom.settings import Settings
from simulators.drill import Drill
from simulators.engine import Message
from simulators.incidents import incident_id

log = logging.getLogger(__name__)
REASON_CHARS = 80  # a reason longer than this is cut: the record stays small
MAX_REASONS = 10  # distinct reasons kept per incident; the rest count as OTHER
OTHER = "(other reasons)"
# what varies between payloads of one kind: timestamps and long numbers (epoch values)
_VARYING = (
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?"), "<ts>"),
    (re.compile(r"\d{6,}(?:\.\d+)?"), "<n>"),
)


def reason_key(reason: str) -> str:
    """A reason without the values that vary per payload, cut to REASON_CHARS."""
    for pattern, placeholder in _VARYING:
        reason = pattern.sub(placeholder, reason)
    return reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 1] + "…"


@dataclass
class _Incident:
    sent: int = 0
    delays: list[float] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)


class DeadLetterTally:
    """Malformed payloads sent, per incident, and the dead letters that came back for them."""

    def __init__(self, incidents: Iterable[str]) -> None:
        self._incidents = {iid: _Incident() for iid in incidents}
        # (original topic, SHA-256 of the bytes) -> (incident id, sent at), oldest first
        self._pending: dict[tuple[str, str], deque[tuple[str, float]]] = {}
        self.outstanding = 0
        self.unattributed = 0  # dead letters for payloads this drill did not send

    def sent(self, msg: Message, at: float) -> None:
        """A malformed payload of `msg.incident` is being published at `at`."""
        self._incidents.setdefault(msg.incident, _Incident()).sent += 1
        key = (msg.topic, hashlib.sha256(msg.payload).hexdigest())
        self._pending.setdefault(key, deque()).append((msg.incident, at))
        self.outstanding += 1

    def arrived(self, body: bytes | bytearray, at: float) -> bool:
        """One dead letter's JSON body arrived at `at`; False if it is none of ours."""
        try:
            letter = orjson.loads(body)
            digest = letter.get("payload_sha256")
            if digest is None:  # from an ingest that sent the whole payload and no hash
                digest = hashlib.sha256(base64.b64decode(letter["payload_b64"], validate=True))
                digest = digest.hexdigest()
            key = (str(letter["topic"]), str(digest))
            reason = str(letter.get("reason") or "(no reason)")
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, binascii.Error):
            self.unattributed += 1
            return False
        waiting = self._pending.get(key)
        if not waiting:
            self.unattributed += 1
            return False
        iid, sent_at = waiting.popleft()
        if not waiting:
            del self._pending[key]
        self.outstanding -= 1
        inc = self._incidents[iid]
        inc.delays.append(max(0.0, at - sent_at))
        why = reason_key(reason)
        if why not in inc.reasons and len(inc.reasons) >= MAX_REASONS:
            why = OTHER
        inc.reasons[why] += 1
        return True

    def records(self) -> list[dict[str, Any]]:
        """One `deadletters` record per incident, for the drill log."""
        return [
            {
                "record": "deadletters",
                "incident": iid,
                "sent": inc.sent,
                "dead_lettered": len(inc.delays),
                "first_delay_s": round(inc.delays[0], 3) if inc.delays else None,
                "max_delay_s": round(max(inc.delays), 3) if inc.delays else None,
                "reasons": dict(inc.reasons.most_common()),
            }
            for iid, inc in self._incidents.items()
        ]


class DeadLetterWatch:
    """Subscribes (QoS 1) to the event's dead letters on its own threaded connection."""

    def __init__(
        self,
        settings: Settings,
        protocol: Protocol,
        incidents: Iterable[str],
        *,
        client_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 10.0,
    ) -> None:
        self.clock = clock
        self.tally = DeadLetterTally(incidents)
        self.subscribed = False
        self._cond = threading.Condition()
        self._ready = threading.Event()
        self._filter = topics.deadletter_filter(settings.event)
        cid = client_id or f"opsroom-sim-{settings.event}-deadletters"
        self.client = make_client(settings, cid[:120], protocol)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        try:
            connect_async(self.client, settings, protocol)
        except OSError as exc:
            raise ConnectionError(f"cannot reach MQTT broker at {settings.mqtt}: {exc}") from exc
        if not self._ready.wait(timeout):
            log.warning("dead-letter watch: no subscription within %.0f s", timeout)
        elif not self.subscribed:
            log.warning("dead-letter watch: the broker refused %s", self._filter)

    def _on_connect(self, c: mqtt.Client, u: object, f: object, rc: Any, p: object) -> None:
        if not rc.is_failure:
            c.subscribe(self._filter, qos=1)

    def _on_subscribe(self, c: mqtt.Client, u: object, mid: int, codes: Any, p: object) -> None:
        self.subscribed = all(not code.is_failure for code in codes)
        self._ready.set()

    def _on_message(self, c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            if not self.tally.arrived(msg.payload, self.clock()):
                log.debug("dead letter on %s is not one of this drill's payloads", msg.topic)
            self._cond.notify_all()

    def sent(self, msg: Message) -> None:
        """Note a malformed payload just before it is published."""
        with self._cond:
            self.tally.sent(msg, self.clock())

    def finish(self, timeout: float) -> list[dict[str, Any]]:
        """Wait up to `timeout` for outstanding dead letters; the records for the drill log.

        No records if the watch never subscribed: the report then says it has none, rather
        than blaming ingest for letters nobody could see.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.tally.outstanding > 0 and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(min(left, 0.5))
            if self.tally.outstanding:
                log.warning(
                    "dead-letter watch: %d malformed payload(s) not dead-lettered after %.0f s",
                    self.tally.outstanding,
                    timeout,
                )
            return self.tally.records() if self.subscribed else []

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def watch_for(settings: Settings, protocol: Protocol, drill: Drill) -> DeadLetterWatch | None:
    """A watch over the drill's malformed_payloads incidents, or None if it has none."""
    ids = [
        incident_id(inc, i)
        for i, inc in enumerate(drill.incidents)
        if inc.type == "malformed_payloads"
    ]
    return DeadLetterWatch(settings, protocol, ids) if ids else None
