"""Ready means ready: a service is connected only once Mosquitto confirmed its subscriptions,
and it says so in one retained status document on `_sys/<service>`."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ingest import IngestService
from opsroom import topics
from opsroom.broker import Mosquitto
from opsroom.health import check
from opsroom.rulesfile.model import load_rules
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from opsroom.venue import load_venue
from rules.engine import Engine
from rules.service import RulesService
from tests.conftest import publisher, wait_status, wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DYNSEC = Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")


def settings_for(port: int, event: str, tmp_path: Path, **kw: Any) -> Settings:
    return Settings.load(
        {
            "event": event,
            "mqtt_url": f"mqtt://127.0.0.1:{port}",
            "data_dir": tmp_path / "data",
            "spool_dir": tmp_path / "spool",
            "stats_interval_s": 0.2,
            "session_expiry_s": 60,
            **kw,
        },
        env={},
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "ready.db")
    yield s
    s.close()


def test_ingest_and_rules_publish_a_retained_ready_status(
    broker: Mosquitto, event: str, tmp_path: Path, store: SqliteStore
) -> None:
    settings = settings_for(broker.port, event, tmp_path)
    ingest = IngestService(settings, store)
    venue = load_venue(ROOT / "examples" / "venue.yaml")
    engine = Engine(load_rules(ROOT / "examples" / "rules.yaml", venue), venue, None)
    rules = RulesService(settings, store, engine, venue)
    ingest.start()
    rules.start()
    try:
        assert ingest.wait_connected(10) and rules.wait_connected(10)
        readings = topics.readings_filter(event)
        for service, client_id in (("ingest", ingest.client_id), ("rules", rules.client_id)):
            # a new subscriber finds it retained: no need to have watched the start
            status = wait_status(broker.port, event, service)
            assert status["state"] == "ready"
            assert status["client_id"] == client_id
            assert status["subscriptions"] == [readings]
            assert "ts" in status and "reconnects" in status  # one document, counters in it
        # ready means subscribed: a reading sent at once is taken, with no settling pause
        pub = publisher(broker.port)
        pub.publish(
            topics.reading(event, "coldchain", "fridge-1"),
            json.dumps({"ts": ingest.clock().isoformat(), "temp_c": 4.0}),
            qos=1,
        ).wait_for_publish(5)
        pub.loop_stop()
        assert wait_until(lambda: store.count() == 1, timeout=10)
        assert wait_until(lambda: rules.counters.readings == 1, timeout=10)
        # the periodic counters keep saying ready
        counted = wait_status(
            broker.port, event, "ingest", lambda s: s.get("stored") == 1, live=True
        )
        assert counted["state"] == "ready"
        assert check(settings, "ingest", max_age=timedelta(seconds=30))[0]
    finally:
        ingest.stop()
        rules.stop()
    stopped = wait_status(broker.port, event, "ingest", lambda s: s.get("state") == "stopped")
    assert stopped["stored"] == 1
    assert wait_status(broker.port, event, "rules", lambda s: s.get("state") == "stopped")


def dynsec_broker(directory: Path) -> Mosquitto:
    """A Mosquitto whose dynamic-security plugin lets anonymous clients subscribe only to
    `_sys` status (and the tests' markers): every other subscription gets a refusing SUBACK."""
    if not DYNSEC.exists():
        pytest.skip(f"{DYNSEC} is not installed (Debian package mosquitto)")
    directory.mkdir(parents=True)
    config = directory / "dynsec.json"
    allow = ["opsroom/+/_sys/#", "test-marker/#"]
    config.write_text(
        json.dumps(
            {
                "defaultACLAccess": {
                    "publishClientSend": True,
                    "publishClientReceive": True,
                    "subscribe": False,
                    "unsubscribe": True,
                },
                "clients": [],
                "groups": [{"groupname": "anon", "roles": [{"rolename": "watch"}]}],
                "roles": [
                    {
                        "rolename": "watch",
                        "acls": [
                            {"acltype": "subscribePattern", "topic": t, "allow": True}
                            for t in allow
                        ],
                    }
                ],
                "anonymousGroup": "anon",
            }
        )
    )
    return Mosquitto(
        directory / "m",
        extra_config=[f"plugin {DYNSEC}", f"plugin_opt_config_file {config}"],
    ).start()


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_refused_subscription_is_never_ready(
    event: str,
    tmp_path: Path,
    store: SqliteStore,
    protocol: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = dynsec_broker(tmp_path / "dynsec")
    settings = settings_for(broker.port, event, tmp_path, mqtt_protocol=protocol)
    ingest = IngestService(settings, store)
    ingest.start()
    try:
        # the positive signal first: the broker's SUBACK came, and it said no (a counters
        # status sent before the SUBACK says "connecting": not yet an answer)
        status = wait_status(
            broker.port, event, "ingest", lambda s: s.get("state") not in ("ready", "connecting")
        )
        assert status["state"] == "refused", status
        assert not ingest.session.connected.is_set()
        assert not ingest.wait_connected(0.5)
        refused = [
            r.getMessage()
            for r in caplog.records
            if r.levelno == logging.ERROR and "refused the subscription" in r.getMessage()
        ]
        assert refused and topics.readings_filter(event) in refused[0], refused
        healthy, why = check(settings, "ingest", max_age=timedelta(seconds=30))
        assert not healthy and why == "ingest is refused"
    finally:
        ingest.stop()
        broker.stop()
