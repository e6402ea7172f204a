"""The skeleton every MQTT-consuming service shares (ingest and rules compose it).

A service owns its work (validating and storing, or evaluating); `ServiceCore` owns the rest:
the persistent manual-ack session and its retained status on `_sys/<service>`, the inbox
between paho's network thread and the service's worker with back-pressure to the broker, the
broker's publish confirmations, the counters with their periodic status and log line, the
unknown-sensor bookkeeping, and the stop sequence. `TopicCache` remembers parsed topics.

Threads: paho's network thread calls `admit()` and appends to `inbox`, and appends confirmed
mids to `confirmed`; the service's worker pops both. A deque hands messages over without a
lock or a thread wake-up per message (with a Queue that cost a third of ingest's throughput).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Generic, TypeVar

import paho.mqtt.client as mqtt

from opsroom.clock import Clock, utcnow
from opsroom.mqtt import (
    Protocol,
    Received,
    Session,
    ack_current,
    connect_async,
    make_client,
    negotiate_protocol,
)
from opsroom.settings import Settings
from opsroom.unknown import UnknownSensors

TOPIC_CACHE = 100_000  # parsed topics kept (about one per sensor); cleared when full
BACK_PRESSURE_S = 0.005  # how long the network thread sleeps while the inbox is full

_Item = TypeVar("_Item")
_Parsed = TypeVar("_Parsed")


@dataclass
class Counters:
    """What a service has done since it started (published retained on `_sys/<service>`).

    A service subclasses it with its own fields; `LINE` names the ones its log line shows.
    """

    LINE: ClassVar[tuple[str, ...]] = ("received",)

    received: int = 0
    unknown_sensors: int = 0
    reconnects: int = 0
    queue_depth: int = 0

    def snapshot(self) -> dict[str, Any]:
        """A copy as a plain dict."""
        return asdict(self)

    def line(self) -> str:
        """The periodic log line: `name=value` for each field in `LINE`."""
        return " ".join(f"{name}={getattr(self, name)}" for name in self.LINE)


class TopicCache(dict[str, _Parsed], Generic[_Parsed]):
    """Topic -> what `parse(topic)` made of it; `cache[topic]` parses on a miss.

    `parse` returns (value, keep): a topic of a sensor the venue does not know is not kept,
    or a flood of made-up ids would fill the cache. Full at `limit`: cleared and refilled.
    A hit is a plain dict lookup (the hot path of ingest).
    """

    def __init__(
        self, parse: Callable[[str], tuple[_Parsed, bool]], limit: int = TOPIC_CACHE
    ) -> None:
        super().__init__()
        self._parse = parse
        self._limit = limit

    def __missing__(self, topic: str) -> _Parsed:
        value, keep = self._parse(topic)
        if keep:
            if len(self) >= self._limit:
                self.clear()
            self[topic] = value
        return value


class ServiceCore(Generic[_Item]):
    """The MQTT side of one service: session, inbox, confirmations, counters, status, stop.

    `subscribe(client)` subscribes through `core.session.subscribe(...)` on every connection;
    `status_extra()` adds the service's own fields to the status document (it may refresh
    counters first). `start(on_message)` connects; the service's `on_message` calls `admit()`
    first and appends to `inbox`.
    """

    def __init__(
        self,
        settings: Settings,
        service: str,
        log: logging.Logger,
        counters: Counters,
        subscribe: Callable[[mqtt.Client], object],
        *,
        unknown: str,
        client_id: str | None = None,
        clock: Clock = utcnow,
        on_ready: Callable[[mqtt.Client], None] | None = None,
        status_extra: Callable[[], dict[str, Any]] | None = None,
        report_at_start: bool = True,
    ) -> None:
        self.settings = settings
        self.service = service
        self.log = log
        self.counters = counters
        self.client_id = client_id or f"opsroom-{service}-{settings.event}"
        self.inbox: deque[_Item] = deque()
        self.confirmed: deque[int] = deque()  # mids the broker confirmed (network thread)
        self.accepting = threading.Event()
        self.stopping = threading.Event()
        self.unknown = UnknownSensors(log, unknown, settings.unknown_log_interval_s)
        self.session = Session(
            settings,
            subscribe,
            counters,
            self.stopping,
            service=service,
            client_id=self.client_id,
            clock=clock,
            on_ready=on_ready,
        )
        self._status_extra = status_extra
        self._queue_size = settings.queue_size
        # the first status at once (health sees a fresh start), or after the first interval
        self._next_stats = time.monotonic() + (0 if report_at_start else settings.stats_interval_s)
        self.client: mqtt.Client | None = None
        self.protocol: Protocol | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def open(self, on_message: Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None]) -> None:
        """Negotiate the protocol and make the persistent manual-ack client (not connected)."""
        self.protocol = negotiate_protocol(self.settings)
        client = make_client(
            self.settings, self.client_id, self.protocol, persistent=True, manual_ack=True
        )
        self.session.attach(client)
        client.on_message = on_message
        client.on_publish = self._on_publish
        self.client = client

    def connect(self) -> None:
        """Take messages, and connect in the background (paho reconnects with back-off)."""
        assert self.client is not None and self.protocol is not None
        self.accepting.set()
        connect_async(self.client, self.settings, self.protocol, persistent=True)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """True once the broker has confirmed the subscriptions (and `_sys` says ready)."""
        return self.session.connected.wait(timeout)

    def halt(self) -> None:
        """Stop taking messages (what is not taken stays with the broker) and ask to stop."""
        self.accepting.clear()
        self.stopping.set()

    def leave(self) -> None:
        """The last status ("stopped"), a clean DISCONNECT, the untold unknown sensors."""
        self.publish_status(state="stopped")
        if self.client is not None:
            self.session.leave(self.client)
        self.unknown.flush(force=True)
        self.log.info("%s stopped: %s", self.service, self.line())

    # -- network thread --------------------------------------------------------------------

    def admit(self) -> bool:
        """May the network thread take a message? It waits while the inbox is full (the
        broker holds the rest: back-pressure); False once the service stops taking them (not
        acknowledged: the broker redelivers it to the next session)."""
        accepting = self.accepting
        if not accepting.is_set():
            return False
        inbox, size = self.inbox, self._queue_size
        while len(inbox) >= size and accepting.is_set():
            time.sleep(BACK_PRESSURE_S)
        return True

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any
    ) -> None:
        self.confirmed.append(mid)

    # -- worker side -----------------------------------------------------------------------

    def ack(self, msgs: Iterable[Received]) -> None:
        """Acknowledge messages of the current connection (see `opsroom.mqtt.ack_current`)."""
        ack_current(self.client, msgs, self.session.generation)

    def take_confirmed(self) -> list[int]:
        """The mids the broker has confirmed since the last call."""
        confirmed, done = self.confirmed, []
        while confirmed:
            done.append(confirmed.popleft())
        return done

    def publish_status(self, state: str | None = None) -> None:
        """The counters and the service's extras, in the retained status on `_sys/<service>`."""
        if self.client is None:
            return
        extra = self._status_extra() if self._status_extra is not None else {}
        self.counters.queue_depth = len(self.inbox)
        body = {**self.counters.snapshot(), **extra}
        self.session.publish_status(self.client, body, state=state)

    def line(self) -> str:
        """The counters' log line with the inbox's depth."""
        return f"{self.counters.line()} queue={len(self.inbox)}"

    def report_due(self, now: float | None = None) -> None:
        """Every `stats_interval_s`: publish the status, log the counters, sum up unknowns."""
        now = time.monotonic() if now is None else now
        if now < self._next_stats:
            return
        self._next_stats = now + self.settings.stats_interval_s
        self.publish_status()
        self.log.info("%s: %s", self.service, self.line())
        self.unknown.flush()
