"""The topic scheme: templates, parsing of reading topics, and which ids may be topic segments."""

from __future__ import annotations

import pytest
from paho.mqtt.client import topic_matches_sub

from opsroom import topics
from opsroom.families import FAMILIES

EVENT = "riverside-2026"


@pytest.mark.parametrize("kind", sorted(FAMILIES))
@pytest.mark.parametrize("sensor_id", ["main-arena", "gen_1", "bus.7", "unit:3", "A" * 128])
def test_reading_topic_round_trips(kind: str, sensor_id: str) -> None:
    topic = topics.reading(EVENT, kind, sensor_id)
    assert topic == f"opsroom/{EVENT}/{kind}/{sensor_id}"
    assert topics.parse_reading(topic) == topics.ReadingTopic(EVENT, kind, sensor_id)
    assert topic_matches_sub(topics.readings_filter(EVENT), topic)


def test_family_kinds_are_valid_and_not_reserved() -> None:
    for kind in FAMILIES:
        assert topics.valid_id(kind), kind
        assert kind not in topics.RESERVED, kind


def test_templates() -> None:
    assert topics.status(EVENT, "gen-1") == f"opsroom/{EVENT}/status/gen-1"
    assert topics.alert(EVENT, "a-1") == f"opsroom/{EVENT}/alerts/a-1"
    assert topics.ack(EVENT, "a-1") == f"opsroom/{EVENT}/ack/a-1"
    assert topics.deadletter(EVENT, "power", "gen-1") == f"opsroom/{EVENT}/deadletter/power/gen-1"
    assert topics.system(EVENT, "ingest") == f"opsroom/{EVENT}/_sys/ingest"


@pytest.mark.parametrize(
    ("topic", "subscription"),
    [
        (topics.alert(EVENT, "a-1"), topics.alerts_filter(EVENT)),
        (topics.ack(EVENT, "a-1"), topics.acks_filter(EVENT)),
        (topics.deadletter(EVENT, "power", "gen-1"), topics.deadletter_filter(EVENT)),
    ],
)
def test_filters_match_their_topics(topic: str, subscription: str) -> None:
    assert topic_matches_sub(subscription, topic)


def test_filters_do_not_cross_events_or_families() -> None:
    assert not topic_matches_sub(
        topics.readings_filter(EVENT), topics.reading("other", "crowd", "x")
    )
    assert not topic_matches_sub(
        topics.readings_filter(EVENT), topics.deadletter(EVENT, "crowd", "x")
    )
    assert not topic_matches_sub(topics.alerts_filter(EVENT), topics.ack(EVENT, "a-1"))


@pytest.mark.parametrize(
    "topic",
    [
        topics.status(EVENT, "gen-1"),
        topics.alert(EVENT, "a-1"),
        topics.ack(EVENT, "a-1"),
        topics.system(EVENT, "ingest"),
        *(f"opsroom/{EVENT}/{kind}/x" for kind in sorted(topics.RESERVED)),
    ],
)
def test_reserved_kinds_are_not_readings(topic: str) -> None:
    # the readings filter is opsroom/<event>/+/+, which also matches these: the parser must say no
    assert topic_matches_sub(topics.readings_filter(EVENT), topic)
    assert topics.parse_reading(topic) is None


def test_reserved_kinds() -> None:
    assert {
        "status",
        "alerts",
        "ack",
        "deadletter",
        "_sys",
        "drill",
        "log",
        "silences",
        "escalations",
    } == topics.RESERVED


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "opsroom",
        f"opsroom/{EVENT}",
        f"opsroom/{EVENT}/crowd",
        f"opsroom/{EVENT}/crowd/zone-1/extra",
        topics.deadletter(EVENT, "crowd", "zone-1"),
        f"/opsroom/{EVENT}/crowd/zone-1",
        f"opsroom/{EVENT}/crowd/zone-1/",
        f"other/{EVENT}/crowd/zone-1",
        f"Opsroom/{EVENT}/crowd/zone-1",
    ],
)
def test_not_a_reading_topic(topic: str) -> None:
    assert topics.parse_reading(topic) is None


@pytest.mark.parametrize(
    "segment", ["a", "main-arena", "gen_1", "bus.7", "unit:3", "2026", "A" * 128, "riverside-2026"]
)
def test_valid_id_accepts(segment: str) -> None:
    assert topics.valid_id(segment)


@pytest.mark.parametrize(
    "segment",
    [
        "",
        "a/b",
        "/a",
        "a+",
        "+",
        "#",
        "a#b",
        "$SYS",
        "$share",
        "A" * 129,
        "main arena",
        "-leading-dash",
        "_sys",
        ".hidden",
        "café",
        "a\x00b",
    ],
    ids=repr,
)
def test_valid_id_rejects(segment: str) -> None:
    assert not topics.valid_id(segment)


def test_valid_id_rejects_trailing_newline() -> None:
    assert not topics.valid_id("zone-1\n")
