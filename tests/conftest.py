"""Shared fixtures: a real Mosquitto on a free port, MQTT helpers, and a log watchdog."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from opsroom import topics
from opsroom.broker import Mosquitto


def pytest_report_header() -> list[str]:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    return [f"mosquitto: {found or 'NOT INSTALLED (integration tests will fail)'}"]


@pytest.fixture(autouse=True)
def fail_on_swallowed_exception(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test when any component logged an exception with a traceback (a swallowed bug)."""
    caplog.set_level(logging.INFO)
    yield
    bad = [r for r in caplog.get_records("call") if r.exc_info and r.levelno >= logging.ERROR]
    if bad:
        pytest.fail("exception logged during the test: " + bad[0].getMessage())


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """One real Mosquitto for the session (tests isolate themselves by event id)."""
    with Mosquitto(tmp_path_factory.mktemp("mosquitto")) as b:
        yield b


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A Mosquitto of this test's own, which the test may stop and restart."""
    b = Mosquitto(tmp_path / "mosquitto").start()
    yield b
    b.stop()


@pytest.fixture
def event() -> str:
    """A unique event id, so each test has its own topic tree."""
    return f"t{uuid.uuid4().hex[:10]}"


class Collector:
    """Subscribes to a filter and keeps every message (topic, payload, retain).

    `sync()` is the positive signal for "nothing more arrives": it sends a marker to itself
    through the broker, so once it returns, everything the broker had routed to this
    collector before (retained messages included) has arrived.
    """

    def __init__(self, port: int, topic_filter: str) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._marker_topic = f"test-marker/{uuid.uuid4().hex}"
        self._markers: set[bytes] = set()
        self._marked = threading.Condition(self._lock)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.on_connect = lambda c, *a: c.subscribe(
            [(topic_filter, 1), (self._marker_topic, 1)]
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._ready.wait(10), "collector could not subscribe"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            if msg.topic == self._marker_topic:
                self._markers.add(bytes(msg.payload))
            else:
                self.messages.append(msg)
            self._marked.notify_all()  # wait_for counts messages

    def sync(self, timeout: float = 10.0) -> list[mqtt.MQTTMessage]:
        """Wait for a marker round trip; return every message that came before it."""
        marker = uuid.uuid4().hex.encode()
        self.client.publish(self._marker_topic, marker, qos=1)
        with self._lock:
            assert self._marked.wait_for(lambda: marker in self._markers, timeout), (
                f"collector marker did not come back within {timeout} s"
            )
            return list(self.messages)

    def wait_for(self, n: int, timeout: float = 15.0) -> list[mqtt.MQTTMessage]:
        """Every message once there are `n` (woken by each arrival), or all there are by then."""
        with self._lock:
            self._marked.wait_for(lambda: len(self.messages) >= n, timeout)
            return list(self.messages)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def collect(broker: Mosquitto) -> Iterator[Callable[..., Collector]]:
    """Start collectors on the session broker: collect(filter) -> Collector."""
    made: list[Collector] = []

    def start(topic_filter: str, port: int | None = None) -> Collector:
        c = Collector(port or broker.port, topic_filter)
        made.append(c)
        return c

    yield start
    for c in made:
        c.close()


def publisher(port: int, client_id: str | None = None) -> mqtt.Client:
    """A connected QoS-1 publisher with a persistent session (re-sends after a reconnect)."""
    if client_id is None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    else:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(0.2, 2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, step: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def dashboard_healthy(url: str) -> bool:
    """Does the Streamlit server at `url` answer its health check?"""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as resp:
            return bool(resp.read() == b"ok")
    except OSError:
        return False


def wait_dashboard(url: str, proc: subprocess.Popen[Any], log: Path, timeout: float = 30.0) -> None:
    """Until the dashboard process at `url` is healthy; fails with its log if it exits first
    or is not healthy within `timeout`."""

    def up() -> bool:
        assert proc.poll() is None, log.read_text()
        return dashboard_healthy(url)

    assert wait_until(up, timeout, step=0.2), f"dashboard not healthy in {timeout:.0f} s"


def wait_status(
    port: int,
    event: str,
    service: str,
    predicate: Callable[[dict[str, Any]], bool] = lambda s: s.get("state") == "ready",
    timeout: float = 20.0,
    *,
    live: bool = False,
) -> dict[str, Any]:
    """The first status document on `_sys/<service>` that satisfies `predicate` (ready, by
    default); `live` skips the retained one a new subscriber gets (it may be a past run's).
    Fails naming what it waited for."""
    topic = topics.system(event, service)
    c = Collector(port, topic)
    try:
        found: list[dict[str, Any]] = []

        def match() -> bool:
            for m in list(c.messages):
                doc = json.loads(m.payload) if m.payload else {}
                if (not live or not m.retain) and predicate(doc):
                    found.append(doc)
                    return True
            return False

        if not wait_until(match, timeout):
            last = c.messages[-1].payload if c.messages else None
            pytest.fail(f"no status on {topic} as waited for within {timeout} s (last: {last!r})")
        return found[0]
    finally:
        c.close()
