"""Silences for planned work: who may skip which call-outs, for how long, and why.

A silence matches alerts by rule, entity (the alert's subject) and family (its kind), any
combination with at least one; it is in force from `starts_at` until `ends_at` (or an earlier
`expired_at`), judged on event time. Silenced alerts are still evaluated, published, stored
and shown (with `silenced_by`); they are not notified and not escalated.

The source of truth is the broker: each silence is a retained JSON message on
`opsroom/<event>/silences/<id>`, so the dashboard, the CLI and the rules service share them
with no other store. Expiring early republishes it with `expired_at`; an empty retained message
removes it. This module is the kernel's part: the model, its checks, and publishing and
reading the retained messages.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
import paho.mqtt.client as mqtt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from opsroom import topics
from opsroom.alerts import AlertEvent
from opsroom.clock import utcnow
from opsroom.configfile import first_problem
from opsroom.mqtt import publish_confirmed, short_session
from opsroom.settings import Settings
from opsroom.telemetry.base import Timestamp

MAX_REASON = 1000
MAX_AUTHOR = 100
MAX_MATCHER = 200
MAX_PAYLOAD = 8192
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


class SilenceError(ValueError):
    """A silence was refused (nothing published); the message says what is wrong."""


class Silence(BaseModel):
    """One silence, as published retained on `opsroom/<event>/silences/<id>`."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=128)
    rule: str | None = Field(None, min_length=1, max_length=MAX_MATCHER)
    entity: str | None = Field(None, min_length=1, max_length=MAX_MATCHER)
    family: str | None = Field(None, min_length=1, max_length=MAX_MATCHER)
    starts_at: Timestamp
    ends_at: Timestamp
    author: str = Field(min_length=1, max_length=MAX_AUTHOR)
    reason: str = Field(min_length=1, max_length=MAX_REASON)
    created_at: Timestamp
    expired_at: Timestamp | None = None

    @field_validator("id")
    @classmethod
    def _topic_safe(cls, v: str) -> str:
        if not topics.valid_id(v):
            raise ValueError("letters, digits and _ . : - only (it is a topic segment)")
        return v

    @model_validator(mode="after")
    def _shape(self) -> Silence:
        if self.rule is None and self.entity is None and self.family is None:
            raise ValueError("a silence needs at least one of rule, entity, family")
        if self.ends_at <= self.starts_at:
            raise ValueError(
                f"ends_at {self.ends_at.isoformat()} is not after starts_at "
                f"{self.starts_at.isoformat()}"
            )
        return self

    @property
    def until(self) -> datetime:
        """When it stops: `ends_at`, or `expired_at` if that is earlier."""
        if self.expired_at is not None and self.expired_at < self.ends_at:
            return self.expired_at
        return self.ends_at

    def in_force(self, at: datetime) -> bool:
        """True if it silences alerts at event time `at`."""
        return self.starts_at <= at < self.until

    def matches(self, alert: AlertEvent) -> bool:
        """True if every matcher it sets equals the alert's rule, subject or kind."""
        return (
            (self.rule is None or self.rule == alert.rule)
            and (self.entity is None or self.entity == alert.subject)
            and (self.family is None or self.family == alert.kind)
        )

    def describe(self) -> str:
        """The matchers as one line, e.g. `rule=cold-holding entity=fridge-3`."""
        pairs = (("rule", self.rule), ("entity", self.entity), ("family", self.family))
        return " ".join(f"{k}={v}" for k, v in pairs if v is not None)


def parse(payload: bytes) -> Silence | None:
    """A retained silence message; None for an empty one (removed). SilenceError otherwise."""
    if not payload.strip():
        return None
    if len(payload) > MAX_PAYLOAD:
        raise SilenceError(f"payload is {len(payload)} bytes, over {MAX_PAYLOAD}")
    try:
        return Silence.model_validate_json(payload)
    except ValidationError as exc:
        raise SilenceError(f"bad silence: {first_problem(exc, 'silence')}") from None


@dataclass(frozen=True)
class Known:
    """What the venue and the rules name: a matcher naming anything else is refused.
    None in a field: not known here (the matcher is taken as it is)."""

    rules: frozenset[str] | None = None
    entities: frozenset[str] | None = None
    families: frozenset[str] | None = None

    def problems(self, silence: Silence) -> list[str]:
        """One line per matcher that names something unknown."""
        out = []
        for field, value, names in (
            ("rule", silence.rule, self.rules),
            ("entity", silence.entity, self.entities),
            ("family", silence.family, self.families),
        ):
            if value is not None and names is not None and value not in names:
                near = ", ".join(sorted(names)[:8])
                out.append(f"{field}: unknown {field} {value!r} (known: {near}, ...)")
        return out


def known_from(settings: Settings) -> Known:
    """What the settings' venue and rules files name (each left open without its file)."""
    from opsroom.families import FAMILIES
    from opsroom.rulesfile.model import load_rules
    from opsroom.rulesfile.subjects import subjects_of
    from opsroom.venue import load_venue

    venue = load_venue(settings.venue) if settings.venue else None
    rules = None
    if venue is not None and settings.rules:
        rules = frozenset(r.id for r in load_rules(settings.rules, venue).rules)
    entities = frozenset(subjects_of(venue)) if venue is not None else None
    return Known(rules, entities, frozenset(FAMILIES))


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `2h`, `1d` (also `1.5h`); SilenceError otherwise."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise SilenceError(f"duration {text!r}: write e.g. 30m, 2h or 1d")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def build(
    *,
    rule: str | None,
    entity: str | None,
    family: str | None,
    reason: str,
    author: str,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    duration: timedelta | None = None,
    now: datetime | None = None,
    known: Known | None = None,
    silence_id: str | None = None,
) -> Silence:
    """A checked new silence; SilenceError names what is wrong (nothing is published)."""
    now = now or utcnow()
    start = starts_at or now
    if (ends_at is None) == (duration is None):
        raise SilenceError("give either a duration (--for) or an end time (--until)")
    end = ends_at if ends_at is not None else start + (duration or timedelta())
    try:
        silence = Silence(
            id=silence_id or f"s-{uuid.uuid4().hex[:12]}",
            rule=rule or None,
            entity=entity or None,
            family=family or None,
            starts_at=start,
            ends_at=end,
            author=author,
            reason=reason,
            created_at=now,
        )
    except ValidationError as exc:
        raise SilenceError(first_problem(exc, "silence")) from None
    problems = known.problems(silence) if known is not None else []
    if problems:
        raise SilenceError("; ".join(problems))
    return silence


def payload(silence: Silence) -> bytes:
    """The retained JSON of a silence."""
    return silence.model_dump_json(exclude_none=True).encode()


# -- the broker: publish and read the retained messages -------------------------------------


def publish(settings: Settings, silence: Silence, timeout: float = 5.0) -> str:
    """Publish a silence retained and wait for the broker's PUBACK; return the topic."""
    topic = topics.silence(settings.event, silence.id)
    return _publish_retained(settings, topic, payload(silence), timeout)


def _publish_retained(settings: Settings, topic: str, body: bytes, timeout: float) -> str:
    publish_confirmed(settings, "silence", [(topic, body, True)], topic, timeout)
    return topic


def fetch(settings: Settings, timeout: float = 5.0) -> tuple[list[Silence], list[str]]:
    """Every retained silence of the event, and one line per message that is not one.

    The broker sends the retained messages right after the subscription; a marker this client
    publishes after the SUBACK comes back after them, so "all of them" is a positive signal.
    """
    marker = f"_end-{uuid.uuid4().hex[:12]}"
    got: list[tuple[str, bytes]] = []
    subscribed, done = threading.Event(), threading.Event()

    def on_subscribe(*_: object) -> None:
        subscribed.set()

    def on_message(c: object, u: object, msg: mqtt.MQTTMessage) -> None:
        sid = topics.parse_silence(msg.topic, settings.event)
        if sid == marker:
            done.set()
        elif sid is not None and msg.retain:
            got.append((sid, bytes(msg.payload)))

    with short_session(settings, "silences", timeout) as client:
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        client.subscribe(topics.silences_filter(settings.event), qos=1)
        if not subscribed.wait(timeout):
            raise ConnectionError(
                f"MQTT broker at {settings.mqtt} did not confirm the subscription"
            )
        client.publish(topics.silence(settings.event, marker), b"", qos=1)
        if not done.wait(timeout):
            raise ConnectionError("the silences could not be read (no permission to publish?)")
    silences, bad = [], []
    for sid, body in got:
        try:
            s = parse(body)
        except SilenceError as exc:
            bad.append(f"{sid}: {exc}")
            continue
        if s is not None:
            silences.append(s)
    return sorted(silences, key=lambda s: (s.starts_at, s.id)), bad


def expire(
    settings: Settings, silence_id: str, at: datetime | None = None, timeout: float = 5.0
) -> Silence:
    """End a silence now: republish it with `expired_at`. SilenceError if there is none."""
    if not topics.valid_id(silence_id):
        raise SilenceError(f"invalid silence id {silence_id!r}")
    current = {s.id: s for s in fetch(settings, timeout)[0]}
    silence = current.get(silence_id)
    if silence is None:
        raise SilenceError(f"no silence {silence_id!r} on the broker (see `opsroom silence list`)")
    at = at or utcnow()
    if silence.until <= at:
        raise SilenceError(f"silence {silence_id} already ended at {silence.until.isoformat()}")
    ended = silence.model_copy(update={"expired_at": max(at, silence.starts_at)})
    publish(settings, ended, timeout)
    return ended


def in_force(silences: Iterable[Silence], at: datetime) -> list[Silence]:
    """Those in force at `at`, or to come."""
    return [s for s in silences if s.until > at]


def to_json(silence: Silence) -> bytes:
    """One JSON line for `opsroom silence list --json`."""
    return orjson.dumps(silence.model_dump(mode="json", exclude_none=True))
