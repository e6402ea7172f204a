"""MQTT over TLS, and credentials kept out of logs, against a real Mosquitto."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest import IngestService
from opsroom import topics
from opsroom.broker import Mosquitto, free_port, wait_for_port
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from tests.conftest import wait_until

pytestmark = pytest.mark.integration


def make_certs(d: Path) -> None:
    """A throwaway CA and a server certificate for 127.0.0.1."""
    ssl = shutil.which("openssl")
    if ssl is None:
        pytest.skip("openssl is not installed")
    d.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([ssl, *args], cwd=d, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=opsroom-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    )
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
    )


def test_ingest_over_tls_with_credentials_never_logged(
    tmp_path: Path, event: str, caplog: pytest.LogCaptureFixture
) -> None:
    certs = tmp_path / "certs"
    make_certs(certs)
    tools = shutil.which("mosquitto_passwd")
    if tools is None:
        pytest.skip("mosquitto_passwd is not installed")
    passwd = tmp_path / "passwd"
    passwd.touch()
    secret = "s3cret-Pa55word"
    subprocess.run([tools, "-b", str(passwd), "opsroom-ingest", secret], check=True)
    tls_port = free_port()
    broker = Mosquitto(
        tmp_path / "m",
        password_file=passwd,
        extra_config=[
            f"listener {tls_port} 127.0.0.1",
            f"cafile {certs / 'ca.crt'}",
            f"certfile {certs / 'server.crt'}",
            f"keyfile {certs / 'server.key'}",
        ],
    ).start()
    wait_for_port("127.0.0.1", tls_port)
    store = SqliteStore(tmp_path / "tls.db")
    env = {"OPSROOM_MQTT_PASSWORD": secret}
    settings = Settings.load(
        {
            "event": event,
            "mqtt_url": f"mqtts://opsroom-ingest@127.0.0.1:{tls_port}",
            "mqtt_ca_file": certs / "ca.crt",
            "spool_dir": tmp_path / "spool",
            "stats_interval_s": 0.2,
        },
        env=env,
    )
    assert secret not in repr(settings) and secret not in str(settings.mqtt)
    service = IngestService(settings, store)
    service.start()
    try:
        assert service.wait_connected(10)
        # a device on the same TLS listener, verifying the broker with the same CA
        pub = (
            subprocess.run(
                [
                    "mosquitto_pub",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(tls_port),
                    "--cafile",
                    str(certs / "ca.crt"),
                    "-u",
                    "opsroom-ingest",
                    "-P",
                    secret,
                    "-q",
                    "1",
                    "-t",
                    topics.reading(event, "coldchain", "fridge-tls"),
                    "-m",
                    json.dumps({"ts": datetime.now(UTC).isoformat(), "temp_c": 3.9}),
                ],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
            if shutil.which("mosquitto_pub")
            else None
        )
        if pub is not None:
            assert pub.returncode == 0, pub.stderr
            assert wait_until(lambda: store.count() == 1, timeout=10)
    finally:
        service.stop()
        broker.stop()
    assert service.protocol == "5"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "mqtts://opsroom-ingest@127.0.0.1" in logged
    assert secret not in logged


def test_wrong_ca_is_refused(tmp_path: Path, event: str) -> None:
    certs = tmp_path / "certs"
    make_certs(certs)
    other = tmp_path / "other"
    make_certs(other)
    tls_port = free_port()
    broker = Mosquitto(
        tmp_path / "m",
        extra_config=[
            f"listener {tls_port} 127.0.0.1",
            f"certfile {certs / 'server.crt'}",
            f"keyfile {certs / 'server.key'}",
        ],
    ).start()
    try:
        settings = Settings.load(
            {
                "event": event,
                "mqtt_url": f"mqtts://127.0.0.1:{tls_port}",
                "mqtt_ca_file": other / "ca.crt",
            },
            env={},
        )
        from opsroom.mqtt import negotiate_protocol

        with pytest.raises(ConnectionError, match="cannot reach"):
            negotiate_protocol(settings, timeout=3)
    finally:
        broker.stop()
