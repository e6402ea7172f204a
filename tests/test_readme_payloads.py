"""The README's sample payloads: what a reader copies must not be dead-lettered unexplained."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from opsroom import topics
from opsroom.telemetry import Limits, PayloadError, parse_reading

README = Path(__file__).resolve().parents[1] / "README.md"
# a stand-in for mosquitto_pub that prints the topic and the payload as the shell passed them
FAKE_PUB = (
    'mosquitto_pub() { while [ $# -gt 0 ]; do case "$1" in '
    '-t) printf "%s\\n" "$2"; shift ;; -m) printf "%s" "$2"; shift ;; esac; shift; done; }; '
)


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Sensor payloads")
    return text[start : text.index("\n## ", start + 1)]


def _examples(section: str) -> list[tuple[str, bytes]]:
    rows = re.findall(r"^\| `(\w+)` \|.*\| `(\{.*\})` \|$", section, re.MULTILINE)
    assert len(rows) >= 4, "the payload table has an example per family"
    return [(kind, payload.encode()) for kind, payload in rows]


def _too_old(kind: str, payload: bytes, now: datetime) -> bool:
    try:
        parse_reading(kind, "sensor-1", payload, now, Limits())
    except PayloadError as exc:
        assert "older than" in exc.reason, exc.reason  # any other refusal is a README bug
        return True
    return False


def test_sample_payloads_that_ingest_refuses_as_too_old_say_so_and_show_ts_as_now() -> None:
    section = _section()
    now = datetime.now(UTC)
    old = [kind for kind, payload in _examples(section) if _too_old(kind, payload, now)]
    if not old:
        return
    # next to the table: why they are refused, and a command that sends `ts` as now
    assert "dead-lettered" in section and "OPSROOM_MAX_AGE_S" in section
    commands = [line.strip() for line in section.splitlines() if "mosquitto_pub " in line]
    assert commands, "the payload section shows a mosquitto_pub command with ts as now"
    for command in commands:
        out = subprocess.run(
            ["sh", "-c", FAKE_PUB + command], capture_output=True, text=True, check=True
        ).stdout
        topic, payload = out.split("\n", 1)
        parsed = topics.parse_reading(topic)
        assert parsed is not None, f"not a reading topic: {topic}"
        reading = parse_reading(
            parsed.kind, parsed.sensor_id, payload.encode(), datetime.now(UTC), Limits()
        )
        assert abs((reading.ts - now).total_seconds()) < 60
