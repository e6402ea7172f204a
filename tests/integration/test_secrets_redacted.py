"""A secret planted in every place one can go never comes out: CLI errors, logs, the
notification log, the rules state file (issue 11 item 7)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from opsroom import topics
from opsroom.broker import Mosquitto, free_port
from opsroom.redact import redact, redact_url
from tests.conftest import publisher, wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SECRET = "Planted-Secret-7f3a9c"
FREEZER = "scoops-freezer-1"  # a freezer of examples/venue.yaml


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSROOM_")}
    return {**env, **extra}


def opsroom(*args: str, env: dict[str, str]) -> str:
    """Run the CLI to the end; its stdout and stderr together."""
    done = subprocess.run(
        [sys.executable, "-m", "opsroom", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0, done
    return done.stdout + done.stderr


@pytest.mark.parametrize(
    ("url", "named"),
    [
        (f"tcp://ops:{SECRET}@broker.example:1883", "mqtts://"),  # wrong scheme
        (f"mqtt://ops:{SECRET}@broker.example:99999", "invalid port"),
        (f"mqtt://ops:{SECRET}@broker.example:18x3", "invalid port"),
        (f"mqtt://ops:{SECRET.replace('-', '%2D')}@broker.example:abc", "invalid port"),
    ],
)
def test_a_bad_mqtt_url_is_named_without_its_password(url: str, named: str) -> None:
    out = opsroom("health", "ingest", env=clean_env(OPSROOM_MQTT_URL=url))
    assert "OPSROOM_MQTT_URL" in out and named in out, out
    assert SECRET not in out and SECRET.replace("-", "%2D") not in out, out
    assert "ops:***@broker.example" in out  # the rest stays, to find the mistake


def test_a_short_dashboard_password_is_refused_without_echoing_it() -> None:
    out = opsroom("health", "ingest", env=clean_env(OPSROOM_DASHBOARD_PASSWORD="Short-pw1"))
    assert "OPSROOM_DASHBOARD_PASSWORD" in out and "at least 12 characters" in out, out
    assert "Short-pw1" not in out


def test_an_influxdb_failure_does_not_show_the_token() -> None:
    env = clean_env(
        OPSROOM_STORE="influxdb",
        OPSROOM_INFLUXDB_URL=f"http://127.0.0.1:{free_port()}",
        OPSROOM_INFLUXDB_TOKEN=SECRET,
    )
    out = opsroom("-v", "query", "alerts", env=env)
    assert "store error" in out and SECRET not in out, out


def test_failing_notifiers_leave_no_secret_in_any_log(
    broker: Mosquitto, event: str, tmp_path: Path
) -> None:
    """Webhooks and an apprise URL with a token in path and query fail against a closed port;
    one token has a stray newline, which makes http.client quote the URL in its error."""
    closed = free_port()
    notifiers = tmp_path / "notifiers.yaml"
    notifiers.write_text(
        "retry: {attempts: 2, backoff_s: 0.05, timeout_s: 2}\n"
        "notifiers:\n"
        f"  - name: hook\n    type: webhook\n"
        f"    url: http://127.0.0.1:{closed}/hook/${{HOOK_TOKEN}}?token=${{HOOK_TOKEN}}\n"
        "    severities: [info, warning, critical]\n"
        f"  - name: spaced\n    type: webhook\n"
        f"    url: http://127.0.0.1:{closed}/hook/${{SPACED_TOKEN}}/send\n"
        "    severities: [info, warning, critical]\n"
        f"  - name: chat\n    type: apprise\n"
        f"    url: json://127.0.0.1:{closed}/chat/${{CHAT_ID}}?token=${{CHAT_ID}}\n"
        "    severities: [info, warning, critical]\n"
    )
    data = tmp_path / "data"
    env = clean_env(
        OPSROOM_EVENT=event,
        OPSROOM_MQTT_URL=f"mqtt://127.0.0.1:{broker.port}",
        OPSROOM_STORE=f"sqlite:///{tmp_path / 'store.db'}",
        OPSROOM_DATA_DIR=str(data),
        OPSROOM_INFLUXDB_TOKEN=SECRET,
        HOOK_TOKEN=SECRET,
        SPACED_TOKEN=f"{SECRET}\n",  # a stray newline, from a token file
        CHAT_ID=SECRET,  # a name that does not say "secret": only the substitution knows
    )
    stderr = tmp_path / "rules.stderr"
    command = [sys.executable, "-m", "opsroom", "-v", "rules"]
    command += ["--rules", str(ROOT / "examples/rules.yaml")]
    command += ["--venue", str(ROOT / "examples/venue.yaml"), "--notifiers", str(notifiers)]
    with stderr.open("wb") as err:
        proc = subprocess.Popen(command, env=env, stdout=err, stderr=subprocess.STDOUT)
    log = data / f"notifications-{event}.jsonl"

    def gave_up() -> set[str]:
        if not log.exists():
            return set()
        lines = [orjson.loads(line) for line in log.read_bytes().splitlines() if line]
        return {a["notifier"] for a in lines if a["attempt"] == 2 and not a["ok"]}

    pub = publisher(broker.port)
    try:
        assert wait_until(lambda: b"connected to" in stderr.read_bytes(), 30), stderr.read_text()
        # retained, as a last will is: it reaches the service whenever it subscribes
        pub.publish(topics.status(event, FREEZER), b"offline", qos=1, retain=True)
        assert wait_until(lambda: gave_up() == {"hook", "spaced", "chat"}, 60), stderr.read_text()
    finally:
        pub.publish(topics.status(event, FREEZER), b"", qos=1, retain=True).wait_for_publish(5)
        pub.disconnect()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    files = [stderr, *sorted(p for p in data.rglob("*") if p.is_file())]
    assert log in files
    for path in files:
        assert SECRET not in path.read_text(errors="replace"), path
    text = log.read_text()
    assert "InvalidURL" in text and "Connection refused" in text  # the reasons are kept


def test_redact_masks_url_passwords_query_values_and_known_values() -> None:
    assert redact_url("mqtt://ops:pw@host:1883/x?token=abc&a=b") == (
        "mqtt://ops:***@host:1883/x?token=***&a=***"
    )
    assert redact("failed: 'tcp://u:p%40ss@h:9x' then") == "failed: 'tcp://u:***@h:9x' then"
    assert redact(f"at /hook/{SECRET}/x", [SECRET]) == "at /hook/***/x"
    assert redact("plain text, mqtt://broker:1883") == "plain text, mqtt://broker:1883"
