"""A control log entry: one timed, signed line of what the ops room saw, did or decided.

Entries are never edited or deleted: a correction is a new entry whose `corrects` names the
entry it corrects, and an incident's state is a fold over its entries (incidents.py). An
entry's `id` is a UUID; an incident is named by the id of the entry that opened it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from opsroom import topics
from opsroom.alerts import AlertEvent
from opsroom.clock import Clock, to_us, utcnow
from opsroom.telemetry.base import Timestamp

# Incident categories. Some share a word with a sensor family ("crowd", "power"); they are
# kinds of incident, not families, so they are a tuple checked by a validator, not a Literal.
CATEGORIES: tuple[str, ...] = (
    "medical",
    "lost_person",
    "found_person",
    "security",
    "crowd",
    "weather",
    "power",
    "food_safety",
    "transport",
    "facilities",
    "communications",
    "other",
)


def _category(value: str) -> str:
    if value not in CATEGORIES:
        raise ValueError(f"unknown category {value!r}: one of {', '.join(CATEGORIES)}")
    return value


Category = Annotated[str, AfterValidator(_category)]
Priority = Literal["low", "normal", "high", "urgent"]
Kind = Literal[
    "note",
    "incident_open",
    "update",
    "assigned",
    "incident_close",
    "decision",
    "correction",
    "alert",
    "plan_activated",
    "plan_step",
]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)
KINDS: tuple[Kind, ...] = get_args(Kind)
MAX_TEXT = 2000
MAX_NAME = 100
# the entries of one incident (kinds that need `incident_id`)
THREAD_KINDS = frozenset({"update", "assigned", "incident_close"})
SEVERITY_PRIORITY: dict[str, Priority] = {"critical": "urgent", "warning": "high", "info": "normal"}
_LATLON = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$")
_PLAN_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")  # as a plans file id
MAX_STEPS = 100
# alert entries get a fixed id per transition, so the rules service can write them again
_ALERT_NS = uuid.UUID("5b0c2f7e-6f0e-4c55-9a53-0c7a1f1f15ab")


def category_of(kind: str) -> str:
    """The log category of an alert about sensor family `kind` (its family says; else other)."""
    from opsroom.families import FAMILIES

    family = FAMILIES.get(kind)
    return family.log_category if family is not None else "other"


class LogError(ValueError):
    """An entry that cannot be recorded; the message names what was wrong."""


def _uuid(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise ValueError(f"{what} {str(value)[:60]!r} is not an entry id (a UUID)") from None


def _text(value: str, what: str, limit: int) -> str:
    value = value.strip()
    if "\x00" in value:
        raise ValueError(f"{what} contains a NUL character")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid Unicode (a lone surrogate)") from None
    if len(value) > limit:
        raise ValueError(f"{what} is {len(value)} characters, at most {limit}")
    return value


class LogEntry(BaseModel):
    """One control log entry, as stored, published on MQTT and exported."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(description="a UUID")
    event_ts: Timestamp = Field(description="event time (a drill's clock in a drill)")
    wall_ts: Timestamp = Field(description="wall clock when it was recorded")
    author: str
    category: Category
    priority: Priority = "normal"
    kind: Kind = "note"
    text: str
    location: str | None = Field(None, description="a venue entity id or 'lat,lon'")
    incident_id: str | None = Field(None, description="the incident_open entry's id")
    corrects: str | None = Field(None, description="the id of the entry this one corrects")
    decision: str | None = None
    rationale: str | None = None
    decided_by: str | None = None
    alert_id: str | None = None
    owner: str | None = Field(None, description="who an incident or an alert is assigned to")
    plan_id: str | None = Field(None, description="a contingency plan (plan_* entries)")
    step_id: str | None = Field(None, description="the plan step a plan_step entry ticks")
    activation_id: str | None = Field(
        None, description="the plan_activated entry a plan_step belongs to (or its newest)"
    )
    steps_due: dict[str, Timestamp] | None = Field(
        None, description="a plan_activated entry's step ids and their due (event) times"
    )
    drill: bool = False

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return _uuid(v, "id") or v

    @field_validator("incident_id", "corrects", "activation_id")
    @classmethod
    def _ref(cls, v: str | None, info: Any) -> str | None:
        return _uuid(v, info.field_name)

    @field_validator("text")
    @classmethod
    def _body(cls, v: str) -> str:
        v = _text(v, "text", MAX_TEXT)
        if not v:
            raise ValueError("text is empty")
        return v

    @field_validator("author", "decided_by", "owner")
    @classmethod
    def _name(cls, v: str | None, info: Any) -> str | None:
        if v is None:
            return None
        v = _text(v, info.field_name, MAX_NAME)
        if not v and info.field_name == "author":
            raise ValueError("author is empty: say who records the entry")
        return v or None

    @field_validator("decision", "rationale")
    @classmethod
    def _long(cls, v: str | None, info: Any) -> str | None:
        return None if v is None else _text(v, info.field_name, MAX_TEXT) or None

    @field_validator("location")
    @classmethod
    def _location(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip()
        point = _LATLON.fullmatch(v)
        if point:
            lat, lon = float(point[1]), float(point[2])
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"location {v!r}: latitude or longitude out of range")
            return f"{lat},{lon}"
        if not topics.valid_id(v):
            raise ValueError(f"location {v[:60]!r} is neither a venue entity id nor 'lat,lon'")
        return v

    @field_validator("alert_id")
    @classmethod
    def _alert(cls, v: str | None) -> str | None:
        if v is not None and not topics.valid_id(v):
            raise ValueError(f"alert_id {v[:60]!r} is not an alert id")
        return v

    @field_validator("plan_id", "step_id")
    @classmethod
    def _plan_ref(cls, v: str | None, info: Any) -> str | None:
        if v is not None and not _PLAN_REF.fullmatch(v):
            raise ValueError(f"{info.field_name} {v[:60]!r} is not a plan or step id")
        return v

    @field_validator("steps_due")
    @classmethod
    def _steps_due(cls, v: dict[str, datetime] | None) -> dict[str, datetime] | None:
        if v is None:
            return None
        if not v or len(v) > MAX_STEPS:
            raise ValueError(f"steps_due lists 1 to {MAX_STEPS} steps, not {len(v)}")
        for step in v:
            if not _PLAN_REF.fullmatch(step):
                raise ValueError(f"steps_due: {step[:60]!r} is not a step id")
        return v

    @model_validator(mode="after")
    def _kind_fields(self) -> LogEntry:
        need = {
            "correction": ("corrects",),
            "decision": ("decision", "rationale"),
            "assigned": ("owner",),
            "alert": ("alert_id",),
            "plan_activated": ("plan_id", "steps_due"),
            "plan_step": ("plan_id", "step_id"),
        }.get(self.kind, ())
        # an alert is assigned without an incident: its entry names the alert instead
        if self.kind in THREAD_KINDS and not (self.kind == "assigned" and self.alert_id):
            need = (*need, "incident_id")
        missing = [name for name in need if not getattr(self, name)]
        if missing:
            raise ValueError(f"a {self.kind} entry needs {' and '.join(missing)}")
        if self.kind == "incident_open" and self.incident_id not in (None, self.id):
            raise ValueError("an incident_open entry opens its own incident (incident_id = id)")
        return self

    @property
    def point(self) -> tuple[float, float] | None:
        """The location as (lat, lon) when it is a point on the map."""
        if self.location is None:
            return None
        match = _LATLON.fullmatch(self.location)
        return (float(match[1]), float(match[2])) if match else None

    def matches(self, text: str) -> bool:
        """True if `text` occurs (case-insensitive) in the entry's words: the search both
        adapters apply, so they find the same entries."""
        needle = text.casefold()
        words = (self.text, self.author, self.decision, self.rationale, self.decided_by,
                 self.owner, self.location, self.alert_id)  # fmt: skip
        return any(needle in w.casefold() for w in words if w)


def _problem(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where and not message.startswith(where) else message)
    return "; ".join(parts)


def new_entry(
    *,
    author: str,
    category: str,
    text: str,
    kind: str = "note",
    priority: str = "normal",
    event_ts: datetime | None = None,
    clock: Clock = utcnow,
    entities: Collection[str] | None = None,
    **fields: Any,
) -> LogEntry:
    """A new entry with a fresh id, stamped now (event time defaults to the wall clock).

    Raises LogError naming every field at fault. With `entities` (the venue's ids), a
    location that is not a point must be one of them. An incident_open entry is its own
    incident.
    """
    wall = clock()
    entry_id = str(uuid.uuid4())
    if kind == "incident_open":
        fields["incident_id"] = entry_id
    try:
        entry = LogEntry(
            id=entry_id,
            event_ts=event_ts or wall,
            wall_ts=wall,
            author=author,
            category=category,
            priority=priority,
            kind=kind,
            text=text,
            **fields,
        )
    except ValidationError as exc:
        raise LogError(f"log entry not recorded: {_problem(exc)}") from None
    if entities is not None and entry.location and entry.point is None:  # noqa: SIM102
        if entry.location not in entities:
            raise LogError(
                f"log entry not recorded: location {entry.location!r} is not an entity of the"
                " venue (use its id, or 'lat,lon')"
            )
    return entry


def _printable(text: str, limit: int) -> str:
    """Text from a sender (an acknowledgement's note) made fit for an entry: no NUL, no lone
    surrogate, within the limit. The log keeps what it can rather than lose the transition."""
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text.strip()[:limit]


def service_entry(
    key: str,
    event_ts: datetime,
    category: str,
    priority: Priority,
    text: str,
    alert_id: str | None = None,
    drill: bool = False,
    now: datetime | None = None,
    kind: Kind | None = None,
    **fields: Any,
) -> LogEntry:
    """An entry the rules service writes by itself (an escalation, a silence taken, a plan
    activated). Its id is fixed by `key`, so writing it again after a restart adds nothing."""
    return LogEntry(
        id=str(uuid.uuid5(_ALERT_NS, key)),
        event_ts=event_ts,
        wall_ts=now or datetime.now(UTC),
        author="rules",
        category=category,
        priority=priority,
        kind=kind or ("alert" if alert_id else "note"),
        text=_printable(text, MAX_TEXT),
        alert_id=alert_id,
        drill=drill,
        **fields,
    )


def alert_entry(event: AlertEvent, now: datetime | None = None) -> LogEntry:
    """The log entry of one alert transition. Its id is fixed by (alert, state, ts), so the
    rules service writing it again (after a restart or a store outage) adds nothing."""
    key = f"{event.alert_id}/{event.state}/{to_us(event.ts)}"
    verb = {"acknowledged": f"acknowledged by {event.actor or 'someone'}"}.get(
        event.state, event.state
    )
    text = f"{event.severity.upper()} alert {verb}: {event.message or event.rule} ({event.subject})"
    if event.note:
        text += f" — {event.note}"
    actor = _printable(event.actor or "", MAX_NAME)
    return LogEntry(
        id=str(uuid.uuid5(_ALERT_NS, key)),
        event_ts=event.ts,
        wall_ts=event.recorded_at or now or datetime.now(UTC),
        author=actor if event.state == "acknowledged" and actor else "rules",
        category=category_of(event.kind),
        priority="normal"
        if event.state == "resolved"
        else SEVERITY_PRIORITY.get(event.severity, "normal"),
        kind="alert",
        text=_printable(text, MAX_TEXT),
        location=event.subject if topics.valid_id(event.subject) else None,
        alert_id=event.alert_id,
        drill=event.drill,
    )
