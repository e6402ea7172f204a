"""Scoring malformed payloads by their dead letters: the tally, the report, and a real ingest."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from ingest import IngestService
from opsroom.broker import Mosquitto
from opsroom.settings import Settings
from opsroom.store.sqlite import SqliteStore
from opsroom.venue import Venue
from simulators.deadletters import OTHER, DeadLetterTally, reason_key, watch_for
from simulators.engine import Message, Simulation
from simulators.matching import match
from simulators.mqtt_sink import MqttSink
from simulators.report import html_page, markdown, read_log
from simulators.runner import Runner, anchor_for
from tests.simulators.conftest import small_drill
from tests.simulators.test_report import RECORDS

MALFORMED_ID = "04-malformed_payloads-gen-1"


def bad(payload: bytes, incident: str = "i1", topic: str = "opsroom/e/power/gen-1") -> Message:
    return Message(0.0, topic, payload, "malformed", "gen-1", incident=incident)


def letter(msg: Message, reason: str = "not valid JSON") -> bytes:
    return orjson.dumps(
        {
            "reason": reason,
            "topic": msg.topic,
            "received_at": "2026-07-04T08:00:00+00:00",
            "payload_b64": base64.b64encode(msg.payload).decode(),
        }
    )


def test_tally_attributes_by_topic_and_bytes() -> None:
    tally = DeadLetterTally(["i1", "i2"])
    a, b, twin = bad(b"{half"), bad(b"[1, 2, 3]"), bad(b"[1, 2, 3]")
    other = bad(b"[1, 2, 3]", incident="i2", topic="opsroom/e/crowd/gate-1")
    for n, m in enumerate([a, b, twin, other]):
        tally.sent(m, at=10.0 + n)
    assert tally.outstanding == 4
    assert tally.arrived(letter(b, "not an object"), at=11.5)
    assert tally.arrived(letter(a), at=10.25)
    assert tally.arrived(letter(twin, "not an object"), at=15.0)  # the second identical one
    assert not tally.arrived(letter(bad(b"never sent")), at=16.0)
    assert not tally.arrived(b"not json", at=16.0)
    assert tally.outstanding == 1 and tally.unattributed == 2
    first, second = tally.records()
    assert first == {
        "record": "deadletters",
        "incident": "i1",
        "sent": 3,
        "dead_lettered": 3,
        "first_delay_s": 0.5,
        "max_delay_s": 3.0,
        "reasons": {"not an object": 2, "not valid JSON": 1},
    }
    assert second["sent"] == 1 and second["dead_lettered"] == 0
    assert second["first_delay_s"] is None and second["reasons"] == {}


def test_reasons_are_grouped_and_bounded() -> None:
    ahead = "ts 2026-12-01T07:04:01.942000+00:00 is more than 0:05:00 ahead of now ({})"
    assert (
        reason_key(ahead.format("2026-11-28T07:05:01.1+00:00"))
        == reason_key(ahead.format("2026-11-28T07:05:02Z"))
        == "ts <ts> is more than 0:05:00 ahead of now (<ts>)"
    )
    assert reason_key("ts: epoch in ms? (got 1795849512345)") == "ts: epoch in ms? (got <n>)"
    long = reason_key("why " * 100)
    assert len(long) == 80 and long.endswith("…")
    tally = DeadLetterTally(["i1"])
    for n in range(15):
        m = bad(b"x%d" % n)
        tally.sent(m, at=0.0)
        tally.arrived(letter(m, f"reason {'x' * n}"), at=0.1)
    reasons = tally.records()[0]["reasons"]
    assert len(reasons) == 11 and reasons[OTHER] == 5


def deadletters(sent: int, got: int) -> dict[str, object]:
    return {
        "record": "deadletters",
        "incident": MALFORMED_ID,
        "sent": sent,
        "dead_lettered": got,
        "first_delay_s": 0.012 if got else None,
        "max_delay_s": 0.034 if got else None,
        "reasons": {"ts: more than 5 min in the future": got // 2, "not valid JSON": got - got // 2}
        if got
        else {},
    }


def report_for(tmp_path: Path, extra: list[dict[str, object]]) -> tuple[str, str]:
    path = tmp_path / "log.jsonl"
    records = RECORDS[:-1] + extra + RECORDS[-1:]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    log = read_log(path)
    result = match(log.incidents, [], window=(log.start, log.finish), deadletters=log.deadletters)
    grace = timedelta(minutes=10)
    return markdown(log, result, grace), html_page(log, result, grace)


def malformed_row(md: str) -> str:
    return next(line for line in md.splitlines() if "| malformed_payloads |" in line)


@pytest.mark.parametrize(
    ("extra", "verdict", "summary", "note"),
    [
        (
            [deadletters(12, 12)],
            "| handled |",
            "1 of 1 malformed-payload incidents handled",
            "12 sent, 12 dead-lettered (first after 0.01 s, at most 0.03 s); reasons: "
            "ts: more than 5 min in the future (6); not valid JSON (6)",
        ),
        (
            [deadletters(12, 9)],
            "| NOT HANDLED: 3 of 12 not dead-lettered |",
            "0 of 1 malformed-payload incidents handled",
            "12 sent, 9 dead-lettered",
        ),
        (
            [deadletters(12, 0)],
            "| NOT HANDLED: 12 of 12 not dead-lettered |",
            "0 of 1 malformed-payload incidents handled",
            "| 12 sent, 0 dead-lettered |",
        ),
        # a log written before the drill watched dead letters
        ([], "| no dead-letter record |", "0 of 1 malformed-payload incidents handled", "| — |"),
    ],
)
def test_report_scores_malformed_payloads(
    tmp_path: Path, extra: list[dict[str, object]], verdict: str, summary: str, note: str
) -> None:
    md, page = report_for(tmp_path, extra)
    row = malformed_row(md)
    assert verdict in row and note in row, row
    assert f"**0 of 3 incidents detected**, **{summary}**" in md  # alerting counts unchanged
    assert summary in page
    assert verdict.strip("| ") in page


def test_a_bad_deadletters_record_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n" + '{"record": "deadletters", "sent": 1}\n')
    with pytest.raises(ValueError, match="line 2: not a deadletters record"):
        read_log(path)


# -- against a real Mosquitto, with and without a real ingest ----------------------------------

DRILL = """
incidents:
  - {type: malformed_payloads, at: 1m, target: gen-family, duration: 4m, per_minute: 12}
  - {type: overload, at: 2m, target: gen-campsite, duration: 2m}
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "ingest.db")
    yield s
    s.close()


def play(broker: Mosquitto, event: str, venue: Venue, tmp_path: Path, wait_s: float) -> Path:
    """Play the drill at 300x through Mosquitto with the dead-letter watch; the log's path."""
    drill = small_drill(venue, DRILL, duration="6m")
    settings = Settings(event=event, mqtt_url=broker.url, mqtt_protocol="5")
    start = time.time()
    sim = Simulation(venue, drill, event, anchor_for(start, 360, 300), random.Random(7))
    path = tmp_path / "incidents.jsonl"
    watch = watch_for(settings, "5", drill)
    assert watch is not None and watch.subscribed
    sink = MqttSink(settings, "5", f"sim-{event}")
    try:
        with path.open("w") as log:
            state = Runner(
                sim, sink, 300, start, sleep=sink.pump, log=log, watch=watch, watch_wait_s=wait_s
            ).run()
    finally:
        sink.close()
        watch.close()
    assert state.completed and state.malformed > 0
    return path


def scored(path: Path) -> tuple[dict[str, object], str]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    (dl,) = [r for r in records if r["record"] == "deadletters"]
    log = read_log(path)
    result = match(log.incidents, [], window=(log.start, log.finish), deadletters=log.deadletters)
    return dl, malformed_row(markdown(log, result, timedelta(minutes=10)))


@pytest.mark.integration
def test_ingest_dead_letters_every_malformed_payload(
    broker: Mosquitto, event: str, venue: Venue, store: SqliteStore, tmp_path: Path
) -> None:
    settings = Settings.load(
        {"event": event, "mqtt_url": broker.url, "data_dir": tmp_path, "spool_dir": tmp_path},
        env={},
    )
    ingest = IngestService(settings, store, venue)
    ingest.start()
    try:
        assert ingest.wait_connected(10)
        path = play(broker, event, venue, tmp_path, wait_s=5.0)
    finally:
        ingest.stop()
    dl, row = scored(path)
    assert dl["incident"] == "01-malformed_payloads-gen-family"
    assert dl["sent"] == dl["dead_lettered"] == 48
    assert isinstance(dl["max_delay_s"], float) and 0 <= dl["max_delay_s"] < 5
    assert sum(dl["reasons"].values()) == 48  # type: ignore[attr-defined]
    assert len(dl["reasons"]) == 7  # type: ignore[arg-type]  # one per kind of breakage
    assert "| handled |" in row and "48 sent, 48 dead-lettered" in row


@pytest.mark.integration
def test_without_ingest_nothing_is_dead_lettered(
    broker: Mosquitto, event: str, venue: Venue, tmp_path: Path
) -> None:
    began = time.monotonic()
    path = play(broker, event, venue, tmp_path, wait_s=1.0)
    assert time.monotonic() - began < 10  # the wait is bounded
    dl, row = scored(path)
    assert dl["sent"] == 48 and dl["dead_lettered"] == 0
    assert "| NOT HANDLED: 48 of 48 not dead-lettered |" in row


def test_tally_attributes_a_letter_that_carries_only_the_start_of_the_payload() -> None:
    """Ingest cuts an oversized payload in its dead letter; its SHA-256 still matches it."""
    tally = DeadLetterTally(["i1"])
    big = bad(b'{"pad": "' + b"x" * 50_000 + b'"')
    tally.sent(big, at=1.0)
    capped = orjson.dumps(
        {
            "reason": "payload is 50010 bytes, over the 16384 limit",
            "topic": big.topic,
            "payload_b64": base64.b64encode(big.payload[:16_384]).decode(),
            "payload_bytes": len(big.payload),
            "payload_sha256": hashlib.sha256(big.payload).hexdigest(),
            "payload_truncated": True,
        }
    )
    assert tally.arrived(capped, at=1.5)
    assert tally.outstanding == 0 and tally.unattributed == 0
