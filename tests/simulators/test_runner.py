"""The runner: paced publishing whose timestamps ingest accepts at any speed; the incident log."""

from __future__ import annotations

import io
import json
import random
import time
from datetime import UTC, datetime

import pytest

from opsroom.telemetry import Limits, PayloadError, parse_reading
from opsroom.venue import Venue
from simulators.drill import Drill
from simulators.engine import Simulation
from simulators.runner import ListSink, Runner, anchor_for
from tests.simulators.conftest import small_drill


class FakeWall:
    """A wall clock that only moves when the runner sleeps."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def play(venue: Venue, drill: Drill, speed: float, wall: FakeWall, log: io.StringIO | None = None):
    start = wall()
    anchor = anchor_for(start, drill.duration.total_seconds(), speed)
    sim = Simulation(venue, drill, "demo", anchor, random.Random(3))
    sink = ListSink(wall=wall)
    state = Runner(sim, sink, speed, start, wall=wall, sleep=wall.sleep, log=log).run()
    return sim, sink, state


def check_all(sink: ListSink) -> tuple[int, int]:
    """Every reading passes ingest's checks at its wall time; every malformed one fails."""
    ok = rejected = 0
    for wall_t, m in sink.sent:
        if m.kind not in ("reading", "malformed"):
            continue
        _, _, kind, sid = m.topic.split("/")
        now = datetime.fromtimestamp(wall_t, UTC)
        if m.kind == "reading":
            r = parse_reading(kind, sid, m.payload, now, Limits())
            assert r.drill is True
            assert r.ts <= now
            ok += 1
        else:
            with pytest.raises(PayloadError):
                parse_reading(kind, sid, m.payload, now, Limits())
            rejected += 1
    return ok, rejected


@pytest.mark.parametrize("speed", [600, 60, 1, 0.5, 0])
def test_timestamps_pass_ingest_at_any_speed(
    venue: Venue, opening_rush: Drill, speed: float
) -> None:
    wall = FakeWall(1_790_000_000.0)
    sim, sink, state = play(venue, opening_rush, speed, wall)
    assert state.completed
    ok, rejected = check_all(sink)
    assert ok > 5000 and rejected == 60  # 5 minutes at 12 a minute
    # the simulated clock catches up with the wall clock as the drill ends
    last_wall, last = sink.sent[-1]
    if speed >= 1:
        assert abs(sim.ts(last.t).timestamp() - last_wall) < 1.0
    if speed > 0:
        assert last_wall - wall.now < 1 and wall.now - 1_790_000_000 == pytest.approx(
            3600 / speed, rel=0.01
        )


def test_real_clock_at_speed_600(venue: Venue) -> None:
    drill = small_drill(
        venue,
        "incidents:\n  - {type: malformed_payloads, at: 1m, target: gen-family, duration: 2m,"
        " per_minute: 30}\n",
        duration="10m",
    )
    start = time.time()
    anchor = anchor_for(start, drill.duration.total_seconds(), 600)
    sim = Simulation(venue, drill, "demo", anchor, random.Random(1))
    sink = ListSink()
    Runner(sim, sink, 600, start).run()
    assert 0.9 < time.time() - start < 3.0
    ok, rejected = check_all(sink)
    assert ok > 500 and rejected == 60


def test_log_records_the_drill_and_each_incident(venue: Venue, opening_rush: Drill) -> None:
    log = io.StringIO()
    play(venue, opening_rush, 0, FakeWall(1_790_000_000.0), log)
    records = [json.loads(line) for line in log.getvalue().splitlines()]
    assert records[0]["record"] == "drill" and records[-1]["record"] == "end"
    assert records[-1]["completed"] is True
    incidents = [r for r in records if r["record"] == "incident"]
    assert [r["type"] for r in incidents] == [i.type for i in opening_rush.incidents]
    first = incidents[0]
    assert first["target"] == "smokestack-fridge"
    start = datetime.fromisoformat(records[0]["start"])
    assert (datetime.fromisoformat(first["start"]) - start).total_seconds() == 300
    assert (datetime.fromisoformat(first["end"]) - start).total_seconds() == 300 + 35 * 60
    assert first["expected"]["kind"] == "coldchain"


def test_stop_ends_early(venue: Venue, opening_rush: Drill) -> None:
    wall = FakeWall(1_790_000_000.0)
    sim = Simulation(venue, opening_rush, "demo", anchor_for(wall(), 3600, 60), random.Random(1))
    runner = Runner(sim, ListSink(wall=wall), 60, wall(), wall=wall, sleep=wall.sleep)

    def sleep(s: float) -> None:
        wall.sleep(s)
        if wall.now > 1_790_000_000 + 10:
            runner.stop.set()

    runner.sleep = sleep
    state = runner.run()
    assert not state.completed
    assert 500 < state.sim_t < 700
    # the devices' retained statuses are cleared all the same
    assert isinstance(runner.sink, ListSink)
    last = [m for _, m in runner.sink.sent[-len(sim.devices) :]]
    assert all(m.kind == "status" and m.payload == b"" and m.retain for m in last)
