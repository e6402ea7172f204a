"""MQTT clients on paho-mqtt 2.x: MQTT v5 where the broker has it, 3.1.1 where it does not."""

from __future__ import annotations

import logging
import ssl
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, NamedTuple
from typing import Protocol as TypingProtocol

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from opsroom import topics
from opsroom.clock import Clock, utcnow
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


@contextmanager
def short_session(settings: Settings, role: str, timeout: float = 5.0) -> Iterator[mqtt.Client]:
    """A client connected for one task (an acknowledgement, log entries, a silence), with the
    settings' credentials and protocol, its id `opsroom-<role>-<random>`; disconnected after.
    ConnectionError names the broker when it cannot be reached or refuses the connection."""
    protocol = negotiate_protocol(settings, timeout)
    client = make_client(settings, f"opsroom-{role}-{uuid.uuid4().hex[:8]}", protocol)
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
        if not connected.wait(timeout) or getattr(result["rc"], "is_failure", True):
            raise ConnectionError(f"MQTT broker at {url} did not accept the connection")
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def publish_confirmed(
    settings: Settings,
    role: str,
    messages: Sequence[tuple[str, bytes, bool]],
    what: str,
    timeout: float = 5.0,
) -> None:
    """Publish (topic, payload, retain) messages at QoS 1 from a short session and wait for
    the broker's PUBACKs; ConnectionError ("did not confirm <what>") when one does not come."""
    with short_session(settings, role, timeout) as client:
        sent = [client.publish(topic, body, qos=1, retain=keep) for topic, body, keep in messages]
        for info in sent:
            info.wait_for_publish(timeout)
        if not all(info.is_published() for info in sent):
            raise ConnectionError(f"MQTT broker at {settings.mqtt} did not confirm {what}")


class _Counters(TypingProtocol):
    reconnects: int

    def snapshot(self) -> dict[str, Any]: ...


class Session:
    """A service's one persistent session on the broker, as its paho callbacks see it.

    `generation` counts the connections made (it tags each received message, see
    `ack_current`); `session_present` says whether the broker still had the session at the
    latest connection (`subscribe` can read it). Each connection, the first and every
    reconnect, calls `subscribe(client)`,
    which subscribes through `session.subscribe(...)`; reconnects are counted in
    `counters.reconnects`. `connected` is set only once the broker has confirmed every one of
    those subscriptions (SUBACK with a granted QoS), and cleared on disconnect: a refused
    subscription is logged as an error and the session never becomes ready on that connection.

    With a `service` name the session keeps one retained status document on
    `_sys/<service>`: `state` is "ready" once connected and subscribed, "connecting" while
    the link is down, "refused" when the broker refused a subscription, "stopped" after a
    clean stop and "offline" (the last will) if the process vanished; the service's counters
    ride in the same document (`publish_status`).
    Attach with `session.attach(client)`.
    """

    def __init__(
        self,
        settings: Settings,
        subscribe: Callable[[mqtt.Client], object],
        counters: _Counters,
        stopping: threading.Event,
        *,
        service: str | None = None,
        client_id: str = "",
        clock: Clock = utcnow,
        on_ready: Callable[[mqtt.Client], None] | None = None,
    ) -> None:
        self.settings = settings
        self._on_ready = on_ready
        self.generation = 0
        self.session_present = False
        self.connected = threading.Event()
        self.state = "connecting"
        self.client_id = client_id
        self.status_topic = topics.system(settings.event, service) if service else None
        self._subscribe = subscribe
        self._counters = counters
        self._stopping = stopping
        self._clock = clock
        # SUBSCRIBE packets of this connection the broker has not confirmed: mid -> filter.
        # Filled in on_connect and emptied in on_subscribe, both on paho's network thread,
        # which reads the SUBACKs only after on_connect has returned.
        self._pending: dict[int, str] = {}
        self._refused = False
        self.subscriptions: list[str] = []
        self._last_body: dict[str, Any] = {}  # the service's last counters, for the ready doc
        self._last_status: mqtt.MQTTMessageInfo | None = None
        self._gone = threading.Event()  # set by on_disconnect

    def attach(self, client: mqtt.Client) -> None:
        """Take the client's connect, disconnect and subscribe callbacks (and set its will)."""
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        if self.status_topic is not None:
            will = orjson.dumps({"state": "offline", "client_id": self.client_id})
            client.will_set(self.status_topic, will, qos=1, retain=True)

    def subscribe(
        self, client: mqtt.Client, topic_filter: str, qos: int = 1, *, no_local: bool = False
    ) -> None:
        """Subscribe and wait for the broker's SUBACK before calling the session ready.

        `no_local` (MQTT v5 only) keeps the client's own publications from coming back.
        """
        if client.protocol == mqtt.MQTTv5:
            result, mid = client.subscribe(
                topic_filter, options=SubscribeOptions(qos=qos, noLocal=no_local)
            )
        else:
            result, mid = client.subscribe(topic_filter, qos=qos)
        self.subscriptions.append(topic_filter)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            self._refused = True
            log.error(
                "could not send the subscription to %s: %s",
                topic_filter,
                mqtt.error_string(result),
            )
            return
        self._pending[mid] = topic_filter

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
        self._pending.clear()
        self._refused = False
        self.subscriptions = []
        self._subscribe(client)
        if not self._pending and not self._refused:
            self._ready(client)  # nothing to subscribe to: connected is ready

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[Any], props: Any
    ) -> None:
        topic_filter = self._pending.pop(mid, None)
        if topic_filter is None:
            return  # a subscription of an earlier connection, or not made through the session
        refused = [r for r in reasons if r.is_failure]
        if refused:
            self._refused = True
            log.error(
                "broker refused the subscription to %s (%s): not ready",
                topic_filter,
                ", ".join(str(r) for r in refused),
            )
            self.publish_status(client, state="refused")
            return
        if not self._pending and not self._refused:
            self._ready(client)

    def _ready(self, client: mqtt.Client) -> None:
        self.state = "ready"
        log.info("subscribed to %s: ready", ", ".join(self.subscriptions) or "nothing")
        self.publish_status(client)
        self.connected.set()
        if self._on_ready is not None:
            self._on_ready(client)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.connected.clear()
        self._gone.set()
        self._pending.clear()
        if self.state == "ready":
            self.state = "connecting"
        if not self._stopping.is_set():
            log.warning("lost the broker (%s); reconnecting with back-off", reason)

    def publish_status(
        self,
        client: mqtt.Client,
        counters: dict[str, Any] | None = None,
        *,
        state: str | None = None,
    ) -> mqtt.MQTTMessageInfo | None:
        """Publish the retained status document: state, ts, client id, subscriptions, counters.

        `counters` is the service's document (without it: the counters object's snapshot over
        what the service published last); `state` sets the session's state first (a service
        passes "stopped" on a clean stop).
        """
        if self.status_topic is None:
            return None
        if counters is None:  # the service's extras from its last publish, fresh counters
            counters = {**self._last_body, **self._counters.snapshot()}
        self._last_body = counters
        if state is not None:
            self.state = state
        body = orjson.dumps(
            {
                **counters,
                "state": self.state,
                "ts": self._clock().isoformat(),
                "client_id": self.client_id,
                "subscriptions": self.subscriptions,
            }
        )
        self._last_status = client.publish(self.status_topic, body, qos=1, retain=True)
        return self._last_status

    def leave(self, client: mqtt.Client, timeout: float = 2.0) -> None:
        """Leave the broker cleanly: the last status confirmed, then a DISCONNECT it has seen.

        paho's `loop_stop()` right after `disconnect()` can end the network thread before
        the DISCONNECT (and a status published just before it) is written; the broker then
        sees a dropped link and publishes the last will ("offline") instead of "stopped".
        """
        status = self._last_status
        if client.is_connected():
            if status is not None and status.rc == mqtt.MQTT_ERR_SUCCESS:
                status.wait_for_publish(timeout)
            self._gone.clear()
            client.disconnect()
            self._gone.wait(timeout)
        else:
            client.disconnect()
        client.loop_stop()


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
