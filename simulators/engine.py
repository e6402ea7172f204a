"""The simulation: every device's readings, statuses and the incident notices, in time order.

Pure and deterministic: it never looks at a wall clock. `anchor` is the timestamp of the
drill's second 0; the same venue, drill, anchor and seed give the same messages, byte for byte.

A drill played on a loop (`opsroom demo`) is one world: round N (`round_no=N`) continues from
where round N-1 ended, with the same crowd in the zones, the same load on the generators and
the clock of day running on; only the incidents repeat, at the same offsets in every round.
Round N plays rounds 1 to N-1 first without a message (the models are stepped, nothing is
encoded: about 0.1 s per simulated hour of the example venue), so every round of the same
seed continues the one before exactly. Round N's message times `t` and timestamps run from
its own start (`anchor` is its second 0), like round 1's.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import orjson

from opsroom import topics
from opsroom.families import FAMILIES
from opsroom.venue import Venue
from simulators.drill import Drill, Incident, MalformedPayloads, OperatorAction, SensorSilent
from simulators.families import build_devices
from simulators.incidents import incident_id, incident_record
from simulators.world import Device, World

MessageKind = Literal["reading", "status", "incident", "malformed", "operator"]


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message of the drill, at simulated second `t` since the drill's start.

    `will` marks an `offline` status that a device with its own connection sends by dropping
    that connection (the broker publishes its last will); others publish it explicitly.
    `incident` is the id of the incident a malformed payload belongs to.
    """

    t: float
    topic: str
    payload: bytes
    kind: MessageKind
    sensor_id: str = ""
    qos: int = 1
    retain: bool = False
    will: bool = False
    incident: str = ""


def iso(ts: datetime) -> str:
    """ISO-8601 UTC with milliseconds, as every drill payload carries it."""
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Simulation:
    """Plays a drill on a venue: `messages()` yields the whole drill in time order."""

    def __init__(
        self,
        venue: Venue,
        drill: Drill,
        event: str,
        anchor: datetime,
        rng: random.Random,
        rules: Sequence[str] = (),
        round_no: int = 1,
    ) -> None:
        if round_no < 1:
            raise ValueError(f"the round must be 1 or more, not {round_no}")
        self.venue = venue
        self.rules = tuple(rules)
        self.drill = drill
        self.event = event
        self.round_no = round_no
        self.anchor = anchor.astimezone(UTC)
        self._epoch = self.anchor.timestamp()
        self.world = World.create(venue, drill, rng, rounds=round_no)
        self.devices = build_devices(self.world)
        self._kinds = {d.sensor_id: d.kind for d in self.devices}
        self._phase = random.Random(self.world.seed_root ^ 0x5EED)
        self.duration = drill.duration.total_seconds()
        # the world's clock at this round's second 0: the rounds before it, played silently
        self._offset = (round_no - 1) * self.duration

    @property
    def offset(self) -> float:
        """The world's clock at this round's second 0 (0 in round 1)."""
        return self._offset

    def _kind_of(self, sensor_id: str) -> str:
        # a drill's targets are checked against the venue; the first family is a last resort
        return self._kinds.get(sensor_id) or next(iter(FAMILIES))

    def ts(self, t: float) -> datetime:
        """The timestamp of simulated second `t`."""
        return self.anchor + timedelta(seconds=t)

    def _ts_text(self, t: float) -> str:
        return iso(datetime.fromtimestamp(round(self._epoch + t, 3), UTC))

    def _reading(self, device: Device, at: float) -> Message:
        """A device's reading at the world's time `at` (this round's `at - _offset`)."""
        values = device.sample(at)
        t = round(at - self._offset, 3)
        payload = orjson.dumps({"ts": self._ts_text(t), **values, "drill": True})
        topic = topics.reading(self.event, device.kind, device.sensor_id)
        return Message(t, topic, payload, "reading", device.sensor_id)

    def _status(self, sensor_id: str, t: float, online: bool, will: bool = False) -> Message:
        # the JSON form of a status, so that it carries the drill mark and the drill's clock
        state = "online" if online else "offline"
        text = orjson.dumps({"state": state, "ts": self._ts_text(t), "drill": True})
        topic = topics.status(self.event, sensor_id)
        return Message(t, topic, text, "status", sensor_id, retain=True, will=will)

    def _notice(self, inc: Incident, index: int, t: float, phase: str) -> Message:
        record = incident_record(inc, index, self.venue, self.anchor, self.rules)
        record.update({"phase": phase, "ts": self._ts_text(t), "drill": True})
        topic = topics.drill_incidents(self.event)
        return Message(t, topic, orjson.dumps(record), "incident", inc.target)

    def malformed(self, inc: MalformedPayloads, n: int, t: float) -> bytes:
        """The `n`-th broken payload of a malformed_payloads incident."""
        # a value field the target's family requires: without it the payload is refused
        field = FAMILIES[self._kind_of(inc.target)].required_field
        ts = self._ts_text(t)
        which = inc.kinds[n % len(inc.kinds)]
        good = orjson.dumps({"ts": ts, field: 1.0, "drill": True})
        if which == "not_json":
            return good[: len(good) // 2]
        if which == "nan":
            return b'{"ts": "%s", "%s": NaN, "drill": true}' % (ts.encode(), field.encode())
        if which == "wrong_type":
            return orjson.dumps({"ts": ts, field: "warm", "drill": True})
        if which == "missing_field":
            return orjson.dumps({"ts": ts, "drill": True})
        if which == "epoch_ms":
            ms = round((self._epoch + t) * 1000)
            return orjson.dumps({"ts": ms, field: 1.0, "drill": True})
        if which == "future_ts":
            # three days ahead: beyond ingest's 5-minute allowance whatever the anchor
            return orjson.dumps({"ts": self._ts_text(t + 3 * 86_400), field: 1.0, "drill": True})
        return b"[1, 2, 3]"

    def messages(self) -> Iterator[Message]:
        """Every message of the drill (of this round) in order of simulated time (ties in a
        fixed order). The queue runs on the world's clock, which starts `_offset` earlier."""
        offset = self._offset
        end = offset + self.duration
        queue: list[tuple[float, int, int, Callable[[float], tuple[list[Message], float]]]] = []
        seq = 0

        def push(t: float, prio: int, fn: Callable[[float], tuple[list[Message], float]]) -> None:
            nonlocal seq
            if t <= end:
                heapq.heappush(queue, (t, prio, seq, fn))
                seq += 1

        for device in self.devices:
            yield self._status(device.sensor_id, 0.0, online=True)
        for i, inc in enumerate(self.drill.incidents):
            push(offset + inc.at.total_seconds(), 0, self._incident_fn(inc, i))
        for action in self.drill.operator:
            push(offset + action.at.total_seconds(), 1, self._operator_fn(action))
        for device in self.devices:
            first = round(self._phase.uniform(0.0, device.interval), 3)
            push(first, 2, self._device_fn(device))
        while queue:
            t, prio, _, fn = heapq.heappop(queue)
            out, next_t = fn(t)
            yield from out
            if next_t >= 0:
                push(next_t, prio, fn)
        yield from self.farewell(self.duration)

    def farewell(self, t: float) -> list[Message]:
        """The drill's devices cease to exist: their retained statuses are cleared.

        Cleared, not set `offline`, which would leave a silent-device alert per device after
        every drill. The runner sends these itself when a drill is stopped early.
        """
        return [
            Message(
                t, topics.status(self.event, d.sensor_id), b"", "status", d.sensor_id, retain=True
            )
            for d in self.devices
        ]

    def _operator_fn(
        self, action: OperatorAction
    ) -> Callable[[float], tuple[list[Message], float]]:
        """A scripted operator's action, once: a message of kind `operator` (the runner hands
        it to its operator, which records a plan_step entry, not to the broker as is)."""
        offset = self._offset

        def act(at: float) -> tuple[list[Message], float]:
            t = round(at - offset, 3)
            body = {"plan_step": action.plan_step.model_dump(), "ts": iso(self.ts(t))}
            topic = topics.log_entry(self.event, "other", "operator")
            return [Message(t, topic, orjson.dumps(body), "operator")], -1.0

        return act

    def _device_fn(self, device: Device) -> Callable[[float], tuple[list[Message], float]]:
        world, sid = self.world, device.sensor_id

        offset = self._offset

        def report(t: float) -> tuple[list[Message], float]:
            nxt = round(t + device.interval, 3)
            if world.active("sensor_silent", sid, t) is not None:
                return [], nxt
            if t < offset:  # an earlier round: the model moves on, nothing is sent
                device.sample(t)
                return [], nxt
            return [self._reading(device, t)], nxt

        return report

    def _incident_fn(
        self, inc: Incident, index: int
    ) -> Callable[[float], tuple[list[Message], float]]:
        offset = self._offset
        start = inc.at.total_seconds()
        stop = start + inc.duration.total_seconds()
        state = {"n": 0}
        iid = incident_id(inc, index)

        def fire(at: float) -> tuple[list[Message], float]:
            # the queue runs on the world's clock; this round's notices on its own
            out, nxt = fire_in_round(round(at - offset, 3))
            return out, nxt if nxt < 0 else round(nxt + offset, 3)

        def fire_in_round(t: float) -> tuple[list[Message], float]:
            n = state["n"]
            state["n"] = n + 1
            if n == 0:
                out = [self._notice(inc, index, t, "start")]
                if isinstance(inc, SensorSilent) and inc.mode != "silent":
                    out.append(self._status(inc.target, t, False, will=inc.mode == "disconnect"))
                if inc.type == "malformed_payloads":
                    return out, round(t + 0.5, 3)
                return out, stop
            if t >= stop:
                out = [self._notice(inc, index, t, "end")]
                if isinstance(inc, SensorSilent) and inc.mode != "silent":
                    out.append(self._status(inc.target, t, True))
                return out, -1.0
            assert isinstance(inc, MalformedPayloads)
            topic = topics.reading(self.event, self._kind_of(inc.target), inc.target)
            payload = self.malformed(inc, n - 1, t)
            bad = Message(t, topic, payload, "malformed", inc.target, incident=iid)
            return [bad], min(stop, round(t + 60.0 / inc.per_minute, 3))

        return fire
