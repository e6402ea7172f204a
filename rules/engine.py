"""The rules engine: readings in, alert transitions out, on event time only.

A little over 400 lines, a third of it this contract: the engine is one state machine over
every subject, and its parts (evaluators, lifecycle, kinds) are modules of their own.

    engine = Engine(load_rules(path, venue), venue, state=previous_snapshot_or_None)
    engine.process(reading)          -> transitions that reading caused
    engine.device_status(id, online, ts, drill)
    engine.tick(event_clock)         -> silent-device transitions
    engine.tick_unheard(wall_clock)  -> the same, before the first reading (no event clock yet)
    engine.acknowledge(alert_id, actor, note, ts)
    engine.active(); engine.snapshot()

Contract:
- Event time. Hold times, rates and cumulative durations use the readings' own timestamps;
  silence uses the clock passed to `tick` (the newest ts seen, or a drill's clock). Nothing
  here reads the wall clock (`tick_unheard` is given it, before any reading), so a backlog fed
  at once gives the same transitions, with the same timestamps, as the same readings fed live.
- Order. Each subject's readings are evaluated in timestamp order. A reading not newer than
  the subject's newest (a late or redelivered one) is not evaluated: it is counted (`late`)
  and ignored, so hold timers, rate windows and cumulative time only move forward, and a
  duplicate cannot double-count. Ingest still stores it.
- Missing values. A reading without the field a rule needs moves no state of that rule.
- Silence. A silent subject keeps its alerts exactly as they are; a no_data rule raises a
  silent-device alert beside them, which resolves with the next reading. A subject that has
  never reported counts as silent from the first clock the engine saw; before any reading
  there is no event clock, and `tick_unheard` judges devices that never reported on the wall
  clock from its first call (the service's start), so a venue whose devices all fail to reach
  the service is noticed. The first reading ends that: from then on only event time counts
  (a drill's clock runs from the past, behind the wall clock). A reading that ends a
  gap is first checked against the previous reading's time: if the gap was a silence, the
  alert is raised (stamped when the silence became long enough) and resolved by that
  reading, whether or not a tick came in between, so a replayed backlog shows the silence too.
- One alert per (rule, subject) at a time; transitions as described in rules/lifecycle.py.
- Inhibition. A rule with `inhibited_by` raises no new alert on a subject while one of those
  rules has an open alert (pending, firing or acknowledged) on it; an alert already open
  carries on. The evaluator keeps its state, so a condition that outlasts the inhibiting
  alert is raised then, with its own start time.
- Restart. `snapshot()` holds every evaluator's state (latches, windows, totals, and the
  memory of a derived value that keeps one, such as the lightning window) and every
  active alert; `Engine(..., state=snapshot)` continues with the same alert ids, hold timers
  and totals. An alert whose rule or subject is gone from the files is resolved at the next
  tick.
- Fed subjects. A subject without a sensor of its own (`Subject.source`: a structure watches
  its nearest weather station) gets every reading of its source, right after the source's
  own subject, with its own order, state and alerts.
- Speed. The evaluators for each subject are built once; a reading runs only the evaluators
  of its subject (and of the subjects it feeds), and pydantic objects are made only for
  transitions.
"""

from __future__ import annotations

import heapq
import logging
import math
from datetime import datetime
from typing import Any

import rules.kinds  # noqa: F401  (registers the evaluator of every rule kind)
from opsroom.alerts import AlertEvent
from opsroom.i18n import N_, _
from opsroom.rulesfile.model import RuleSet
from opsroom.rulesfile.subjects import Subject, subjects_of
from opsroom.telemetry import Reading
from opsroom.venue import Venue
from rules.evaluator import EPS, FIRING, PENDING, Evaluator, Watchdog, bind
from rules.lifecycle import Alert, acknowledge, epoch_to_dt, settle

log = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1
GONE = N_("resolved: its rule or subject is no longer in the rules or venue file")


class _Track:
    """One subject at run time: its evaluators, its newest reading, its silence deadline."""

    __slots__ = ("armed", "drill", "evaluators", "last_ts", "subject", "timeout", "watchdogs")

    def __init__(self, subject: Subject, evaluators: list[Evaluator]) -> None:
        self.subject = subject
        self.evaluators = [e for e in evaluators if not e.watchdog]
        self.watchdogs = [e for e in evaluators if isinstance(e, Watchdog)]
        self.timeout = min((w.timeout for w in self.watchdogs), default=math.inf)
        self.last_ts: float | None = None  # event time of the newest reading evaluated
        self.drill = False
        self.armed = False  # has an entry in the silence heap


class Engine:
    """Evaluates readings against a rule set for one venue; pure, clock-free, single-threaded."""

    def __init__(self, ruleset: RuleSet, venue: Venue, state: dict[str, Any] | None = None) -> None:
        # (kind, sensor id) -> the sensor's own subject, then the subjects its readings feed
        self._tracks: dict[tuple[str, str], list[_Track]] = {}
        self._by_id: dict[str, _Track] = {}
        for subject in subjects_of(venue).values():
            bound = []
            for rule in ruleset.rules:
                variant = rule.for_subject(subject.id) if rule.applies(subject) else None
                if variant is not None:
                    bound.append((variant, bind(variant, subject)))
            for variant, ev in bound:
                ev.inhibitors = tuple(e for r, e in bound if r.id in variant.inhibited_by)
            # inhibited rules run after the others, so that an inhibiting alert raised by the
            # same reading holds them back at once
            evaluators = [e for _, e in sorted(bound, key=lambda b: bool(b[1].inhibitors))]
            track = _Track(subject, evaluators)
            self._tracks.setdefault((subject.kind, subject.source or subject.id), []).append(track)
            self._by_id[subject.id] = track
        for tracks in self._tracks.values():
            tracks.sort(key=lambda t: bool(t.subject.source))
        self._alerts: dict[str, tuple[Alert, Evaluator | None]] = {}
        self._heap: list[tuple[float, str]] = []  # (silence deadline, subject id)
        # the first event time seen: subjects never heard from are silent from then on
        self._epoch: float | None = None
        self._clock: float | None = None  # newest tick
        # the first wall clock given to tick_unheard, before any reading: silence starts there
        self._wall_epoch: float | None = None
        self._newest: float | None = None  # newest reading ts
        self._drill = False  # drill flag of the latest reading
        self._orphans: list[str] = []  # restored alerts whose rule or subject is gone
        self.readings = self.late = self.unknown = self.transitions = self.inhibited = 0
        if state is not None:
            self._restore(state)

    # --- readings -----------------------------------------------------------------------------

    def process(self, reading: Reading) -> list[AlertEvent]:
        """Evaluate one reading at its own timestamp; return the transitions it caused."""
        self.readings += 1
        tracks = self._tracks.get((reading.kind, reading.sensor_id))
        if tracks is None:
            self.unknown += 1
            return []
        out: list[AlertEvent] = []
        late = False
        for track in tracks:
            late = not self._evaluate(track, reading, out) or late
        if late:
            self.late += 1
        return out

    def _evaluate(self, track: _Track, reading: Reading, out: list[AlertEvent]) -> bool:
        """Evaluate one reading for one subject; False if it is not newer than its newest."""
        at = reading.ts
        ts = at.timestamp()
        last = track.last_ts
        if last is not None and ts <= last:
            return False
        if track.watchdogs:
            # a gap this reading ends may already be a silence: judge it against the previous
            # reading before this one moves the subject's clock, so a backlog replayed at
            # once raises the silent-device alert that live delivery would have raised
            base = last if last is not None else self._epoch
            if base is not None:
                self._silences(track, base, ts, False, out)
        track.last_ts = ts
        track.drill = self._drill = drill = reading.drill
        if self._newest is None or ts > self._newest:
            self._newest = ts
        if self._epoch is None:
            self._start(ts)
        dt = None if last is None else ts - last
        values = reading.values
        for ev in track.evaluators:
            ev.step(values, ts, dt)
            if (ev.status or ev.alert is not None) and (
                ev.status != ev.shown_status or ev.sev != ev.shown_sev
            ):
                if ev.alert is None and any(i.alert is not None for i in ev.inhibitors):
                    # held back while the inhibiting alert is open; the evaluator keeps its
                    # state, so if the condition outlasts that alert it is raised then
                    self.inhibited += 1
                    continue
                self._settle(ev, ts, at, drill, out)
        for dog in track.watchdogs:
            if dog.status or dog.alert is not None:  # data is back: the silence is over
                dog.step(values, ts, dt)
                fired = dog.alert.fired_at if dog.alert is not None else None
                if fired is not None and fired > ts:
                    # raised on the wall clock, and the data is stamped before that (a drill's
                    # clock from the past): it resolves now, not before it fired
                    self._settle(dog, fired, epoch_to_dt(fired), drill, out)
                else:
                    self._settle(dog, ts, at, drill, out)
        if not track.armed and track.watchdogs:
            self._arm(track, ts + track.timeout)
        return True

    def _settle(
        self, ev: Evaluator, ts: float, at: datetime, drill: bool, out: list[AlertEvent]
    ) -> None:
        """Run the lifecycle stage for one evaluator and keep the alert index in step."""
        before: Alert | None = ev.alert
        alert, event = settle(ev, before, ts, at, drill, ev.last_id)
        if alert is not before:
            if before is not None:
                del self._alerts[before.alert_id]
            if alert is not None:
                self._alerts[alert.alert_id] = (alert, ev)
                ev.last_id = alert.alert_id
            ev.alert = alert
        ev.shown_status, ev.shown_sev = ev.status, ev.sev
        if event is not None:
            self.transitions += 1
            out.append(event)

    # --- silence ------------------------------------------------------------------------------

    def _start(self, ts: float) -> None:
        """The first event time: subjects that never report are silent from here."""
        self._epoch = ts
        for track in self._by_id.values():
            if track.watchdogs and not track.armed:
                self._arm(
                    track, (track.last_ts if track.last_ts is not None else ts) + track.timeout
                )

    def _arm(self, track: _Track, deadline: float) -> None:
        heapq.heappush(self._heap, (deadline, track.subject.id))
        track.armed = True

    def device_status(
        self, sensor_id: str, online: bool, ts: datetime, drill: bool = False
    ) -> list[AlertEvent]:
        """A device's status message: `offline` (its last will) raises the silent-device alert.

        `online` changes nothing: the silence ends with data, not with a connection. A status
        older than the subject's newest reading is stale and ignored.
        """
        track = self._by_id.get(sensor_id)
        if track is None or online:
            return []
        t = ts.timestamp()
        if track.last_ts is not None and t < track.last_ts:
            return []
        out: list[AlertEvent] = []
        for dog in track.watchdogs:
            if dog.offline and not dog.status:
                dog.went_offline(t)
                self._settle(dog, t, ts, drill, out)
        return out

    def tick(self, now: datetime) -> list[AlertEvent]:
        """Advance the event clock to `now`; return the silent-device transitions now due.

        A silent-device alert's transition is stamped with the moment the silence became
        long enough (last reading + timeout), whenever the tick that notices it comes.
        """
        t = now.timestamp()
        out: list[AlertEvent] = []
        self._resolve_orphans(now, out)
        if self._epoch is None:
            self._start(t)
        if self._clock is not None and t < self._clock:
            t = self._clock  # the event clock never goes back
        self._clock = t
        heap = self._heap
        while heap and heap[0][0] <= t + EPS:
            _, sid = heapq.heappop(heap)
            track = self._by_id[sid]
            track.armed = False
            base = track.last_ts if track.last_ts is not None else self._epoch
            assert base is not None
            following = self._silences(track, base, t, True, out)
            if following < math.inf:
                self._arm(track, following)
        return out

    def _silences(
        self, track: _Track, base: float, t: float, inclusive: bool, out: list[AlertEvent]
    ) -> float:
        """Raise the silences of `track` due by `t` (no reading since `base`); the next deadline.

        `inclusive`: a tick at the very deadline raises it; a reading at the deadline is in time.
        """
        drill = track.drill if track.last_ts is not None else self._drill
        following = math.inf
        for dog in track.watchdogs:
            if dog.status:
                continue
            due = base + dog.timeout
            if due <= t + EPS if inclusive else due < t - EPS:
                dog.silent(base, never=track.last_ts is None)
                self._settle(dog, due, epoch_to_dt(due), drill, out)
            else:
                following = min(following, due)
        return following

    def tick_unheard(self, wall: datetime) -> list[AlertEvent]:
        """Before the first reading: silences of devices that never reported, on the wall clock.

        The service calls it in place of `tick` while it has no event clock. Silence counts
        from the first call (the service's start), and each alert is stamped when the device's
        timeout ran out. Once a reading has been evaluated it does nothing: `tick` takes over.
        """
        if self._epoch is not None:
            return []
        t = wall.timestamp()
        if self._wall_epoch is None:
            self._wall_epoch = t
        out: list[AlertEvent] = []
        self._resolve_orphans(wall, out)
        for track in self._by_id.values():
            if track.watchdogs and track.last_ts is None:
                self._silences(track, self._wall_epoch, t, True, out)
        return out

    def _resolve_orphans(self, now: datetime, out: list[AlertEvent]) -> None:
        """Resolve alerts restored from a snapshot whose rule or subject no longer exists."""
        while self._orphans:
            alert, _was = self._alerts.pop(self._orphans.pop(0))
            alert.message = _(GONE)
            out.append(alert.event("resolved", now))
            self.transitions += 1

    # --- people -------------------------------------------------------------------------------

    def acknowledge(
        self, alert_id: str, actor: str, note: str | None, ts: datetime
    ) -> AlertEvent | None:
        """A duty officer's acknowledgement; None if the alert is unknown, resolved, pending or
        already acknowledged. The alert stays active until its condition clears."""
        entry = self._alerts.get(alert_id)
        if entry is None:
            return None
        event = acknowledge(entry[0], actor, note, ts)
        if event is not None:
            self.transitions += 1
        return event

    def active(self) -> list[AlertEvent]:
        """The latest event of every alert that is not resolved, oldest first."""
        alerts = sorted((a for a, _ in self._alerts.values()), key=lambda a: a.started_at)
        return [a.last for a in alerts if a.last is not None]

    @property
    def newest(self) -> datetime | None:
        """Event time of the newest reading evaluated: a clock for `tick` outside drills."""
        return None if self._newest is None else epoch_to_dt(self._newest)

    def stats(self) -> dict[str, int]:
        """Counters: readings seen, late (not evaluated), unknown subject, transitions, active."""
        return {
            "readings": self.readings,
            "late": self.late,
            "unknown": self.unknown,
            "transitions": self.transitions,
            "inhibited": self.inhibited,
            "active": len(self._alerts),
        }

    # --- restart ------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-able data; `Engine(..., state=...)` continues from it."""
        subjects: dict[str, Any] = {}
        for sid, track in self._by_id.items():
            if track.last_ts is None and not any(e.status for e in track.watchdogs):
                continue
            subjects[sid] = {
                "last_ts": track.last_ts,
                "drill": track.drill,
                "rules": {e.rule_id: e.dump() for e in (*track.evaluators, *track.watchdogs)},
            }
        return {
            "version": SNAPSHOT_VERSION,
            "epoch": self._epoch,
            "clock": self._clock,
            "newest": self._newest,
            "drill": self._drill,
            "counters": {
                "readings": self.readings,
                "late": self.late,
                "unknown": self.unknown,
                "transitions": self.transitions,
            },
            "subjects": subjects,
            "alerts": [alert.dump() for alert, _ in self._alerts.values()],
        }

    def _restore(self, state: dict[str, Any]) -> None:
        if state.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"snapshot version {state.get('version')!r} is not {SNAPSHOT_VERSION}")
        self._epoch, self._clock, self._newest = state["epoch"], state["clock"], state["newest"]
        self._drill = bool(state["drill"])
        counters = state.get("counters", {})
        self.readings = int(counters.get("readings", 0))
        self.late = int(counters.get("late", 0))
        self.unknown = int(counters.get("unknown", 0))
        self.transitions = int(counters.get("transitions", 0))
        for sid, saved in state["subjects"].items():
            track = self._by_id.get(sid)
            if track is None:
                continue
            track.last_ts, track.drill = saved["last_ts"], bool(saved["drill"])
            for each in (*track.evaluators, *track.watchdogs):
                data = saved["rules"].get(each.rule_id)
                if data is None:
                    continue
                try:
                    each.load(data)
                except (KeyError, TypeError, ValueError) as exc:
                    # e.g. the rule's levels were edited: start its state afresh
                    log.warning("rule %s on %s: saved state not used (%s)", each.rule_id, sid, exc)
        for data in state["alerts"]:
            alert = Alert.load(data)
            track = self._by_id.get(alert.subject)
            ev: Evaluator | None = None
            if track is not None:
                ev = next(
                    (e for e in (*track.evaluators, *track.watchdogs) if e.rule_id == alert.rule),
                    None,
                )
            self._alerts[alert.alert_id] = (alert, ev)
            if ev is not None:
                ev.alert = alert
                ev.last_id = alert.alert_id
                ev.shown_status = FIRING if alert.fired_at is not None else PENDING
                ev.shown_sev = alert.severity
            else:
                self._orphans.append(alert.alert_id)
        if self._epoch is not None:
            self._start(self._epoch)
