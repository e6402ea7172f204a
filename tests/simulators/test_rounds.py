"""A drill on a loop is one world: the demo's rounds continue each other, with no false alert.

The demo's first ten minutes are checked in-process, at full speed: the simulator's messages go
straight into the rules engine instead of through a broker, ingest and the rules service.
What the demo does at the round boundary is all here: round 1 plays the whole drill (one wall
minute at the demo's 60x), then round 2 (`opsroom simulate --round 2`, exactly
`Simulation(..., round_no=2).messages()`) starts a few seconds of event time after round 1
ended, as the demo's live round does, and plays its first nine minutes. The engine takes the
readings and statuses as the rules service does, with the event clock following the readings,
and simulators.matching scores the alerts against both rounds' incidents as drill-report does.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

import orjson
import pytest

from opsroom import topics
from opsroom.alerts import AlertEvent
from opsroom.rulesfile.model import load_rules
from opsroom.telemetry import Limits, parse_reading
from opsroom.venue import Venue
from rules.engine import Engine
from simulators.drill import Drill
from simulators.engine import Message, Simulation
from simulators.matching import InjectedIncident, match
from tests.simulators.conftest import ANCHOR, ROOT

RULES = ROOT / "examples" / "rules.yaml"
SEED = 20260704
# event time between the rounds: the demo starts a new simulator process (a second or two)
RESTART_S = (0.5, 2.0)
WALL_MINUTES = 10


def round_of(venue: Venue, drill: Drill, n: int, anchor: datetime) -> Simulation:
    return Simulation(venue, drill, "demo", anchor, random.Random(SEED), (), round_no=n)


def first(messages: Iterator[Message], seconds: float) -> Iterator[Message]:
    """The messages of a round's first `seconds`."""
    for m in messages:
        if m.t > seconds:
            return
        yield m


def run(
    venue: Venue, streams: list[Iterator[Message]]
) -> tuple[list[AlertEvent], list[InjectedIncident], datetime]:
    """Feed the messages to an engine as the rules service would; its alerts, the incidents
    the drill announced, and the newest reading time."""
    engine = Engine(load_rules(RULES, venue), venue)
    events: list[AlertEvent] = []
    incidents: list[InjectedIncident] = []
    limits = Limits()
    newest = ANCHOR
    for messages in streams:
        for m in messages:
            if m.kind == "reading":
                kind = topics.parse_reading(m.topic)
                assert kind is not None
                stamp = datetime.fromisoformat(orjson.loads(m.payload)["ts"])
                reading = parse_reading(kind.kind, m.sensor_id, m.payload, stamp, limits)
                newest = max(newest, reading.ts)
                events += engine.process(reading)
                events += engine.tick(newest)
            elif m.kind == "status" and m.payload:
                status = orjson.loads(m.payload)
                ts = datetime.fromisoformat(status["ts"])
                events += engine.device_status(m.sensor_id, status["state"] == "online", ts, True)
            elif m.kind == "incident":
                record = orjson.loads(m.payload)
                if record["phase"] == "start":
                    incidents.append(InjectedIncident.from_record(record))
    return events, incidents, newest


@pytest.mark.parametrize("restart_s", RESTART_S)
def test_the_demos_first_ten_minutes_raise_no_alert_that_matches_no_incident(
    venue: Venue, opening_rush: Drill, restart_s: float
) -> None:
    length = opening_rush.duration.total_seconds()
    one = round_of(venue, opening_rush, 1, ANCHOR)
    two = round_of(venue, opening_rush, 2, ANCHOR + timedelta(seconds=length + restart_s))
    live_s = (WALL_MINUTES - length / opening_rush.speed / 60) * 60  # round 1 takes a minute
    events, incidents, newest = run(venue, [one.messages(), first(two.messages(), live_s)])

    result = match(incidents, events, window=(ANCHOR, newest))
    unmatched = [(a.rule, a.subject, a.first_at - ANCHOR) for a in result.unmatched]
    assert unmatched == []
    assert not [e for e in events if e.rule == "power-drop"]
    # the rules did their job: round 1's incidents were raised, and round 2 injected its own
    assert sum(1 for o in result.outcomes if o.detected) >= 6
    assert any(i.start > one.ts(length) for i in incidents)


def test_round_two_continues_round_one(venue: Venue, opening_rush: Drill) -> None:
    """No reset of the crowd or the load at the boundary: round 2's first readings are round
    1's last ones carried on (same seed), not the drill's start again."""
    length = opening_rush.duration.total_seconds()
    one = list(round_of(venue, opening_rush, 1, ANCHOR).messages())
    whole_two = list(round_of(venue, opening_rush, 2, ANCHOR).messages())
    two = [m for m in whole_two if m.t <= 60]

    def last_values(messages: list[Message], field: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for m in messages:
            if m.kind == "reading":
                value = orjson.loads(m.payload).get(field)
                if value is not None:
                    out[m.sensor_id] = value
        return out

    def first_values(messages: list[Message], field: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for m in messages:
            if m.kind == "reading":
                value = orjson.loads(m.payload).get(field)
                if value is not None:
                    out.setdefault(m.sensor_id, value)
        return out

    end_kw, start_kw = last_values(one, "power_kw"), first_values(two, "power_kw")
    assert set(end_kw) == set(start_kw) and end_kw
    for gen, kw in end_kw.items():
        assert start_kw[gen] == pytest.approx(kw, rel=0.15), gen
    end_people, start_people = last_values(one, "occupancy"), first_values(two, "occupancy")
    for zone, people in end_people.items():
        assert start_people[zone] == pytest.approx(people, rel=0.1, abs=20), zone
    # round 2's messages run from its own start, and its incidents repeat at the same offsets
    assert two[0].t >= 0 and whole_two[-1].t == length

    def notices(messages: list[Message]) -> list[tuple[float, str]]:
        return [(m.t, m.sensor_id) for m in messages if m.kind == "incident"]

    assert notices(one) and notices(whole_two) == notices(one)


def test_a_round_before_the_first_is_refused(venue: Venue, opening_rush: Drill) -> None:
    with pytest.raises(ValueError, match="1 or more"):
        round_of(venue, opening_rush, 0, ANCHOR)
