"""MQTT clients on paho-mqtt 2.x: MQTT v5 where the broker has it, 3.1.1 where it does not."""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any, Literal, NamedTuple
from typing import Protocol as TypingProtocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from opsroom.settings import MqttUrl, Settings

log = logging.getLogger(__name__)
Protocol = Literal["5", "3.1.1"]


def _configure(client: mqtt.Client, url: MqttUrl, settings: Settings) -> None:
    if url.username is not None:
        password = url.password.get_secret_value() if url.password else None
        client.username_pw_set(url.username, password)
    if url.tls:
        client.tls_set(
            ca_certs=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )


def negotiate_protocol(settings: Settings, timeout: float = 5.0) -> Protocol:
    """The protocol to use: the configured one, or for 'auto' v5 if the broker accepts it."""
    if settings.mqtt_protocol != "auto":
        return settings.mqtt_protocol
    url = settings.mqtt
    result: dict[str, Any] = {}
    done = threading.Event()

    def on_connect(c: mqtt.Client, u: object, f: object, rc: Any, p: object) -> None:
        result["rc"] = rc
        done.set()

    def on_disconnect(c: mqtt.Client, u: object, f: object, rc: Any, p: object) -> None:
        result.setdefault("rc", rc)
        done.set()

    probe = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    _configure(probe, url, settings)
    probe.on_connect = on_connect
    probe.on_disconnect = on_disconnect
    try:
        probe.connect(url.host, url.port, keepalive=10)
        probe.loop_start()
        done.wait(timeout)
    except OSError as exc:
        raise ConnectionError(f"cannot reach MQTT broker at {url}: {exc}") from exc
    finally:
        # disconnect first: it wakes the network loop, which loop_stop() would otherwise
        # wait out (a full second of select timeout on every service start)
        probe.disconnect()
        probe.loop_stop()
    rc = result.get("rc")
    if rc is not None and not rc.is_failure:
        return "5"
    if rc is not None and getattr(rc, "value", None) in (134, 135):
        raise ConnectionError(f"MQTT broker at {url} refused the credentials: {rc}")
    log.info("broker at %s does not accept MQTT v5 (%s); using 3.1.1", url, rc)
    return "3.1.1"


def make_client(
    settings: Settings,
    client_id: str,
    protocol: Protocol,
    *,
    persistent: bool = False,
    manual_ack: bool = False,
) -> mqtt.Client:
    """A configured, unconnected client; `persistent` keeps the session across reconnects."""
    if protocol == "5":
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=manual_ack,
        )
    else:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=not persistent,
            manual_ack=manual_ack,
        )
    _configure(client, settings.mqtt, settings)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(1000)
    return client


def connect_async(
    client: mqtt.Client, settings: Settings, protocol: Protocol, *, persistent: bool = False
) -> None:
    """Start connecting in the background; paho's loop reconnects with back-off if it drops."""
    url = settings.mqtt
    if protocol == "5":
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.ReceiveMaximum = 65535
        if persistent:
            props.SessionExpiryInterval = settings.session_expiry_s
        client.connect_async(
            url.host, url.port, keepalive=30, clean_start=not persistent, properties=props
        )
    else:
        client.connect_async(url.host, url.port, keepalive=30)
    client.loop_start()


class _Counters(TypingProtocol):
    reconnects: int


class Session:
    """A service's one persistent session on the broker, as its paho callbacks see it.

    `generation` counts the connections made (it tags each received message, see
    `ack_current`); `session_present` says whether the broker still had the session at the
    latest connection (`subscribe` can read it); `connected` is set while the client is
    connected and subscribed. Each connection, the first and every reconnect, calls
    `subscribe(client)`; reconnects are counted in `counters.reconnects`. Attach with
    `session.attach(client)`.
    """

    def __init__(
        self,
        settings: Settings,
        subscribe: Callable[[mqtt.Client], object],
        counters: _Counters,
        stopping: threading.Event,
    ) -> None:
        self.settings = settings
        self.generation = 0
        self.session_present = False
        self.connected = threading.Event()
        self._subscribe = subscribe
        self._counters = counters
        self._stopping = stopping

    def attach(self, client: mqtt.Client) -> None:
        """Take the client's connect and disconnect callbacks."""
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        # only paho's network thread changes it; readers take whole ints
        self.generation += 1
        if self.generation > 1:
            self._counters.reconnects += 1
        self.session_present = bool(flags.session_present)
        log.info(
            "connected to %s (session %s)",
            self.settings.mqtt,
            "resumed" if self.session_present else "new",
        )
        self._subscribe(client)
        self.connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("lost the broker (%s); reconnecting with back-off", reason)


class Received(NamedTuple):
    """A message taken off the broker, tagged with the connection (generation) it came on."""

    generation: int
    mid: int
    qos: int
    topic: str
    payload: bytes
    retain: bool = False


def ack_current(client: mqtt.Client | None, msgs: Iterable[Received], generation: int) -> None:
    """Manually acknowledge the messages that came on the current connection.

    A message from before a reconnect is redelivered by the broker (persistent session);
    acking its old packet id could acknowledge a different message of the new connection.
    """
    if client is None:
        return
    for m in msgs:
        if m.qos > 0 and m.generation == generation:
            client.ack(m.mid, m.qos)
