"""Telemetry schemas: every family's sample parses, and bad payloads are rejected with a reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from opsroom.families import FAMILIES, Family
from opsroom.telemetry import (
    MAX_REASON,
    Limits,
    PayloadError,
    Reading,
    parse_reading,
)
from opsroom.telemetry.base import Timestamp

# A pinned clock: one minute after the samples' timestamp (2026-07-04 18:30 UTC).
NOW = datetime(2026, 7, 4, 18, 31, tzinfo=UTC)
TS = "2026-07-04T18:30:00Z"
TS_UTC = datetime(2026, 7, 4, 18, 30, tzinfo=UTC)
LIMITS = Limits()
COMMON = {"ts", "drill"}


def body(**fields: Any) -> bytes:
    """A JSON payload with the standard ts and the given fields."""
    return json.dumps({"ts": TS, **fields}).encode()


def parse(kind: str, payload: bytes, now: datetime = NOW, limits: Limits = LIMITS) -> Reading:
    return parse_reading(kind, "sensor-1", payload, now, limits)


def rejected(kind: str, payload: bytes, now: datetime = NOW, limits: Limits = LIMITS) -> str:
    """The reason a payload is rejected (fails the test if it is accepted)."""
    with pytest.raises(PayloadError) as caught:
        parse(kind, payload, now, limits)
    return caught.value.reason


def test_the_design_families_are_registered() -> None:
    assert {"crowd", "power", "coldchain", "shuttle", "weather"} <= set(FAMILIES)
    for kind, family in FAMILIES.items():
        assert family.kind == kind
        assert family.description
        assert family.report_interval > timedelta(0)


# --- (a) every family's sample goes through its schema ---------------------------------------


@pytest.mark.parametrize("family", list(FAMILIES.values()), ids=lambda f: f.kind)
def test_sample_parses(family: Family) -> None:
    sample_ts = TypeAdapter(Timestamp).validate_python(family.sample["ts"])
    now = sample_ts + timedelta(seconds=30)

    reading = parse_reading(family.kind, "dev-7", json.dumps(family.sample).encode(), now, LIMITS)

    assert reading.kind == family.kind
    assert reading.sensor_id == "dev-7"
    assert reading.ts == sample_ts
    assert reading.ts.utcoffset() == timedelta(0)
    assert reading.drill is bool(family.sample.get("drill", False))
    expected = {k: v for k, v in family.sample.items() if k not in COMMON}
    assert reading.values == expected
    # the flat JSON form carries every value as well
    flat = reading.to_json()
    assert {k: flat[k] for k in expected} == expected
    assert flat["kind"] == family.kind
    assert datetime.fromisoformat(flat["ts"]) == sample_ts


# --- (b) invalid payloads, each with the words a technician would see --------------------------

NAN_HINT = "NaN and Infinity are not allowed"

INVALID = [
    pytest.param(
        "coldchain",
        b'{"ts": "2026-07-04T18:30:00Z", "temp_c": 4.1',
        "not valid JSON",
        id="malformed-json",
    ),
    pytest.param("coldchain", b"", "not valid JSON", id="empty-payload"),
    pytest.param("coldchain", b'{"ts": "\xff\xfe"}', "not valid JSON", id="not-utf8"),
    pytest.param(
        "coldchain",
        b'[{"ts": "2026-07-04T18:30:00Z", "temp_c": 4.1}]',
        "must be a JSON object, got list",
        id="json-array",
    ),
    pytest.param("crowd", b"42", "must be a JSON object, got int", id="json-number"),
    pytest.param(
        "coldchain",
        body(temp_c="4.1"),
        "temp_c: Input should be a valid number",
        id="string-for-number",
    ),
    pytest.param(
        "coldchain",
        body(temp_c=True),
        "temp_c: Input should be a valid number",
        id="bool-for-number",
    ),
    pytest.param(
        "coldchain",
        body(temp_c=None),
        "temp_c: Input should be a valid number",
        id="null-for-number",
    ),
    pytest.param(
        "crowd",
        body(occupancy=12.5),
        "occupancy: Input should be a valid integer",
        id="fraction-for-count",
    ),
    pytest.param(
        "crowd",
        body(occupancy=True),
        "occupancy: Input should be a valid integer",
        id="bool-for-count",
    ),
    pytest.param("coldchain", b'{"ts": "2026-07-04T18:30:00Z", "temp_c": NaN}', NAN_HINT, id="nan"),
    pytest.param(
        "coldchain",
        b'{"ts": "2026-07-04T18:30:00Z", "temp_c": -Infinity}',
        NAN_HINT,
        id="minus-infinity",
    ),
    pytest.param(
        "power", b'{"ts": "2026-07-04T18:30:00Z", "voltage_v": nan}', NAN_HINT, id="c-style-nan"
    ),
    pytest.param(
        "coldchain",
        b'{"ts": "2026-07-04T18:30:00Z", "temp_c": 1e999}',
        NAN_HINT,
        id="overflows-to-infinity",
    ),
    pytest.param(
        "coldchain",
        body(temp_c=4.0, door_open="no"),
        "door_open: Input should be a valid boolean",
        id="string-for-bool",
    ),
    pytest.param(
        "coldchain",
        body(temp_c=4.0, drill="true"),
        "drill: Input should be a valid boolean",
        id="string-for-drill",
    ),
    pytest.param(
        "coldchain",
        body(temp_c=400.0),
        "temp_c: Input should be less than or equal",
        id="temp-out-of-range",
    ),
    pytest.param(
        "shuttle",
        body(lat=91.0, lon=-1.0, speed_kmh=20.0),
        "lat: Input should be less than or equal to 90",
        id="latitude-91",
    ),
    pytest.param(
        "shuttle",
        body(lat=52.0, lon=-181.0, speed_kmh=20.0),
        "lon: Input should be greater than or equal to -180",
        id="longitude-minus-181",
    ),
    pytest.param(
        "shuttle",
        body(lat=52.0, lon=-1.0, speed_kmh=-3.0),
        "speed_kmh: Input should be greater than or equal to 0",
        id="negative-speed",
    ),
    pytest.param(
        "shuttle", body(lat=52.0, lon=-1.0), "speed_kmh: Field required", id="shuttle-without-speed"
    ),
    pytest.param(
        "crowd",
        body(occupancy=-1),
        "occupancy: Input should be greater than or equal to 0",
        id="negative-occupancy",
    ),
    pytest.param(
        "crowd",
        body(**{"in": 5, "out": -2}),
        "out: Input should be greater than or equal to 0",
        id="negative-out-count",
    ),
    pytest.param(
        "crowd",
        body(occupancy=2**64),
        "occupancy: Input should be less than or equal to 1000000 (got 18446744073709551616)",
        id="occupancy-beyond-64-bits",
    ),
    pytest.param(
        "crowd",
        body(**{"in": 2**63}),
        "in: Input should be less than or equal to 1000000",
        id="in-count-beyond-int64",
    ),
    pytest.param(
        "shuttle",
        body(lat=52.0, lon=-1.0, speed_kmh=20.0, passengers=10**30),
        "passengers: Input should be less than or equal to 500",
        id="passengers-huge",
    ),
    pytest.param("crowd", body(), "needs occupancy, or in/out counts", id="crowd-without-counts"),
    pytest.param(
        "crowd",
        body(occupancy=None, out=None),
        "needs occupancy, or in/out counts",
        id="crowd-with-null-counts",
    ),
    pytest.param(
        "power",
        body(fuel_pct=55.0),
        "needs at least one of voltage_v, current_a, power_kw, frequency_hz",
        id="power-without-measurement",
    ),
    pytest.param("coldchain", b'{"temp_c": 4.1}', "ts: Field required", id="missing-ts"),
    pytest.param(
        "coldchain",
        body(ts="half past six", temp_c=4.1),
        "ts: Input should be a valid datetime",
        id="garbage-ts",
    ),
    pytest.param(
        "coldchain", body(ts=True, temp_c=4.1), "ts: Input should be a valid datetime", id="bool-ts"
    ),
    pytest.param(
        "coldchain",
        body(ts="2026-07-04T18:41:00Z", temp_c=4.1),
        "is more than 0:05:00 ahead of now",
        id="ts-10-minutes-ahead",
    ),
    pytest.param(
        "coldchain",
        body(ts="2026-07-01T18:30:00Z", temp_c=4.1),
        "is older than the 2 days, 0:00:00 limit",
        id="ts-3-days-old",
    ),
    pytest.param("coldchain", body(ts=0, temp_c=4.1), "is older than the", id="ts-epoch-zero"),
    pytest.param(
        "coldchain",
        body(temp_c=4.1, note="x" * 20_000),
        "bytes, over the 16384 limit",
        id="oversized",
    ),
    pytest.param(
        "seismic",
        body(pga_g=0.01),
        "unknown sensor kind 'seismic' (known: coldchain, crowd, power, shuttle, weather",
        id="unknown-kind",
    ),
]


@pytest.mark.parametrize(("kind", "payload", "fragment"), INVALID)
def test_invalid_payload_is_rejected_with_reason(kind: str, payload: bytes, fragment: str) -> None:
    reason = rejected(kind, payload)
    assert fragment in reason
    assert len(reason) <= MAX_REASON


def test_nan_hint_is_only_given_for_nan() -> None:
    assert NAN_HINT not in rejected("coldchain", b'{"ts": "2026-07-04T18:30:00Z", "temp_c": 4.1')
    assert NAN_HINT not in rejected("coldchain", b'{"ts": "2026-07-04T18:30:00Z", "temp_c": oops}')


def test_reason_lists_several_problems() -> None:
    reason = rejected("shuttle", body(lat=91.0, lon=-181.0, speed_kmh=-1.0))
    assert "lat:" in reason
    assert "lon:" in reason
    assert "speed_kmh:" in reason


def test_long_bad_value_is_shortened_in_reason() -> None:
    reason = rejected("coldchain", body(temp_c="y" * 5_000))
    assert len(reason) <= MAX_REASON
    assert "y" * 100 not in reason


def test_time_window_edges() -> None:
    limits = Limits(max_future=timedelta(minutes=5), max_age=timedelta(hours=1))
    ahead = NOW + timedelta(minutes=5)
    old = NOW - timedelta(hours=1)
    assert parse("coldchain", body(ts=ahead.isoformat(), temp_c=1.0), limits=limits).ts == ahead
    assert parse("coldchain", body(ts=old.isoformat(), temp_c=1.0), limits=limits).ts == old
    too_far = (ahead + timedelta(seconds=1)).isoformat()
    assert "ahead of now" in rejected("coldchain", body(ts=too_far, temp_c=1.0), limits=limits)
    too_old = (old - timedelta(seconds=1)).isoformat()
    assert "older than" in rejected("coldchain", body(ts=too_old, temp_c=1.0), limits=limits)


def test_size_limit_edge() -> None:
    payload = body(temp_c=4.1, note="x" * 100)
    assert parse("coldchain", payload, limits=Limits(max_bytes=len(payload))).values
    reason = rejected("coldchain", payload, limits=Limits(max_bytes=len(payload) - 1))
    assert f"payload is {len(payload)} bytes" in reason


# --- (c) unknown extra fields are ignored ----------------------------------------------------


def test_unknown_fields_are_ignored() -> None:
    payload = body(temp_c=4.1, firmware="2.4.1", rssi_dbm=-71, extra={"nested": [1, None]})
    reading = parse("coldchain", payload)
    assert reading.values == {"temp_c": 4.1}


def test_in_count_is_read_from_its_json_name() -> None:
    reading = parse("crowd", body(**{"in": 12, "out": 3, "in_": 999}))
    assert reading.values == {"in": 12, "out": 3}


# --- (d) the forms of ts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "ts",
    [
        "2026-07-04T18:30:00Z",
        "2026-07-04T18:30:00+00:00",
        "2026-07-04T19:30:00+01:00",  # BST, as a device set to UK local time sends it
        "2026-07-04T13:30:00-05:00",
        "2026-07-04T18:30:00",  # naive: taken as UTC
        "2026-07-04 18:30:00",
        "2026-07-04T18:30:00.000Z",
        1783189800,
        1783189800.0,
        "1783189800",  # epoch seconds as a string: read as the number
        "1783189800.0",
        "+1783189800",
    ],
    ids=repr,
)
def test_ts_forms_give_the_same_utc_instant(ts: str | float) -> None:
    reading = parse("coldchain", body(ts=ts, temp_c=4.1))
    assert reading.ts == TS_UTC
    assert reading.ts.tzinfo is not None
    assert reading.ts.utcoffset() == timedelta(0)


def test_fractional_epoch_keeps_subseconds() -> None:
    reading = parse("coldchain", body(ts=1783189800.25, temp_c=4.1))
    assert reading.ts == TS_UTC + timedelta(milliseconds=250)


def test_epoch_milliseconds_are_refused_as_a_number_or_as_a_string() -> None:
    for ts in (1783189800000, "1783189800000"):
        reason = rejected("coldchain", body(ts=ts, temp_c=4.1))
        assert "ts: epoch timestamps are in seconds (this looks like milliseconds)" in reason


def test_date_without_time_is_rejected() -> None:
    rejected(
        "coldchain", body(ts="2026-07-04", temp_c=4.1), now=datetime(2026, 7, 4, 9, tzinfo=UTC)
    )


# --- (e) one type per field --------------------------------------------------------------------


@pytest.mark.parametrize("family", list(FAMILIES.values()), ids=lambda f: f.kind)
def test_whole_numbers_keep_the_field_type(family: Family) -> None:
    sample_ts = TypeAdapter(Timestamp).validate_python(family.sample["ts"])
    sample = parse(family.kind, json.dumps(family.sample).encode(), now=sample_ts)
    floats = {k for k, v in sample.values.items() if type(v) is float}
    payload = {k: (int(v) if k in floats else v) for k, v in family.sample.items()}

    reading = parse(family.kind, json.dumps(payload).encode(), now=sample_ts)

    assert reading.values == {k: (int(v) if k in floats else v) for k, v in sample.values.items()}
    for name, value in reading.values.items():
        assert type(value) is type(sample.values[name]), name


@pytest.mark.parametrize("family", list(FAMILIES.values()), ids=lambda f: f.kind)
def test_every_numeric_field_has_a_lower_and_an_upper_bound(family: Family) -> None:
    """What a device can report: no number without bounds reaches the store."""
    for name in family.model.model_fields:
        if name in family.model.common_fields:
            continue
        schema = family.model.model_json_schema(by_alias=False)["properties"][name]
        options = schema.get("anyOf", [schema])
        for option in options:
            if option.get("type") in ("integer", "number"):
                assert "minimum" in option and "maximum" in option, (family.kind, name, option)


def test_counts_stay_integers() -> None:
    reading = parse("crowd", body(occupancy=4210, out=35, **{"in": 120}))
    assert all(type(v) is int for v in reading.values.values())
    bus = parse("shuttle", body(lat=52, lon=-1, speed_kmh=0, passengers=31))
    assert type(bus.values["passengers"]) is int
    assert [type(bus.values[k]) for k in ("lat", "lon", "speed_kmh")] == [float, float, float]


# --- (f) drill data is marked end to end --------------------------------------------------------


@pytest.mark.parametrize(("drill", "expected"), [(True, True), (False, False), (None, False)])
def test_drill_flag_carries_through(drill: bool | None, expected: bool) -> None:
    fields: dict[str, Any] = {"temp_c": -19.5}
    if drill is not None:
        fields["drill"] = drill
    reading = parse("coldchain", body(**fields))
    assert reading.drill is expected
    assert reading.to_json()["drill"] is expected
    assert "drill" not in reading.values


# --- reasons a technician can act on --------------------------------------------------------------


def test_model_level_reason_has_no_pydantic_jargon() -> None:
    reason = rejected("crowd", body())
    assert "Value error" not in reason
