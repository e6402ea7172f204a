"""InfluxDB adapter: line protocol and Flux text (pure), the adapter against a fake HTTP API,
and the line protocol against a real InfluxDB 1.x (`influxd`, skipped when not installed)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsroom.alerts import AlertEvent
from opsroom.audit import AuditEntry
from opsroom.store import BadDataError, Store, StoreError, reading_problem
from opsroom.store.influx import (
    RANGE_MAX,
    InfluxStore,
    alert_to_line,
    audit_to_line,
    epoch_us,
    flux_string,
    flux_time,
    from_epoch_us,
    reading_to_line,
)
from opsroom.telemetry import Reading
from tests.conftest import wait_until
from tests.fuzz_readings import readings

T0 = datetime(2026, 7, 4, 18, 0, 0, tzinfo=UTC)
T0_US = 1_783_188_000_000_000
TS = T0 + timedelta(microseconds=123_456)


def alert(alert_id: str = "a1", state: str = "firing", seconds: float = 0, **kw: Any) -> AlertEvent:
    return AlertEvent.model_validate(
        {
            "alert_id": alert_id,
            "rule": "fridge-warm",
            "subject": "fridge-1",
            "kind": "coldchain",
            "severity": "warning",
            "state": state,
            "ts": T0 + timedelta(seconds=seconds),
            "value": 6.2,
            "message": "fridge-1 above 5 °C for 15 min",
            **kw,
        }
    )


# ---------------------------------------------------------------- line protocol (pure)


def test_reading_line_ints_sorted_fields_and_microseconds() -> None:
    line = reading_to_line(Reading("crowd", "gate-1", TS, {"occupancy": 4210, "in": 12, "out": 0}))
    assert (
        line == f"crowd,event_id=demo,sensor_id=gate-1 drill=false,in=12i,occupancy=4210i,out=0i"
        f" {T0_US + 123_456}"
    )


def test_reading_line_escapes_tag_values_field_keys_and_measurement() -> None:
    line = reading_to_line(Reading("crowd", "gate north 1", T0, {"in": 1}))
    assert line.startswith(r"crowd,event_id=demo,sensor_id=gate\ north\ 1 ")
    line = reading_to_line(Reading("coldchain", "fridge,=1", T0, {"temp_c": 3.5}, drill=True))
    assert line == rf"coldchain,event_id=demo,sensor_id=fridge\,\=1 drill=true,temp_c=3.5 {T0_US}"
    # measurement: comma and space escaped, '=' is literal there; field keys like tag keys
    line = reading_to_line(Reading("odd kind,x=y", "s", T0, {"a b=c,d": 1.5}))
    assert line == rf"odd\ kind\,x=y,event_id=demo,sensor_id=s a\ b\=c\,d=1.5,drill=false {T0_US}"


def test_reading_line_carries_the_event_tag_escaped() -> None:
    line = reading_to_line(Reading("crowd", "g", T0, {"in": 1}), "fest 2026,day=1")
    assert line == rf"crowd,event_id=fest\ 2026\,day\=1,sensor_id=g drill=false,in=1i {T0_US}"
    with pytest.raises(ValueError, match="event"):
        reading_to_line(Reading("crowd", "g", T0, {"in": 1}), "a\\b")
    with pytest.raises(ValueError, match="event"):
        reading_to_line(Reading("crowd", "g", T0, {"in": 1}), "")


def test_reading_line_value_types() -> None:
    line = reading_to_line(
        Reading("probe", "p", T0, {"f": 2.0, "i": -7, "b": True, "z": False, "big": 1e20})
    )
    assert (
        line == "probe,event_id=demo,sensor_id=p b=true,big=1e+20,drill=false,f=2.0,i=-7i,z=false"
        f" {T0_US}"
    )
    small = reading_to_line(Reading("probe", "p", T0, {"x": -1.5e-7}))
    assert "x=-1.5e-07 " in small


def test_ints_for_a_float_field_of_a_known_family_are_written_as_floats() -> None:
    # temp_c is a float field of coldchain: an int must not make InfluxDB see an integer field
    line = reading_to_line(Reading("coldchain", "f", T0, {"temp_c": 4, "door_open": True}))
    assert "temp_c=4.0" in line and "door_open=true" in line
    # crowd counts stay integers, unknown kinds keep the Python type
    assert "occupancy=5i" in reading_to_line(Reading("crowd", "g", T0, {"occupancy": 5}))
    assert "n=4i" in reading_to_line(Reading("unknown", "u", T0, {"n": 4}))


@pytest.mark.parametrize(
    ("reading", "problem"),
    [
        (Reading("coldchain", "a\\b", T0, {"temp_c": 1.0}), "backslash"),
        (Reading("coldchain", "a\nb", T0, {"temp_c": 1.0}), "control character"),
        (Reading("coldchain", "", T0, {"temp_c": 1.0}), "empty"),
        (Reading("_internal", "s", T0, {"temp_c": 1.0}), "starts with"),
        (Reading("coldchain", "s", T0, {"temp_c": float("nan")}), "finite"),
        (Reading("coldchain", "s", T0, {"temp_c": float("inf")}), "finite"),
        (Reading("crowd", "s", T0, {"occupancy": 2**63}), "64-bit"),
        (Reading("coldchain", "s", T0, {"drill": True}), "reserved"),
        (Reading("coldchain", "s", T0, {"sensor_id": 1.0}), "reserved"),
        (Reading("coldchain", "s", T0, {"event_id": 1.0}), "reserved"),
        (Reading("coldchain", "s", T0, {"time": 1.0}), "reserved"),
        (Reading("coldchain", "s", T0, {"note": "text"}), "unsupported"),  # type: ignore[dict-item]
    ],
)
def test_reading_line_refuses_what_line_protocol_cannot_carry(
    reading: Reading, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        reading_to_line(reading)


def test_timestamps_are_exact_microseconds_in_utc() -> None:
    assert epoch_us(TS) == T0_US + 123_456
    # naive means UTC, other offsets are converted
    assert epoch_us(TS.replace(tzinfo=None)) == T0_US + 123_456
    plus_one = timezone(timedelta(hours=1))
    assert epoch_us(TS.astimezone(plus_one)) == T0_US + 123_456
    assert epoch_us(datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == -1
    line = reading_to_line(Reading("coldchain", "f", TS.astimezone(plus_one), {"temp_c": 1.0}))
    assert line.endswith(f" {T0_US + 123_456}")


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2199, 12, 31)))
def test_epoch_microseconds_round_trip(ts: datetime) -> None:
    aware = ts.replace(tzinfo=UTC)
    assert from_epoch_us(epoch_us(aware)) == aware


def test_alert_line_escapes_and_round_trips_the_json() -> None:
    event = alert(
        "a1",
        "acknowledged",
        actor="Sam, duty officer",
        note='said "done" \\ then left\nsecond line',
        message="fridge=1, door open",
    )
    line = alert_to_line(event, seq=7)
    assert line.startswith('alert_events,alert_id=a1,event_id=demo,state=acknowledged event="')
    assert line.endswith(f',seq=7i,severity="warning" {T0_US}')
    assert "\n" not in line
    raw = re.match(r'^\S+ event="((?:[^"\\]|\\.)*)"', line)
    assert raw is not None
    unescaped = raw.group(1).replace('\\"', '"').replace("\\\\", "\\")
    assert AlertEvent.model_validate_json(unescaped) == event


def test_alert_line_escapes_tags_and_omits_seq_when_not_given() -> None:
    line = alert_to_line(alert("fridge 1,x=y", "firing"), event_id="rehearsal 1")
    assert line.startswith(
        r"alert_events,alert_id=fridge\ 1\,x\=y,event_id=rehearsal\ 1,state=firing event="
    )
    assert "seq=" not in line


def test_audit_line_keys_the_entry_and_round_trips_the_json() -> None:
    entry = AuditEntry(
        ts=T0, user="Sam O, x=1", role="operator", action="ack", target="cold.f 1", detail='a "b"'
    )
    line = audit_to_line(entry, event_id="fest 26")
    assert line.startswith(
        r"audit,action=ack,event_id=fest\ 26,target=cold.f\ 1,user=Sam\ O\,\ x\=1 entry="
    )
    assert line.endswith(f" {T0_US}")
    raw = re.search(r' entry="((?:[^"\\]|\\.)*)" \d+$', line)
    assert raw is not None
    unescaped = raw.group(1).replace('\\"', '"').replace("\\\\", "\\")
    assert AuditEntry.model_validate_json(unescaped) == entry
    login = audit_to_line(AuditEntry(ts=T0, user="sam", action="login_ok"))
    assert login.startswith("audit,action=login_ok,event_id=demo,user=sam entry=")  # no target


# ---------------------------------------------------------------- Flux text (pure)


def test_flux_string_escapes() -> None:
    assert flux_string("plain") == '"plain"'
    assert flux_string('a"b') == r'"a\"b"'
    assert flux_string("a\\b") == r'"a\\b"'
    assert flux_string("cost ${x}") == r'"cost \${x}"'
    assert flux_string("a\\${x}") == r'"a\\\${x}"'
    assert flux_string("l1\nl2\t") == r'"l1\nl2\t"'


def test_flux_time_is_utc_microseconds_and_clamped() -> None:
    assert flux_time(TS) == "2026-07-04T18:00:00.123456Z"
    assert flux_time(TS.astimezone(timezone(timedelta(hours=-5)))) == "2026-07-04T18:00:00.123456Z"
    assert flux_time(TS.replace(tzinfo=None)) == "2026-07-04T18:00:00.123456Z"
    assert flux_time(datetime(1900, 1, 1, tzinfo=UTC)) == "1970-01-01T00:00:00.000000Z"
    assert flux_time(datetime(9999, 1, 1, tzinfo=UTC)) == flux_time(RANGE_MAX)


# ---------------------------------------------------------------- adapter against a fake API

# Annotated CSV as InfluxDB 2 answers /api/v2/query (the client asks for datatype/group/default).
Column = tuple[str, str]  # (name, datatype)
_GROUP = {"_start", "_stop", "_field", "_measurement", "sensor_id", "alert_id", "state"}


def flux_csv(*tables: tuple[list[Column], list[list[str]]]) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    for index, (columns, rows) in enumerate(tables):
        out.writerow(["#datatype", "string", "long", *(t for _, t in columns)])
        group = ["true" if name in _GROUP else "false" for name, _ in columns]
        out.writerow(["#group", "false", "false", *group])
        out.writerow(["#default", "_result", "", *([""] * len(columns))])
        out.writerow(["", "result", "table", *(name for name, _ in columns)])
        for row in rows:
            out.writerow(["", "", str(index), *row])
        buf.write("\r\n")
    return buf.getvalue()


def reading_table(value_type: str, rows: list[tuple[str, str, str, str, str]]) -> Any:
    """rows of (_time, _value, _field, _measurement, sensor_id)."""
    columns = [
        ("_start", "dateTime:RFC3339"),
        ("_stop", "dateTime:RFC3339"),
        ("_time", "dateTime:RFC3339"),
        ("_value", value_type),
        ("_field", "string"),
        ("_measurement", "string"),
        ("sensor_id", "string"),
    ]
    bounds = ["1970-01-01T00:00:00Z", "2200-01-01T00:00:00Z"]
    return columns, [[*bounds, *row] for row in rows]


@dataclass
class FakeInflux:
    """A stand-in for the InfluxDB 2 HTTP API: records requests, answers what it is told."""

    url: str
    writes: list[tuple[str, dict[str, list[str]], str]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    answer_query: Callable[[str], str] = lambda flux: ""
    status: int = 0  # when set, every request gets this status and an error body


@pytest.fixture
def fake() -> Iterator[FakeInflux]:
    state: dict[str, FakeInflux] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            api = state["api"]
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode()
            api.headers.append(dict(self.headers.items()))
            url = urllib.parse.urlsplit(self.path)
            if api.status:
                payload = json.dumps({"code": "unauthorized", "message": "unauthorized access"})
                self._reply(api.status, "application/json", payload)
            elif url.path == "/api/v2/write":
                api.writes.append((url.path, urllib.parse.parse_qs(url.query), body))
                self._reply(204, "text/plain", "")
            elif url.path == "/api/v2/query":
                flux = json.loads(body)["query"]
                api.queries.append(flux)
                self._reply(200, "text/csv; charset=utf-8", api.answer_query(flux))
            else:
                self._reply(404, "application/json", '{"message": "not found"}')

        def _reply(self, status: int, content_type: str, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["api"] = FakeInflux(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["api"]
    server.shutdown()
    server.server_close()


TOKEN = "s3cret-t0ken"


@pytest.fixture
def store(fake: FakeInflux) -> Iterator[InfluxStore]:
    s = InfluxStore(fake.url, TOKEN, "opsroom", "ops bucket", timeout=timedelta(seconds=5))
    yield s
    s.close()


def test_write_readings_posts_line_protocol_in_microseconds(
    fake: FakeInflux, store: InfluxStore
) -> None:
    readings = [
        Reading("coldchain", "fridge,=1", TS, {"temp_c": 3.5, "door_open": True}, drill=True),
        Reading("crowd", "gate north 1", T0, {"occupancy": 4210}),
    ]
    assert isinstance(store, Store)
    store.write_readings(readings)
    store.write_readings([])  # nothing to send
    [(_, params, body)] = fake.writes
    assert params == {"org": ["opsroom"], "bucket": ["ops bucket"], "precision": ["us"]}
    assert body.split("\n") == [reading_to_line(r) for r in readings]
    assert fake.headers[0]["Authorization"] == f"Token {TOKEN}"


def test_latest_keeps_only_the_fields_of_the_newest_point(
    fake: FakeInflux, store: InfluxStore
) -> None:
    t1, t2 = "2026-07-04T18:00:00.123456Z", "2026-07-04T18:01:00Z"
    # gate-1's newest reading (t2) has only occupancy; in/out are last at t1 (an older reading)
    fake.answer_query = lambda flux: flux_csv(
        reading_table(
            "long", [(t1, "12", "in", "crowd", "gate-1"), (t1, "3", "out", "crowd", "gate-1")]
        ),
        reading_table("long", [(t2, "40", "occupancy", "crowd", "gate-1")]),
        reading_table("long", [(t1, "7", "occupancy", "crowd", "gate 0,=")]),
        reading_table(
            "boolean",
            [(t2, "true", "drill", "crowd", "gate-1"), (t1, "false", "drill", "crowd", "gate 0,=")],
        ),
    )
    latest = store.latest("crowd", ["gate-1", "gate 0,="])
    assert [r.sensor_id for r in latest] == ["gate 0,=", "gate-1"]
    old, new = latest
    assert new == Reading("crowd", "gate-1", T0 + timedelta(minutes=1), {"occupancy": 40}, True)
    assert old == Reading("crowd", "gate 0,=", TS, {"occupancy": 7}, False)
    assert type(new.values["occupancy"]) is int
    [flux] = fake.queries
    assert 'r.event_id == "demo"' in flux
    assert 'r._measurement == "crowd"' in flux
    assert '(r.sensor_id == "gate 0,=" or r.sensor_id == "gate-1")' in flux
    assert "|> last()" in flux
    assert store.latest("crowd", []) == []  # no query for no sensors
    assert len(fake.queries) == 1


def test_series_raw_and_floored_to_epoch_buckets(fake: FakeInflux, store: InfluxStore) -> None:
    fake.answer_query = lambda flux: flux_csv(
        reading_table(
            "double",
            [
                # Flux stamps the first window with the range start, not the aligned bucket
                ("2026-07-04T18:00:30Z", "2.5", "temp_c", "coldchain", "b"),
                ("2026-07-04T18:01:00Z", "4.0", "temp_c", "coldchain", "b"),
            ],
        ),
        reading_table("double", [("2026-07-04T18:01:00Z", "1.0", "temp_c", "coldchain", "a")]),
    )
    points = store.series(
        "coldchain",
        "temp_c",
        ["b", "a"],
        T0 + timedelta(seconds=30),
        T0 + timedelta(minutes=2),
        every=timedelta(minutes=1),
    )
    assert [(p.sensor_id, p.ts, p.value) for p in points] == [
        ("a", T0 + timedelta(minutes=1), 1.0),
        ("b", T0, 2.5),
        ("b", T0 + timedelta(minutes=1), 4.0),
    ]
    flux = fake.queries[-1]
    assert "range(start: 2026-07-04T18:00:30.000000Z, stop: 2026-07-04T18:02:00.000000Z)" in flux
    assert 'r._field == "temp_c"' in flux
    assert (
        'aggregateWindow(every: 60000000us, fn: mean, createEmpty: false, timeSrc: "_start")'
        in flux
    )
    assert "toFloat" not in flux
    store.series(
        "coldchain", "door_open", ["a"], T0, T0 + timedelta(hours=1), every=timedelta(hours=1)
    )
    assert "toFloat()" in fake.queries[-1]  # mean() of a boolean field needs floats
    raw = store.series("coldchain", "temp_c", ["a"], T0, T0 + timedelta(hours=1))
    assert "aggregateWindow" not in fake.queries[-1]
    assert [(p.sensor_id, p.ts) for p in raw][:2] == [  # raw points keep their own times
        ("a", T0 + timedelta(minutes=1)),
        ("b", T0 + timedelta(seconds=30)),
    ]


def test_series_refuses_bad_field_names_and_empty_requests(
    fake: FakeInflux, store: InfluxStore
) -> None:
    with pytest.raises(StoreError, match="invalid field name"):
        store.series("power", 'voltage_v") or true //', ["g"], T0, T0 + timedelta(hours=1))
    with pytest.raises(StoreError, match="every"):
        store.series("power", "voltage_v", ["g"], T0, T0 + timedelta(hours=1), every=timedelta(0))
    assert store.series("power", "voltage_v", [], T0, T0 + timedelta(hours=1)) == []
    assert store.series("power", "voltage_v", ["g"], T0, T0) == []
    assert fake.queries == []


def test_count_sums_the_drill_marker(fake: FakeInflux, store: InfluxStore) -> None:
    fake.answer_query = lambda flux: flux_csv(([("_value", "long")], [["42"]]))
    assert store.count("coldchain") == 42
    assert 'r._measurement == "coldchain" and r._field == "drill"' in fake.queries[-1]
    assert store.count() == 42
    assert 'r._measurement != "alert_events" and r._field == "drill"' in fake.queries[-1]
    assert all('r.event_id == "demo"' in flux for flux in fake.queries)
    fake.answer_query = lambda flux: ""
    assert store.count() == 0  # an empty bucket answers no table at all


def alert_table(rows: list[tuple[str, str, str, str, str]]) -> Any:
    """rows of (_time, _value, _field, alert_id, state) with a string _value."""
    columns = [
        ("_time", "dateTime:RFC3339"),
        ("_value", "string"),
        ("_field", "string"),
        ("alert_id", "string"),
        ("state", "string"),
    ]
    return columns, [list(row) for row in rows]


def seq_table(rows: list[tuple[str, str, str, str, str]]) -> Any:
    columns, body = alert_table(rows)
    columns[1] = ("_value", "long")
    return columns, body


def test_alert_events_parse_and_order_by_ts_then_seq(fake: FakeInflux, store: InfluxStore) -> None:
    same = "2026-07-04T18:00:00Z"
    later = "2026-07-04T18:15:00Z"
    e1, e2, e3 = alert("b", "firing"), alert("a", "firing"), alert("a", "resolved", 900)
    fake.answer_query = lambda flux: flux_csv(
        alert_table(
            [
                (later, e3.model_dump_json(), "event", "a", "resolved"),
                (same, e2.model_dump_json(), "event", "a", "firing"),
                (same, e1.model_dump_json(), "event", "b", "firing"),
            ]
        ),
        seq_table(
            [
                (later, "5", "seq", "a", "resolved"),
                (same, "2", "seq", "a", "firing"),
                (same, "1", "seq", "b", "firing"),
            ]
        ),
    )
    assert store.alert_events() == [e1, e2, e3]
    assert store.alert_events(alert_id="a", start=T0, end=T0 + timedelta(hours=1))
    assert 'r.alert_id == "a"' in fake.queries[-1]
    assert all('r.event_id == "demo"' in flux for flux in fake.queries)
    assert store.alert_events(start=T0, end=T0) == []


def test_a_store_of_another_event_writes_and_asks_for_its_own(fake: FakeInflux) -> None:
    odd = 'fest "26" ${x}, day=1'
    store = InfluxStore(fake.url, TOKEN, "opsroom", "ops bucket", event=odd)
    try:
        store.write_readings([Reading("coldchain", "f", T0, {"temp_c": 1.0})])
        store.latest("coldchain")
        store.write_alert_events([alert("a1", "firing")])
    finally:
        store.close()
    assert fake.writes[0][2].startswith(
        r'coldchain,event_id=fest\ "26"\ ${x}\,\ day\=1,sensor_id=f '
    )
    assert r',event_id=fest\ "26"\ ${x}\,\ day\=1,state=firing ' in fake.writes[1][2]
    assert len(fake.queries) == 2  # latest, and the stored alert keys before the write
    for flux in fake.queries:
        assert r'r.event_id == "fest \"26\" \${x}, day=1"' in flux
    with pytest.raises(ValueError, match="event"):
        InfluxStore(fake.url, TOKEN, "opsroom", "b", event="bad\\id")


def test_write_alert_events_skips_stored_and_repeated_transitions(
    fake: FakeInflux, store: InfluxStore
) -> None:
    stored = alert("a1", "firing", 0)
    new = alert("a1", "resolved", 600)
    fake.answer_query = lambda flux: flux_csv(
        seq_table([("2026-07-04T18:00:00Z", "1", "seq", "a1", "firing")])
    )
    store.write_alert_events([stored, new, new])
    [(_, params, body)] = fake.writes
    assert params["precision"] == ["us"]
    [line] = body.split("\n")
    assert line.startswith("alert_events,alert_id=a1,event_id=demo,state=resolved ")
    assert (
        "range(start: 2026-07-04T18:00:00.000000Z, stop: 2026-07-04T18:10:00.000001Z)"
        in (fake.queries[0])
    )
    store.write_alert_events([stored])  # everything already there: nothing is written
    assert len(fake.writes) == 1


def test_http_errors_become_store_errors_without_the_token(
    fake: FakeInflux, store: InfluxStore
) -> None:
    fake.status = 401
    with pytest.raises(StoreError, match="HTTP 401: unauthorized access") as info:
        store.write_readings([Reading("coldchain", "f", T0, {"temp_c": 1.0})])
    assert TOKEN not in str(info.value)
    with pytest.raises(StoreError, match="401") as info:
        store.latest("coldchain")
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    ("status", "bad_data"), [(400, True), (422, True), (401, False), (503, False)]
)
def test_data_the_server_refuses_is_bad_data_not_an_outage(
    fake: FakeInflux, store: InfluxStore, status: int, bad_data: bool
) -> None:
    """Ingest waits out an outage but isolates and dead-letters what the server refuses."""
    fake.status = status
    with pytest.raises(StoreError) as info:
        store.write_readings([Reading("coldchain", "f", T0, {"temp_c": 1.0})])
    assert isinstance(info.value, BadDataError) is bad_data


def test_an_unwritable_reading_is_bad_data_naming_it(store: InfluxStore) -> None:
    with pytest.raises(BadDataError, match=r"'crowd' reading of 'zone-x'.*'occupancy'.*64-bit"):
        store.write_readings([Reading("crowd", "zone-x", T0, {"occupancy": 2**64})])
    with pytest.raises(BadDataError, match="no exact float value"):
        store.write_readings([Reading("coldchain", "f", T0, {"temp_c": 2**53 + 1})])
    with pytest.raises(BadDataError, match="1677-2262"):
        store.write_readings([Reading("coldchain", "f", T0.replace(year=2300), {"temp_c": 1.0})])


def test_flux_errors_become_store_errors(fake: FakeInflux, store: InfluxStore) -> None:
    fake.answer_query = lambda flux: (
        "#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n,error,reference\r\n"
        ',"type error: missing argument",897\r\n'
    )
    with pytest.raises(StoreError, match="Flux error: type error"):
        store.count()


def test_unreachable_server_is_a_store_error_without_the_token() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = InfluxStore(f"http://127.0.0.1:{port}", TOKEN, "opsroom", "b")
    try:
        with pytest.raises(StoreError, match="write readings failed") as info:
            store.write_readings([Reading("coldchain", "f", T0, {"temp_c": 1.0})])
        assert TOKEN not in str(info.value)
        with pytest.raises(StoreError, match="latest failed"):
            store.latest("coldchain")
    finally:
        store.close()
    with pytest.raises(StoreError, match="closed"):
        store.count()


def test_unwritable_reading_is_a_store_error_and_nothing_is_sent(
    fake: FakeInflux, store: InfluxStore
) -> None:
    with pytest.raises(StoreError, match="backslash"):
        store.write_readings(
            [
                Reading("coldchain", "ok", T0, {"temp_c": 1.0}),
                Reading("coldchain", "bad\\", T0, {"temp_c": 1.0}),
            ]
        )
    assert fake.writes == []


# ---------------------------------------------------------------- a real InfluxDB 1.x


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _configure(base: str, root: Path, http_port: int, rpc_port: int) -> str:
    """`influxd config` output with data under `root`, local ports and extras switched off."""
    settings = {
        ("", "reporting-enabled"): "false",
        ("", "bind-address"): f'"127.0.0.1:{rpc_port}"',
        ("meta", "dir"): f'"{root / "meta"}"',
        ("data", "dir"): f'"{root / "data"}"',
        ("data", "wal-dir"): f'"{root / "wal"}"',
        ("data", "query-log-enabled"): "false",
        ("monitor", "store-enabled"): "false",
        ("http", "bind-address"): f'"127.0.0.1:{http_port}"',
        ("http", "log-enabled"): "false",
        ("http", "pprof-enabled"): "false",
        ("http", "unix-socket-enabled"): "false",
        ("continuous_queries", "enabled"): "false",
        ("subscriber", "enabled"): "false",
        ("logging", "level"): '"warn"',
    }
    # listeners other than HTTP: all off
    for section in ("admin", "udp", "graphite", "collectd", "opentsdb", "ifql"):
        settings[(section, "enabled")] = "false"
    section, out = "", []
    for line in base.splitlines():
        header = re.match(r"^\s*\[\[?([\w-]+)\]\]?\s*$", line)
        if header:
            section = header.group(1)
        setting = re.match(r"^(\s*)([\w-]+)\s*=", line)
        if setting and (section, setting.group(2)) in settings:
            indent, key = setting.groups()
            out.append(f"{indent}{key} = {settings[section, key]}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def _pings(url: str) -> bool:
    """Does the InfluxDB server at `url` answer /ping (204)?"""
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=1) as response:
            return bool(response.status == 204)
    except OSError:
        return False


@pytest.fixture(scope="session")
def influxd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An InfluxDB 1.x server of its own (Debian's `influxd`), stopped afterwards."""
    binary = shutil.which("influxd")
    if binary is None:
        pytest.skip("influxd (InfluxDB 1.x) is not on PATH: install Debian's influxdb package")
    root = tmp_path_factory.mktemp("influxd")
    base = subprocess.run(
        [binary, "config"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    http_port = _free_port()
    config = root / "influxdb.conf"
    config.write_text(_configure(base, root, http_port, _free_port()))
    log = (root / "influxd.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
    proc = subprocess.Popen([binary, "-config", str(config)], stdout=log, stderr=log, env=env)
    url = f"http://127.0.0.1:{http_port}"
    try:
        up = wait_until(lambda: _pings(url) or proc.poll() is not None, timeout=30)
        if proc.poll() is not None:
            log.flush()
            pytest.fail(f"influxd exited ({proc.returncode}): {(root / 'influxd.log').read_text()}")
        if not up:
            pytest.fail("influxd did not answer /ping within 30 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def _post(url: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _influxql(url: str, db: str, q: str) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"db": db, "q": q, "epoch": "u"})
    with urllib.request.urlopen(f"{url}/query?{params}", timeout=10) as response:
        result = json.load(response)["results"][0]
    assert "error" not in result, result
    return list(result.get("series", []))


def _rows(url: str, db: str, measurement: str) -> dict[str, dict[str, Any]]:
    """SELECT * of a measurement, keyed by sensor_id."""
    name = measurement.replace("\\", "\\\\").replace('"', '\\"')
    [series] = _influxql(url, db, f'SELECT * FROM "{name}"')
    rows = [dict(zip(series["columns"], values, strict=True)) for values in series["values"]]
    return {row["sensor_id"]: row for row in rows}


def _field_types(url: str, db: str, measurement: str) -> dict[str, str]:
    name = measurement.replace("\\", "\\\\").replace('"', '\\"')
    [series] = _influxql(url, db, f'SHOW FIELD KEYS FROM "{name}"')
    return {key: kind for key, kind in series["values"]}


@pytest.mark.influxdb
def test_line_protocol_survives_a_real_influxdb(influxd_url: str) -> None:
    db = "opsroom_lp"
    status, body = _post(
        f"{influxd_url}/query",
        f"q=CREATE DATABASE {db}".encode(),
        "application/x-www-form-urlencoded",
    )
    assert status == 200, body
    before_epoch = datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    readings = [
        Reading("crowd", "gate north 1", TS, {"occupancy": 4210, "in": 12, "out": 0}),
        Reading("crowd", "gate=2,east", T0, {"in": 5}),
        Reading("coldchain", "fridge,=1", TS, {"temp_c": 3.5, "door_open": True}, drill=True),
        Reading("coldchain", "kühlraum 3", T0, {"temp_c": 4, "door_open": False}),  # int -> float
        Reading("coldchain", 'q"uote', before_epoch, {"temp_c": -19.25}),
        Reading("odd kind,x=y", "s 1", T0, {"a b=c,d": 1e20, "tiny": -1.5e-7, "n": -7}),
    ]
    events = [
        alert(
            "a1",
            "acknowledged",
            actor="Sam, duty officer",
            note='said "done" \\ left\nsecond line',
            message="fridge=1, door open, 6.2 °C",
        ),
        alert("a 2,x=y", "firing", 30, drill=True),
    ]
    lines = [reading_to_line(r) for r in readings] + [
        alert_to_line(e, seq=i) for i, e in enumerate(events, start=1)
    ]
    # the same reading and alert of another event (an id needing escapes) are points of their own
    other = "rehearsal 2,day=1"
    lines += [reading_to_line(readings[2], other), alert_to_line(events[1], 3, event_id=other)]
    payload = "\n".join(lines).encode()
    for _ in range(2):  # the second write of the same points must change nothing
        status, body = _post(f"{influxd_url}/write?db={db}&precision=u", payload, "text/plain")
        assert status == 204, body

    crowd = _rows(influxd_url, db, "crowd")
    assert set(crowd) == {"gate north 1", "gate=2,east"}
    gate = crowd["gate north 1"]
    assert gate["time"] == epoch_us(TS)  # microseconds kept
    assert (gate["occupancy"], gate["in"], gate["out"], gate["drill"]) == (4210, 12, 0, False)
    assert _field_types(influxd_url, db, "crowd") == {
        "drill": "boolean",
        "in": "integer",
        "occupancy": "integer",
        "out": "integer",
    }

    cold = _rows(influxd_url, db, "coldchain")
    assert set(cold) == {"fridge,=1", "kühlraum 3", 'q"uote'}
    assert cold["fridge,=1"]["temp_c"] == 3.5
    assert cold["fridge,=1"]["door_open"] is True and cold["fridge,=1"]["drill"] is True
    assert cold["kühlraum 3"]["temp_c"] == 4.0 and cold["kühlraum 3"]["door_open"] is False
    assert cold['q"uote']["time"] == -1  # before the epoch, to the microsecond
    assert _field_types(influxd_url, db, "coldchain") == {
        "door_open": "boolean",
        "drill": "boolean",
        "temp_c": "float",
    }

    odd = _rows(influxd_url, db, "odd kind,x=y")
    assert odd["s 1"]["a b=c,d"] == 1e20 and odd["s 1"]["tiny"] == -1.5e-7 and odd["s 1"]["n"] == -7
    assert _field_types(influxd_url, db, "odd kind,x=y")["n"] == "integer"

    # one point per (event, kind, sensor, ts) although everything was written twice
    [count] = _influxql(influxd_url, db, 'SELECT COUNT("drill") FROM "coldchain"')
    assert count["values"][0][1] == 4
    [count] = _influxql(
        influxd_url, db, 'SELECT COUNT("drill") FROM "coldchain" WHERE "event_id" = \'demo\''
    )
    assert count["values"][0][1] == 3
    [tags] = _influxql(influxd_url, db, 'SHOW TAG VALUES FROM "coldchain" WITH KEY = "event_id"')
    assert sorted(value for _, value in tags["values"]) == ["demo", other]

    [series] = _influxql(
        influxd_url, db, 'SELECT * FROM "alert_events" WHERE "event_id" = \'demo\''
    )
    rows = [dict(zip(series["columns"], values, strict=True)) for values in series["values"]]
    back = {(row["alert_id"], row["state"]): row for row in rows}
    assert set(back) == {("a1", "acknowledged"), ("a 2,x=y", "firing")}
    for i, event in enumerate(events, start=1):
        row = back[event.alert_id, event.state]
        assert row["time"] == epoch_us(event.ts)
        assert row["seq"] == i and row["severity"] == "warning"
        assert AlertEvent.model_validate_json(row["event"]) == event
    [series] = _influxql(
        influxd_url, db, f'SELECT * FROM "alert_events" WHERE "event_id" = \'{other}\''
    )
    [row] = [dict(zip(series["columns"], values, strict=True)) for values in series["values"]]
    assert (row["alert_id"], row["state"], row["seq"]) == ("a 2,x=y", "firing", 3)
    assert _field_types(influxd_url, db, "alert_events") == {
        "event": "string",
        "seq": "integer",
        "severity": "string",
    }


@pytest.fixture(scope="module")
def fuzz_db(influxd_url: str) -> str:
    status, body = _post(
        f"{influxd_url}/query",
        b"q=CREATE DATABASE opsroom_fuzz",
        "application/x-www-form-urlencoded",
    )
    assert status == 200, body
    return "opsroom_fuzz"


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field_at(url: str, db: str, reading: Reading, field: str) -> tuple[Any, Any]:
    """(value of `field`, sensor_id) of the point of `reading` (its ts is its own)."""
    q = (
        f"SELECT {_quoted(field)}, {_quoted('sensor_id')} FROM {_quoted(reading.kind)}"
        f" WHERE time = {epoch_us(reading.ts) * 1000}"
    )
    [series] = _influxql(url, db, q)
    [[_, value, sensor_id]] = series["values"]
    return value, sensor_id


@pytest.mark.influxdb
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(reading=readings())
def test_fuzzed_readings_reach_a_real_influxdb_faithfully_or_are_refused(
    influxd_url: str, fuzz_db: str, reading: Reading
) -> None:
    """The InfluxDB write path (`reading_to_line`, what `write_readings` sends) meets extreme
    ints and floats, long strings and odd Unicode: the line is refused with a ValueError that
    the adapter raises as BadDataError, or the real parser stores exactly the reading."""
    try:
        line = reading_to_line(reading)
    except ValueError as exc:  # says what is wrong, naming the part of the reading
        assert re.match(r"(measurement|sensor_id|field key|field|reading field|ts) ", str(exc))
        return
    assert reading_problem(reading) is None, reading  # what no store can keep never gets here
    status, body = _post(
        f"{influxd_url}/write?db={fuzz_db}&precision=u", line.encode(), "text/plain"
    )
    if status == 400 and b"field type conflict" in body:
        return  # a field written as another type before: the adapter raises BadDataError (400)
    assert status == 204, (line[:300], body)
    assert _field_at(influxd_url, fuzz_db, reading, "drill") == (reading.drill, reading.sensor_id)
    types = _field_types(influxd_url, fuzz_db, reading.kind)
    for name, value in reading.values.items():
        got, _ = _field_at(influxd_url, fuzz_db, reading, name)
        if isinstance(value, bool):
            assert (types[name], got) == ("boolean", value), name
        elif types[name] == "integer":
            assert type(value) is int and got == value, (name, got, value)
        else:  # InfluxDB's JSON prints 2.0 as 2 and 2.0**63 as 9223372036854776000: read it
            # back as a float (the shortest digits round-trip exactly), and compare exactly
            assert types[name] == "float" and float(got) == value, (name, got, value)
