"""Fuzzing the store layer: what reaches `write_readings` is either stored faithfully or
refused with a BadDataError naming it, never anything else; and the payload models' bounds
stop such values before the store. (The InfluxDB write path is fuzzed against a real InfluxDB
1.x in test_influx_lineprotocol.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsroom.families import FAMILIES
from opsroom.store import BadDataError, reading_problem
from opsroom.store.influx import reading_to_line
from opsroom.store.sqlite import SqliteStore
from opsroom.telemetry import Limits, PayloadError, Reading, parse_reading
from tests.fuzz_readings import EXTREME_FLOATS, EXTREME_INTS, T0, readings

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    yield store
    store.close()


def same_values(got: dict[str, object], want: dict[str, object]) -> bool:
    """Equal, of the same types (1 is not 1.0, True is not 1), -0.0 kept."""
    return {k: (type(v), repr(v)) for k, v in got.items()} == {
        k: (type(v), repr(v)) for k, v in want.items()
    }


@FUZZ
@given(reading=readings())
def test_sqlite_stores_faithfully_or_refuses_the_reading(
    sqlite: SqliteStore, reading: Reading
) -> None:
    before = sqlite.count()
    try:
        sqlite.write_readings([reading])
    except BadDataError as exc:
        assert reading_problem(reading) is not None
        assert repr(str(reading.sensor_id)[:20])[:-1] in str(exc)  # names the reading
        assert sqlite.count() == before
        return
    assert reading_problem(reading) is None
    [back] = sqlite.latest(reading.kind, [reading.sensor_id])
    assert (back.kind, back.sensor_id, back.ts, back.drill) == (*reading[:3], reading.drill)
    assert same_values(back.values, reading.values), (back.values, reading.values)


def test_sqlite_refuses_a_whole_batch_for_one_reading(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "batch.db")
    good = [Reading("crowd", f"zone-{i}", T0, {"occupancy": i}) for i in range(5)]
    poison = Reading("crowd", "zone-x", T0, {"occupancy": 2**64})
    with pytest.raises(BadDataError, match=r"'zone-x'.*'occupancy': 18446744073709551616"):
        store.write_readings([*good, poison])
    assert store.count() == 0  # nothing half-written
    store.write_readings(good)
    assert store.count() == 5
    store.close()


NUMBERS = st.one_of(
    EXTREME_INTS,
    EXTREME_FLOATS,
    st.sampled_from(["1e400", "-1e400", "9" * 5000, "18446744073709551616", "-0", "NaN"]),
)


@st.composite
def payloads(draw: st.DrawFn) -> tuple[str, bytes]:
    """A family's sample with one or more numeric fields set to extreme numbers (as JSON)."""
    kind = draw(st.sampled_from(sorted(FAMILIES)))
    sample = dict(FAMILIES[kind].sample)
    sample["ts"] = T0.isoformat()
    numeric = [k for k, v in sample.items() if type(v) in (int, float)] + ["in", "out"] * (
        kind == "crowd"
    )
    raw: dict[str, str] = {}
    for name in draw(st.lists(st.sampled_from(numeric), min_size=1, max_size=3, unique=True)):
        value = draw(NUMBERS)
        # JSON literals for what json.dumps cannot write (or writes as NaN/Infinity)
        raw[name] = value if isinstance(value, str) else json.dumps(value)
        sample.pop(name, None)
    body = json.dumps(sample)[:-1] + "".join(f', "{k}": {v}' for k, v in raw.items()) + "}"
    return kind, body.encode()


@FUZZ
@given(case=payloads())
def test_the_payload_bounds_stop_extreme_numbers_before_the_store(case: tuple[str, bytes]) -> None:
    """Whatever numbers a device sends, a reading that passes validation is one both stores
    take: the bounds, not the store, are where an extreme value is refused."""
    kind, payload = case
    limits = Limits(max_bytes=1 << 20)
    try:
        reading = parse_reading(kind, "sensor-1", payload, T0 + timedelta(seconds=1), limits)
    except PayloadError as exc:
        assert exc.reason
        return
    assert reading_problem(reading) is None, reading
    reading_to_line(reading)  # raises if InfluxDB could not take it
