"""`opsroom query` as the README shows it, run as a user runs it: a subprocess, a real pipe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsroom.alerts import AlertEvent
from opsroom.store.sqlite import SqliteStore
from opsroom.telemetry import Reading

ROOT = Path(__file__).resolve().parents[1]
SENSORS = 3000  # ~0.5 MB of --json output: far more than a pipe's 64 KiB buffer


def _alert(alert_id: str, ts: datetime) -> AlertEvent:
    return AlertEvent.model_validate(
        {
            "alert_id": alert_id,
            "rule": "cold",
            "subject": alert_id.split(".")[1],
            "kind": "coldchain",
            "severity": "critical",
            "state": "firing",
            "ts": ts,
            "message": "above 8 °C",
        }
    )


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store with alerts 1 h and 3 h old, a crowd sensor every minute, many crowd sensors."""
    db = tmp_path_factory.mktemp("query") / "opsroom.db"
    now = datetime.now(UTC)
    store = SqliteStore(db)
    store.write_alert_events(
        [_alert("cold.fridge-1.1", now - timedelta(hours=3)), _alert("cold.fridge-2.1", now)]
    )
    minutes = [
        Reading("crowd", "zone-a", now - timedelta(minutes=m), {"occupancy": m}) for m in range(30)
    ]
    many = [
        Reading("crowd", f"zone-{i:04d}", now - timedelta(minutes=40), {"occupancy": i})
        for i in range(SENSORS)
    ]
    store.write_readings(minutes + many)
    store.close()
    return f"sqlite:///{db}"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OPSROOM_")}


def opsroom(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `opsroom ARGS` as a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "opsroom", *args],
        check=False,
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=60,
    )


def test_since_takes_a_negative_duration_as_its_value(store_url: str) -> None:
    """README: `opsroom query alerts --since -2h`."""
    done = opsroom("query", "alerts", "--store", store_url, "--since", "-2h", "--json")
    assert done.returncode == 0, done.stderr
    assert [r["alert_id"] for r in json.loads(done.stdout)] == ["cold.fridge-2.1"]


def test_start_and_end_take_negative_durations_as_their_values(store_url: str) -> None:
    """README: `opsroom query series ... --start -10m` (and --end -DURATION)."""
    args = ["query", "series", "--store", store_url, "--kind", "crowd", "--field", "occupancy"]
    done = opsroom(*args, "--sensor", "zone-a", "--start", "-10m", "--end", "-2.5m", "--json")
    assert done.returncode == 0, done.stderr
    # readings 0..29 minutes old: the window (10 min ago, 2.5 min ago) holds 3..9
    assert sorted(r["occupancy"] for r in json.loads(done.stdout)) == list(range(3, 10))


def test_a_bad_negative_duration_is_still_a_clear_error(store_url: str) -> None:
    done = opsroom("query", "alerts", "--store", store_url, "--since", "-2x")
    assert done.returncode == 2
    assert "invalid duration '2x'" in done.stderr


@pytest.mark.parametrize("fmt", [[], ["--json"]], ids=["table", "json"])
def test_a_reader_that_stops_early_ends_the_query_quietly(store_url: str, fmt: list[str]) -> None:
    """`opsroom query latest --kind crowd | head -1`: no error, like other Unix tools."""
    command = ["query", "latest", "--store", store_url, "--kind", "crowd", *fmt]
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsroom", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()  # what `head -1` prints
    proc.stdout.close()  # `head` exits: the rest of the output meets a closed pipe
    code = proc.wait(60)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert stderr == ""
    assert code in (0, 128 + signal.SIGPIPE, -signal.SIGPIPE)
