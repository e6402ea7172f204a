"""The production Mosquitto ACL (deploy/mosquitto/acl.template, written for every registered
family as compose does) on a real Mosquitto."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from opsroom import topics
from opsroom.broker import Mosquitto
from opsroom.families import FAMILIES
from opsroom.rulesfile.model import load_rules
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from opsroom.topics import mosquitto_acl
from opsroom.venue import load_venue
from rules.engine import Engine
from rules.service import RulesService
from tests.conftest import wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
USERS = {
    "opsroom-ingest": "ingest-secret",
    "opsroom-dashboard": "dash-secret",
    "gen-a": "gen-a-secret",
    "gen-b": "gen-b-secret",
}


def production_acl(tmp_path: Path) -> Path:
    """The ACL `opsroom mosquitto-acl` writes from the shipped template."""
    template = (ROOT / "deploy" / "mosquitto" / "acl.template").read_text(encoding="utf-8")
    path = tmp_path / "acl"
    path.write_text(mosquitto_acl(template, FAMILIES), encoding="utf-8")
    return path


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
        tmp_path / "m", password_file=passwd, acl_file=production_acl(tmp_path)
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
    wait_until(lambda: bool(result), timeout=5, step=0.02)
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
        "opsroom/fest/log/medical/e1",  # a fake control log entry
        "opsroom/fest/silences/s-1",  # a silence that would mute the call-outs
        "opsroom/fest/escalations/a1",
    ]
    for topic in allowed + denied:
        device.publish(topic, b'{"ts": 1}', qos=1).wait_for_publish(5)
    dashboard, rc = connect(secured.port, "opsroom-dashboard", USERS["opsroom-dashboard"])
    dashboard.publish("opsroom/fest/log/medical/e2", b"{}", qos=1).wait_for_publish(5)
    dashboard.publish("opsroom/fest/silences/s-2", b"{}", qos=1).wait_for_publish(5)
    dashboard.publish("opsroom/fest/ack/a1", b'{"actor": "Sam"}', qos=1).wait_for_publish(5)
    # the device's messages all reached the broker before this one: once it is here, nothing
    # the broker let through is still on its way
    wait_until(lambda: "opsroom/fest/ack/a1" in got, timeout=5, step=0.02)
    for c in (reader, device, dashboard):
        c.loop_stop()
    assert sorted(got) == sorted(
        [
            *allowed,
            "opsroom/fest/log/medical/e2",
            "opsroom/fest/silences/s-2",
            "opsroom/fest/ack/a1",
        ]
    )
    assert got.count("opsroom/fest/ack/a1") == 1  # only the dashboard's


SERVICE_PASSWORDS = {
    "MQTT_INGEST_PASSWORD": "ingest-pass-0123",
    "MQTT_RULES_PASSWORD": "rules-pass-0123",
    "MQTT_DASHBOARD_PASSWORD": "dash-pass-0123",
}


def run_entrypoint(tmp_path: Path, devices: str = "gen-a:gen-a-pass-0123", **env: str) -> Path:
    """deploy/mosquitto/entrypoint.sh as compose runs it, up to its final `exec mosquitto`
    (a stand-in that exits: the test starts the real broker on the file it wrote)."""
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed (Debian package mosquitto)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "mosquitto").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "mosquitto").chmod(0o755)
    devices_txt = tmp_path / "devices.txt"
    devices_txt.write_text(f"# sensor:password\n{devices}\n")
    passwd = tmp_path / "passwd"
    subprocess.run(
        ["/bin/sh", str(ROOT / "deploy" / "mosquitto" / "entrypoint.sh")],
        env={
            "PATH": f"{bin_dir}:/usr/bin:/usr/sbin:/bin",
            "MOSQUITTO_PASSWD": str(passwd),
            "MOSQUITTO_DEVICES": str(devices_txt),
            **SERVICE_PASSWORDS,
            **env,
        },
        check=True,
        capture_output=True,
    )
    return passwd


def users_in(passwd: Path) -> set[str]:
    return {line.split(":", 1)[0] for line in passwd.read_text().splitlines() if line}


def test_the_simulator_user_exists_only_for_drills(tmp_path: Path) -> None:
    production = run_entrypoint(tmp_path)
    assert users_in(production) == {
        "opsroom-ingest",
        "opsroom-rules",
        "opsroom-dashboard",
        "gen-a",
    }
    drill = run_entrypoint(tmp_path, MQTT_SIMULATOR_PASSWORD="sim-pass-0123")
    assert "opsroom-simulator" in users_in(drill)
    assert "opsroom-operator-bot" not in users_in(drill)
    bot = run_entrypoint(tmp_path, MQTT_OPERATOR_BOT_PASSWORD="bot-pass-0123")
    assert "opsroom-operator-bot" in users_in(bot)


def test_the_simulator_plays_devices_but_cannot_forge_alerts_or_acks(tmp_path: Path) -> None:
    passwd = run_entrypoint(tmp_path, MQTT_SIMULATOR_PASSWORD="sim-pass-0123")
    broker = Mosquitto(
        tmp_path / "m", password_file=passwd, acl_file=production_acl(tmp_path)
    ).start()
    try:
        reader, rc = connect(
            broker.port, "opsroom-ingest", SERVICE_PASSWORDS["MQTT_INGEST_PASSWORD"]
        )
        assert rc and not rc[0].is_failure
        got: list[str] = []
        subscribed = threading.Event()
        reader.on_message = lambda c, u, m: got.append(m.topic)
        reader.on_subscribe = lambda c, u, mid, codes, p: subscribed.set()
        reader.subscribe("opsroom/#", qos=1)
        assert subscribed.wait(5)
        sim, rc = connect(broker.port, "opsroom-simulator", "sim-pass-0123")
        assert rc and not rc[0].is_failure
        allowed = [
            "opsroom/fest/crowd/main-arena",
            "opsroom/fest/power/gen-b",  # any device of the venue, not just its own name
            "opsroom/fest/coldchain/fridge-1",
            "opsroom/fest/shuttle/bus-1",
            "opsroom/fest/status/bus-1",
            "opsroom/fest/drill/incidents",
            "opsroom/fest/_sys/simulate",
        ]
        denied = [
            "opsroom/fest/alerts/power-load.gen-b",  # a forged alert
            "opsroom/fest/ack/power-load.gen-b",  # a forged acknowledgement
            "opsroom/fest/_sys/rules",  # a forged service status
            "opsroom/fest/deadletter/power/gen-b",
        ]
        for topic in denied + allowed:  # the last allowed one is the marker
            sim.publish(topic, b'{"ts": 1}', qos=1).wait_for_publish(5)
        assert wait_until(lambda: allowed[-1] in got, 10)
        assert got == allowed
        sim.loop_stop()
        reader.loop_stop()
    finally:
        broker.stop()


FRIDGE = "smokestack-fridge"  # a fridge of examples/venue.yaml


def test_a_device_cannot_acknowledge_but_the_dashboard_and_the_operator_bot_can(
    tmp_path: Path,
) -> None:
    """The rules service behind the production broker: a device's password publishing on
    ack/ is dropped by Mosquitto, so the alert is acknowledged by the dashboard's user only."""
    passwd = run_entrypoint(
        tmp_path, devices=f"{FRIDGE}:fridge-pass-0123", MQTT_OPERATOR_BOT_PASSWORD="bot-pass-0123"
    )
    broker = Mosquitto(
        tmp_path / "m", password_file=passwd, acl_file=production_acl(tmp_path)
    ).start()
    event = "fest"
    settings = Settings.load(
        {
            "event": event,
            "mqtt_url": f"mqtt://127.0.0.1:{broker.port}",
            "mqtt_username": "opsroom-rules",
            "mqtt_password": SERVICE_PASSWORDS["MQTT_RULES_PASSWORD"],
            "data_dir": tmp_path / "rules",
            "session_expiry_s": 120,
        },
        env={},
    )
    venue = load_venue(ROOT / "examples" / "venue.yaml")
    ruleset = load_rules(ROOT / "examples" / "rules.yaml", venue)
    store = SqliteStore(tmp_path / "opsroom.db", event=event)
    service = RulesService(settings, store, Engine(ruleset, venue, None), venue=venue)
    clients: list[mqtt.Client] = []

    def as_user(user: str, password: str) -> mqtt.Client:
        client, rc = connect(broker.port, user, password)
        clients.append(client)
        assert rc and not rc[0].is_failure, user
        return client

    def send(client: mqtt.Client, topic: str, body: dict[str, object]) -> None:
        client.publish(topic, json.dumps(body), qos=1).wait_for_publish(5)

    try:
        service.start()
        assert service.wait_connected(10)
        fridge = as_user(FRIDGE, "fridge-pass-0123")
        t0 = datetime.now(UTC) - timedelta(minutes=30)
        for minute in range(17):  # 9 °C for 16 minutes: the cold-holding alert fires
            ts = (t0 + timedelta(minutes=minute)).isoformat()
            send(fridge, topics.reading(event, "coldchain", FRIDGE), {"ts": ts, "temp_c": 9.0})
        assert wait_until(lambda: any(e.state == "firing" for e in store.alert_events()), 15)
        alert_id = next(e.alert_id for e in store.alert_events() if e.state == "firing")
        ack = topics.ack(event, alert_id)
        send(fridge, ack, {"actor": "duty-officer-2", "note": "forged by the fridge"})
        dashboard = as_user("opsroom-dashboard", SERVICE_PASSWORDS["MQTT_DASHBOARD_PASSWORD"])
        send(dashboard, ack, {"actor": "sam", "note": "on my way"})
        # the positive signal: the dashboard's acknowledgement is applied and stored; the
        # fridge's, published and confirmed before it, would have been taken first
        assert wait_until(
            lambda: store.alert_events(alert_id=alert_id)[-1].state == "acknowledged", 10
        )
        assert service.counters.acks == 1 and service.counters.bad_acks == 0
        bot = as_user("opsroom-operator-bot", "bot-pass-0123")
        send(bot, ack, {"actor": "ana via pager"})  # allowed on ack/: the service takes it
        assert wait_until(lambda: service.counters.acks == 2, 10)
        assert wait_until(lambda: store.audit_entries() != [], 10)
    finally:
        for client in clients:
            client.loop_stop()
        service.stop()
        store.close()
        broker.stop()
    acked = SqliteStore(tmp_path / "opsroom.db", event=event)
    try:
        [by] = [e for e in acked.alert_events(alert_id=alert_id) if e.state == "acknowledged"]
        assert (by.actor, by.note) == ("sam", "on my way")
        assert [(a.user, a.action, a.target) for a in acked.audit_entries()] == [
            ("sam", "ack", alert_id)
        ]
    finally:
        acked.close()
    assert service.counters.acks_ignored == 1  # the bot's came after: already acknowledged
