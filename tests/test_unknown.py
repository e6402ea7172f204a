"""Unknown-sensor bookkeeping: bounded memory and one summary line per interval (pinned clock)."""

from __future__ import annotations

import logging

import pytest

from opsroom.unknown import MAX_TRACKED, UnknownSensors


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "test.unknown"]


def test_one_line_per_interval_whatever_the_flood(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    unknown = UnknownSensors(logging.getLogger("test.unknown"), "stored", 60, clock=clock)
    unknown.note("crowd", "first")  # told at once
    for i in range(10 * MAX_TRACKED):
        unknown.note("crowd", f"s{i}")
        clock.now += 0.001  # ten seconds in all
    assert unknown.tracked == MAX_TRACKED
    unknown.flush()  # not due yet
    assert len(lines(caplog)) == 1
    clock.now = 1060.0
    unknown.flush()
    first, second = lines(caplog)
    assert first == (
        "1 reading(s) from 1 sensor(s) not in the venue file (stored) since start: crowd/first"
    )
    assert second == (
        f"{10 * MAX_TRACKED} reading(s) from at least {MAX_TRACKED} sensor(s) not in the venue "
        "file (stored) in the last 60 s: crowd/s0, crowd/s1, crowd/s2, crowd/s3, crowd/s4 "
        "and others"
    )
    assert unknown.tracked == 0 and unknown.total == 10 * MAX_TRACKED + 1


def test_a_reading_after_the_interval_writes_the_line_and_stop_tells_the_rest(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    unknown = UnknownSensors(logging.getLogger("test.unknown"), "dead-lettered", 60, clock=clock)
    unknown.flush(force=True)  # nothing to tell: no line
    for _ in range(3):
        unknown.note("power", "gen-x")  # one sensor, three readings
    clock.now += 61
    unknown.note("power", "gen-y")
    unknown.note("power", "gen-y")
    unknown.flush(force=True)
    assert [line.split(" not in")[0] for line in lines(caplog)] == [
        "1 reading(s) from 1 sensor(s)",
        "3 reading(s) from 2 sensor(s)",
        "1 reading(s) from 1 sensor(s)",
    ]
