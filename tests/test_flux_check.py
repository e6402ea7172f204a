"""Every Flux query the InfluxDB adapter can emit passes InfluxData's own parser and semantic
checker (tools/flux-check, node + the flux-lsp WebAssembly build from npm): no InfluxDB 2 server
can run here, so this is what checks the Flux text in CI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsroom.alerts import AlertEvent
from opsroom.controllog import LogEntry, new_entry
from opsroom.store.influx import RANGE_MAX, InfluxStore
from opsroom.telemetry import Reading

ROOT = Path(__file__).resolve().parents[1]
FLUX_CHECK = ROOT / "tools" / "flux-check" / "flux-check"
T0 = datetime(2026, 7, 4, 18, 0, 0, tzinfo=UTC)
# ids that need escaping in a Flux string literal: quotes, backslashes, interpolation, newlines
ODD_EVENTS = ["demo", 'fest "26" ${x}, day=1', "kühlraum ünd $", "a${b}c'd"]
ODD_IDS = ['gate "north"', "back\\slash", "${x}", "line\nbreak\ttab", "ünïcode,=", "}) or true //"]


class RecordingQueries:
    """A stand-in for influxdb-client's query API: keeps each Flux string, answers no rows."""

    def __init__(self) -> None:
        self.flux: list[str] = []

    def query(self, query: str, org: str | None = None, **_: Any) -> list[Any]:
        self.flux.append(query)
        return []


class DiscardingWrites:
    """A stand-in for the write API (the alert writes query first, then write)."""

    def write(self, **_: Any) -> None:
        pass

    def close(self) -> None:
        pass


def alert(alert_id: str, state: str = "firing") -> AlertEvent:
    return AlertEvent(
        alert_id=alert_id,
        rule="r",
        subject="s",
        kind="coldchain",
        severity="warning",
        state=state,  # type: ignore[arg-type]
        ts=T0,
    )


def log_entry() -> LogEntry:
    return new_entry(author="a", category="medical", text="t", kind="incident_open", event_ts=T0)


def emitted_queries(event: str, bucket: str = "opsroom") -> list[str]:
    """Every query of every store method and option, for a store of `event`."""
    store = InfluxStore("http://127.0.0.1:9", "token", "org", bucket, event=event)
    recorder = RecordingQueries()
    store._query_api = recorder  # type: ignore[assignment]
    store._write_api = DiscardingWrites()  # type: ignore[assignment]
    hour = (T0, T0 + timedelta(hours=1))
    try:
        for kind in ("crowd", "power", "coldchain", "shuttle", 'odd "kind" ${k}'):
            store.latest(kind)
        store.latest("coldchain", ["fridge-1"])
        store.latest("coldchain", ODD_IDS)
        store.series("coldchain", "temp_c", ["fridge-1"], *hour)  # raw
        store.series("coldchain", "temp_c", ODD_IDS, *hour)
        store.series("power", "voltage_v", ["gen-a", "gen-b"], *hour, every=timedelta(minutes=1))
        store.series("crowd", "occupancy", ["z"], *hour, every=timedelta(microseconds=1500))
        store.series("coldchain", "door_open", ["f"], *hour, every=timedelta(hours=1))  # boolean
        store.series("power", "power_kw", ["g"], datetime(1900, 1, 1, tzinfo=UTC), RANGE_MAX)
        fields = ["voltage_v", "frequency_hz", "power_kw"]
        store.series_many("power", fields, ["gen-a", "gen-b"], *hour)  # raw
        store.series_many("power", fields, ODD_IDS, *hour, every=timedelta(minutes=10))
        store.series_many("coldchain", ["temp_c", "door_open"], ["f"], *hour, timedelta(hours=1))
        store.count()
        store.count("coldchain")
        store.count('odd "kind"')
        store.alert_events()
        store.alert_events(start=T0)
        store.alert_events(end=T0)
        store.alert_events(start=T0, end=T0 + timedelta(days=1), alert_id="cold.fridge-1.1")
        for alert_id in ODD_IDS:
            store.alert_events(alert_id=alert_id)
        store.write_alert_events([alert("a1"), alert('a "2" ${x}', "resolved")])  # stored keys
        store.audit_entries()
        store.audit_entries(start=T0, end=T0 + timedelta(days=1))
        store.audit_entries(user="sam", action="ack")
        for user in ODD_IDS:
            store.audit_entries(user=user, action="login_failed")
        store.write_readings([Reading("coldchain", "f", T0, {"temp_c": 1.0})])  # no query
        store.log_entries()
        store.log_entries(start=T0, end=T0 + timedelta(days=1), category="medical", text="x")
        for some_id in ODD_IDS:
            store.log_entries(incident_id=some_id, category=some_id)
        store.write_log([log_entry()])  # stored ids
    finally:
        store.close()
    return recorder.flux


def all_queries() -> list[str]:
    out: list[str] = []
    for event in ODD_EVENTS:
        out += emitted_queries(event)
    out += emitted_queries("demo", bucket='ops "bucket" ${b}')
    return out


def test_the_stand_in_records_every_kind_of_query() -> None:
    """The list below is what the check runs: every method and option, every event filtered."""
    queries = emitted_queries('fest "26" ${x}, day=1')
    # 27 reads and writes, 3 series_many shapes, 3 audit queries, 9 control-log queries, one
    # per odd event id
    assert len(queries) == 27 + 3 + 3 + 9 + len(ODD_IDS)
    parts = (
        "|> last()",
        "aggregateWindow(",
        "toFloat()",
        "|> count()",
        '"alert_events"',
        '"audit"',
        '"control_log"',
        'r._field == "voltage_v" or r._field == "frequency_hz"',
    )
    for part in parts:
        assert any(part in q for q in queries), part
    assert any('r._field == "seq"' in q for q in queries)  # write_alert_events' stored keys
    assert any('"control_log"' in q and "r.log_id ==" in q for q in queries)  # write_log's
    assert all('r.event_id == "fest \\"26\\" \\${x}, day=1"' in q for q in queries)


def flux_check(tmp_path: Path, queries: list[str]) -> tuple[int, list[dict[str, Any]], str]:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        reason = f"flux-check needs {' and '.join(missing)} (CI installs nodejs and npm)"
        print(reason)
        pytest.skip(reason)
    path = tmp_path / "queries.json"
    path.write_text(json.dumps(queries))
    done = subprocess.run(
        [str(FLUX_CHECK), str(path)], capture_output=True, text=True, timeout=600, check=False
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, lines, done.stderr


@pytest.fixture(scope="module")
def node_ok() -> Iterator[None]:
    node = shutil.which("node")
    if node is not None:
        version = subprocess.run(
            [node, "--version"], check=False, capture_output=True, text=True
        ).stdout
        major = re.match(r"v(\d+)", version)
        assert major is not None and int(major.group(1)) >= 18, (
            f"flux-check needs node >= 18: {version}"
        )
    yield


def test_every_flux_query_the_adapter_emits_passes_flux_check(
    tmp_path: Path, node_ok: None
) -> None:
    queries = all_queries()
    code, results, stderr = flux_check(tmp_path, queries)
    failing = [r["query"] for r in results if not r["ok"]]
    assert failing == [], "queries InfluxDB would refuse:\n\n" + "\n\n".join(failing)
    assert len(results) == len(queries), stderr
    assert code == 0, stderr


def test_flux_check_fails_a_broken_query(tmp_path: Path, node_ok: None) -> None:
    good = emitted_queries("demo")[0]
    broken = [
        good.replace("|> last()", "|> lastt()"),  # an unknown function
        good.replace("range(start: ", "range(start "),  # a syntax error
        good.replace('r.event_id == "demo"', 'r.event_id == "de"mo"'),  # an unescaped quote
    ]
    code, results, _ = flux_check(tmp_path, [good, *broken])
    assert code == 1
    assert [r["ok"] for r in results] == [True, False, False, False]
