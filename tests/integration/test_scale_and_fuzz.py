"""Shared-subscription scale-out, and malformed input at volume, through the real ingest."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import IngestService
from opsroom import topics
from opsroom.broker import Mosquitto
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from tests.conftest import Collector, publisher, wait_until

pytestmark = pytest.mark.integration


def make_service(
    port: int, event: str, store: SqliteStore, spool: Path, **kw: object
) -> IngestService:
    s = Settings.load(
        {"event": event, "mqtt_url": f"mqtt://127.0.0.1:{port}", "spool_dir": spool}, env={}
    )
    service = IngestService(s, store, **kw)  # type: ignore[arg-type]
    service.start()
    assert service.wait_connected(10)
    return service


def test_two_ingest_processes_share_the_load(broker: Mosquitto, event: str, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "shared.db")
    a = make_service(
        broker.port, event, store, tmp_path / "sa", client_id=f"{event}-a", share_group="ingest"
    )
    b = make_service(
        broker.port, event, store, tmp_path / "sb", client_id=f"{event}-b", share_group="ingest"
    )
    pub = publisher(broker.port)
    total = 10_000
    start = datetime.now(UTC) - timedelta(minutes=30)
    for i in range(total):
        ts = (start + timedelta(milliseconds=i)).isoformat()
        pub.publish(
            topics.reading(event, "crowd", f"gate-{i % 20}"),
            json.dumps({"ts": ts, "in": i % 7, "out": i % 3}),
            qos=1,
        )
    try:
        assert wait_until(lambda: store.count() == total, timeout=60), store.count()
        # nothing doubled still to come: a last reading, published after all the others
        marker = json.dumps({"ts": datetime.now(UTC).isoformat(), "in": 1, "out": 0})
        pub.publish(topics.reading(event, "crowd", "marker"), marker, qos=1).wait_for_publish(5)
        assert wait_until(lambda: store.count() == total + 1, timeout=10), store.count()
        total += 1
    finally:
        a.stop()
        b.stop()
        pub.loop_stop()
    assert a.counters.received + b.counters.received == total  # nothing doubled
    assert min(a.counters.received, b.counters.received) > total * 0.3  # really split
    assert store.count() == total


# -- malformed input at volume ---------------------------------------------------------------

KINDS = ["crowd", "power", "coldchain", "shuttle"]
segment = st.text(
    # MQTT forbids control characters and non-characters in topics (Mosquitto disconnects)
    alphabet=st.characters(
        blacklist_characters="/+#\x00", blacklist_categories=("Cs", "Cc", "Co", "Cn")
    ),
    min_size=1,
    max_size=40,
).filter(lambda s: s not in topics.RESERVED)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
field_names = st.sampled_from(
    ["ts", "temp_c", "occupancy", "in", "out", "voltage_v", "lat", "lon", "speed_kmh", "drill", "x"]
)
payload = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=100).map(str.encode),
    st.dictionaries(field_names, json_value, max_size=6).map(
        lambda d: json.dumps(d, allow_nan=True).encode()
    ),
    json_value.map(lambda v: json.dumps(v, allow_nan=True).encode()),
)
odd_message = st.tuples(st.one_of(st.sampled_from(KINDS), segment), segment, payload)


class Fuzz:
    def __init__(self, broker: Mosquitto, event: str, tmp: Path) -> None:
        self.event = event
        self.store = SqliteStore(tmp / "fuzz.db")
        self.service = make_service(broker.port, event, self.store, tmp / "spool")
        self.dead = Collector(broker.port, topics.deadletter_filter(event))
        self.pub = publisher(broker.port)
        self.sent = 0
        self.good = 0
        self.start = datetime.now(UTC) - timedelta(minutes=10)

    def good_reading(self) -> None:
        ts = (self.start + timedelta(milliseconds=self.good)).isoformat()
        self.pub.publish(
            topics.reading(self.event, "coldchain", "fridge-ok"),
            json.dumps({"ts": ts, "temp_c": 4.0}),
            qos=1,
        )
        self.good += 1
        self.sent += 1


@pytest.fixture(scope="module")
def fuzz(broker: Mosquitto, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    f = Fuzz(broker, "fuzz" + str(int(time.time())), tmp_path_factory.mktemp("fuzz"))
    yield f
    f.service.stop()
    f.pub.loop_stop()
    f.dead.close()


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(batch=st.lists(odd_message, min_size=100, max_size=100))
def test_malformed_input_at_volume(fuzz: Fuzz, batch: list[tuple[str, str, bytes]]) -> None:
    """100 examples x 100 odd messages = 10,000, each with good readings interleaved."""
    for kind, sensor, body in batch:
        fuzz.pub.publish(f"opsroom/{fuzz.event}/{kind}/{sensor}", body, qos=1)
        fuzz.sent += 1
        fuzz.good_reading()
    service = fuzz.service
    assert wait_until(lambda: service.counters.received == fuzz.sent, timeout=90), (
        service.counters.received,
        fuzz.sent,
    )
    c = service.counters
    # every message accounted for: stored, dead-lettered, or an empty one (a retained clear)
    assert wait_until(lambda: c.stored + c.rejected + c.cleared == c.received, timeout=10)
    assert wait_until(lambda: len(fuzz.dead.messages) == c.rejected, timeout=10)
    # the good traffic went through untouched
    assert fuzz.store.count("coldchain") >= fuzz.good
    assert (
        len(fuzz.store.series("coldchain", "temp_c", ["fridge-ok"], fuzz.start, datetime.now(UTC)))
        == fuzz.good
    )


def test_fuzz_reached_ten_thousand(fuzz: Fuzz) -> None:
    """Runs after the property test in file order: the volume really was sent."""
    assert fuzz.sent >= 20_000  # 10,000 odd messages + as many good readings
    assert fuzz.service.counters.rejected > 5_000
    rows = sqlite3.connect(fuzz.store.path).execute("SELECT count(*) FROM readings").fetchone()
    assert rows[0] == fuzz.service.counters.stored
