"""The production Mosquitto ACL (deploy/mosquitto/acl) on a real Mosquitto."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from opsroom.broker import Mosquitto

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
USERS = {
    "opsroom-ingest": "ingest-secret",
    "opsroom-dashboard": "dash-secret",
    "gen-a": "gen-a-secret",
    "gen-b": "gen-b-secret",
}


@pytest.fixture
def secured(tmp_path: Path):
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed (Debian package mosquitto)")
    passwd = tmp_path / "passwd"
    passwd.touch()
    for user, password in USERS.items():
        subprocess.run([tool, "-b", str(passwd), user, password], check=True)
    broker = Mosquitto(
        tmp_path / "m", password_file=passwd, acl_file=ROOT / "deploy" / "mosquitto" / "acl"
    ).start()
    yield broker
    broker.stop()


def connect(port: int, user: str | None, password: str | None) -> tuple[mqtt.Client, list]:
    result: list = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if user:
        client.username_pw_set(user, password)
    client.on_connect = lambda c, u, f, rc, p: result.append(rc)
    client.connect("127.0.0.1", port)
    client.loop_start()
    deadline = time.monotonic() + 5
    while not result and time.monotonic() < deadline:
        time.sleep(0.02)
    return client, result


def test_anonymous_and_wrong_password_are_refused(secured: Mosquitto) -> None:
    for user, password in [(None, None), ("gen-a", "wrong")]:
        client, result = connect(secured.port, user, password)
        client.loop_stop()
        assert result and result[0].is_failure, (user, result)


def test_devices_publish_only_to_their_own_topics(secured: Mosquitto) -> None:
    reader, rc = connect(secured.port, "opsroom-ingest", USERS["opsroom-ingest"])
    assert rc and not rc[0].is_failure
    got: list[str] = []
    reader.on_message = lambda c, u, m: got.append(m.topic)
    subscribed = threading.Event()
    reader.on_subscribe = lambda *a: subscribed.set()
    reader.subscribe("opsroom/#", qos=1)
    assert subscribed.wait(5)
    device, rc = connect(secured.port, "gen-a", USERS["gen-a"])
    assert rc and not rc[0].is_failure
    allowed = ["opsroom/fest/power/gen-a", "opsroom/fest/status/gen-a"]
    denied = [
        "opsroom/fest/power/gen-b",  # another device's readings
        "opsroom/fest/alerts/gen-a",  # a fake alert
        "opsroom/fest/ack/a1",  # a fake acknowledgement
        "opsroom/fest/deadletter/power/gen-a",
    ]
    for topic in allowed + denied:
        device.publish(topic, b'{"ts": 1}', qos=1).wait_for_publish(5)
    dashboard, rc = connect(secured.port, "opsroom-dashboard", USERS["opsroom-dashboard"])
    dashboard.publish("opsroom/fest/ack/a1", b'{"actor": "Sam"}', qos=1).wait_for_publish(5)
    # the device's messages all reached the broker before this one: once it is here, nothing
    # the broker let through is still on its way
    deadline = time.monotonic() + 5
    while "opsroom/fest/ack/a1" not in got and time.monotonic() < deadline:
        time.sleep(0.02)
    for c in (reader, device, dashboard):
        c.loop_stop()
    assert sorted(got) == sorted([*allowed, "opsroom/fest/ack/a1"])
    assert got.count("opsroom/fest/ack/a1") == 1  # only the dashboard's
