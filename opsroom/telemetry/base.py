"""What every sensor family shares: the payload base model and the Reading."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
)

Value = float | int | bool


def _aware(ts: datetime) -> datetime:
    """Naive timestamps are taken as UTC."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


_EPOCH_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def _seconds_or_datetime(value: object) -> object:
    """Refuse what pydantic would guess at: a date without a time, or epoch milliseconds.

    Epoch seconds written as a string ("1795914637") are read as the number: pydantic took
    longer ones already (and 13 digits as milliseconds), so every numeric string is treated
    alike and passes the same milliseconds check as a number.
    """
    if isinstance(value, str) and _EPOCH_TEXT.fullmatch(value):
        value = float(value)
    if isinstance(value, str) and len(value) <= 10:
        raise ValueError("needs a date and a time (ISO-8601) or epoch seconds")
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) > 2e10:
        raise ValueError("epoch timestamps are in seconds (this looks like milliseconds)")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_seconds_or_datetime), AfterValidator(_aware)]
# Numbers are strict: `true` or `"5"` is not a temperature. Ints are accepted and become floats,
# so a field keeps one type in the store. Every numeric field of a family also has bounds (what
# a device can report): a value beyond them is a broken or hostile device, and the bounds keep
# every value inside what both stores can hold (64-bit integers, finite floats).
Number = StrictFloat
# The largest crowds counted at one venue (festivals of a few hundred thousand a day) stay well
# under a million; one counter reporting more is broken. An unbounded count let a single
# `18446744073709551616` reach the store, which cannot hold it, and stop ingest.
MAX_COUNT = 1_000_000
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]


class Payload(BaseModel):
    """Fields common to every payload. Unknown extra fields are ignored, never fatal."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)

    ts: Timestamp = Field(
        description="ISO-8601 (naive means UTC) or epoch seconds (a number or its digits)"
    )
    drill: StrictBool = Field(False, description="true for data played by a drill simulator")

    common_fields: ClassVar[frozenset[str]] = frozenset({"ts", "drill"})
    _value_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._value_fields = tuple(n for n in cls.model_fields if n not in cls.common_fields)

    def values(self) -> dict[str, Value]:
        """The measured values: every field but ts/drill that is set."""
        data = self.__dict__
        return {name: data[name] for name in self._value_fields if data[name] is not None}


class Reading(NamedTuple):
    """One validated reading of one sensor, as stored and as rules see it.

    A NamedTuple: ingest makes one per message, and a frozen dataclass cost 1 µs more each.
    """

    kind: str
    sensor_id: str
    ts: datetime
    values: dict[str, Value]
    drill: bool = False

    def to_json(self) -> dict[str, Any]:
        """The reading as a flat JSON-able dict (kind, sensor_id, ts, drill, fields...)."""
        return {
            "kind": self.kind,
            "sensor_id": self.sensor_id,
            "ts": self.ts.isoformat(),
            "drill": self.drill,
            **self.values,
        }
