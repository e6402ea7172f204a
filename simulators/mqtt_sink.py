"""Publishing a drill to MQTT: one shared connection, plus own connections for some devices.

Last will, decided: a last will belongs to one connection, and a connection per device (2,000
of them at a big venue) costs a socket, a thread and a keep-alive each. So by default every
device publishes through the runner's one connection: each device's status is published
retained (`online`, as JSON with the drill mark and the drill's clock) at the start and cleared
(an empty retained message) at the drill's end; a `sensor_silent` incident with `mode: offline`
publishes `offline` explicitly. The runner's own last will (`_sys/simulate`, retained) says when
the runner itself died; its devices then fall silent, which the silent-device rule reports.

Devices that need a real last will get their own connection with `offline` (retained) as its
will: every target of a `sensor_silent` incident with `mode: disconnect` (it drops the link
with MQTT v5's "disconnect with will message", so the broker itself publishes the will), and
the first N devices with `--device-connections N` (-1: all).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from opsroom import topics
from opsroom.mqtt import Protocol, make_client
from opsroom.settings import Settings
from simulators.engine import Message

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 20_000  # wait for acknowledgements beyond this many unacknowledged messages
# a device's last will: fixed when it connects, so it has no timestamp (rules stamp it)
WILL = orjson.dumps({"state": "offline", "drill": True})


class _Link:
    """One MQTT connection and the count of its unacknowledged QoS 1 messages.

    A `threaded` link runs paho's network loop in its own thread (a device's own link, a few
    messages a minute). The shared link is not threaded: the runner's thread publishes and
    services the socket itself (`pump`), which avoids a lock hand-over between two threads
    on every message and roughly doubles the rate one process can publish.
    """

    def __init__(
        self,
        settings: Settings,
        client_id: str,
        protocol: Protocol,
        will: tuple[str, bytes] | None,
        *,
        threaded: bool = True,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.protocol = protocol
        self.will = will
        self.threaded = threaded
        self.sent = 0
        self.acked = 0
        self._cond = threading.Condition()
        self.client = self._connect()

    def _connect(self) -> mqtt.Client:
        client = make_client(self.settings, self.client_id, self.protocol)
        if self.will is not None:
            client.will_set(self.will[0], self.will[1], qos=1, retain=True)
        client.on_publish = self._on_publish
        connected = threading.Event()
        client.on_connect = lambda *a: connected.set()
        url = self.settings.mqtt
        try:
            client.connect(url.host, url.port, keepalive=30)
        except OSError as exc:
            raise ConnectionError(f"cannot reach MQTT broker at {url}: {exc}") from exc
        deadline = time.monotonic() + 10
        if self.threaded:
            client.loop_start()
            connected.wait(10)
        else:
            while not connected.is_set() and time.monotonic() < deadline:
                client.loop(timeout=0.1)
        if not connected.is_set():
            client.loop_stop()
            raise ConnectionError(f"MQTT broker at {url} did not accept {self.client_id}")
        return client

    def _on_publish(self, c: mqtt.Client, u: object, mid: int, rc: object, p: object) -> None:
        if not self.threaded:
            self.acked += 1  # called from pump(), in the publishing thread
            return
        with self._cond:
            self.acked += 1
            self._cond.notify_all()

    def pump(self, seconds: float) -> None:
        """Unthreaded: service the socket for up to `seconds` (acks in, queued packets out)."""
        if self.threaded:
            time.sleep(seconds)
            return
        rc = self.client.loop(timeout=seconds)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("MQTT link %s: %s; reconnecting", self.client_id, mqtt.error_string(rc))
            try:
                self.client.reconnect()
            except OSError as exc:
                log.warning("MQTT link %s: reconnect failed: %s", self.client_id, exc)
                time.sleep(min(seconds, 1.0))

    def publish(self, msg: Message) -> None:
        """Publish, waiting first if too many messages are unacknowledged."""
        if not self.threaded:
            while self.sent - self.acked >= MAX_IN_FLIGHT:
                self.pump(0.05)
            self.sent += 1
            self.client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
            if self.sent % 64 == 0:
                self.pump(0.0)
            return
        with self._cond:
            while self.sent - self.acked >= MAX_IN_FLIGHT:
                self._cond.wait(1.0)
            self.sent += 1
        self.client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)

    def drain(self, deadline: float) -> bool:
        """Wait until every QoS 1 message is acknowledged, or the deadline (monotonic)."""
        if not self.threaded:
            while self.acked < self.sent:
                if time.monotonic() >= deadline:
                    return False
                self.pump(0.05)
            return True
        with self._cond:
            while self.acked < self.sent:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def drop_with_will(self, offline: bytes) -> None:
        """Go away as a failing device does: the broker publishes the last will.

        MQTT 3.1.1 has no "disconnect with will message": there `offline` is published first.
        """
        self.drain(time.monotonic() + 5)
        if self.protocol == "5":
            self.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=4))
        else:
            assert self.will is not None
            self.client.publish(self.will[0], offline, qos=1, retain=True)
            self.client.disconnect()
        self.client.loop_stop()

    def reconnect(self) -> None:
        """Come back after drop_with_will."""
        self.sent = self.acked = 0
        self.client = self._connect()

    def close(self) -> None:
        """Disconnect cleanly (no will)."""
        self.client.disconnect()
        if self.threaded:
            self.client.loop_stop()
        else:
            self.client.loop(timeout=0.1)


class MqttSink:
    """Publishes drill messages: QoS 1, through the shared link or a device's own one."""

    def __init__(
        self,
        settings: Settings,
        protocol: Protocol,
        client_id: str,
        own_links: Iterable[str] = (),
    ) -> None:
        self.settings = settings
        self.status_topic = topics.system(settings.event, "simulate")
        offline = orjson.dumps({"state": "offline", "client_id": client_id})
        self.main = _Link(
            settings, client_id, protocol, (self.status_topic, offline), threaded=False
        )
        running = orjson.dumps({"state": "running", "client_id": client_id})
        self.main.publish(Message(0.0, self.status_topic, running, "status", retain=True))
        self.links: dict[str, _Link] = {}
        for sid in own_links:
            will = (topics.status(settings.event, sid), WILL)
            self.links[sid] = _Link(settings, f"{client_id}-{sid}"[:120], protocol, will)
        self.dropped: set[str] = set()
        self._last = self.main

    def _switch(self, link: _Link) -> None:
        # Two connections do not keep each other's order: before the stream moves to another
        # link, what the last one sent must be in the broker, or a device's own reading could
        # overtake older readings still queued on the shared link (and jump the rules' clock).
        if self._last is not link:
            self._last.drain(time.monotonic() + 10.0)
            self._last = link

    def send(self, msg: Message) -> None:
        """Publish one message through the link it belongs to, in the simulation's order."""
        link = self.links.get(msg.sensor_id) if msg.kind != "incident" else None
        if link is None:
            self._switch(self.main)
            self.main.publish(msg)
            return
        self._switch(link)
        if msg.kind == "status" and msg.will:
            link.drop_with_will(msg.payload)
            self.dropped.add(msg.sensor_id)
            return
        if msg.sensor_id in self.dropped:
            link.reconnect()
            self.dropped.discard(msg.sensor_id)
        link.publish(msg)

    def pump(self, seconds: float) -> None:
        """Wait `seconds` while servicing the shared connection (the runner's sleep)."""
        self.main.pump(seconds)

    def drain(self, timeout: float) -> bool:
        """Wait for every link's acknowledgements."""
        deadline = time.monotonic() + timeout
        ok = self.main.drain(deadline)
        for sid, link in self.links.items():
            if sid not in self.dropped:
                ok = link.drain(deadline) and ok
        return ok

    def close(self) -> None:
        """Say the runner finished, then disconnect every link cleanly."""
        done = orjson.dumps({"state": "finished"})
        self.main.publish(Message(0.0, self.status_topic, done, "status", retain=True))
        self.drain(10.0)
        for sid, link in self.links.items():
            if sid not in self.dropped:
                link.close()
        self.main.close()
