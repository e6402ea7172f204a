"""Parsing a reading: the payload model of its family (`opsroom.families`), checked strictly."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import orjson
from pydantic import ValidationError

# a module, not its names: the families import opsroom.telemetry.base while they register
from opsroom import families
from opsroom.telemetry.base import Payload, Reading, Value

__all__ = [
    "Limits",
    "Payload",
    "PayloadError",
    "Reading",
    "Value",
    "parse_reading",
]

MAX_REASON = 300
# Firmware printing a float often writes NaN/Infinity (or C's nan/inf), which JSON does not allow.
_NON_FINITE = re.compile(r"[-+]?(?:nan|inf(?:inity)?)\b", re.IGNORECASE)


class PayloadError(ValueError):
    """A payload was rejected; `reason` says why in words a technician can act on."""

    def __init__(self, reason: str) -> None:
        self.reason = reason[:MAX_REASON]
        super().__init__(self.reason)


class Limits:
    """What ingest accepts: payload size and how far a timestamp may be from now."""

    __slots__ = ("max_age", "max_bytes", "max_future")

    def __init__(
        self,
        max_bytes: int = 16_384,
        max_future: timedelta = timedelta(minutes=5),
        max_age: timedelta = timedelta(days=2),
    ) -> None:
        self.max_bytes = max_bytes
        self.max_future = max_future
        self.max_age = max_age


def _not_json(payload: bytes, exc: orjson.JSONDecodeError) -> str:
    """Why a payload is not JSON, naming NaN/Infinity when that is the cause."""
    text = payload.decode("utf-8", errors="replace")
    start = exc.pos - 1 if 0 < exc.pos <= len(text) and text[exc.pos - 1] in "+-" else exc.pos
    if "infinity" in exc.msg or _NON_FINITE.match(text, start):
        return f"not valid JSON (NaN and Infinity are not allowed, numbers must be finite): {exc}"
    return f"not valid JSON: {exc}"


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "payload"
        value = err.get("input")
        shown = "" if isinstance(value, dict | list) else f" (got {value!r:.40})"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}{shown}")
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _validate_slowly(family: families.Family, payload: bytes, first: ValidationError) -> Payload:
    """Validate in steps (JSON, object, schema) to say precisely why a payload is bad.

    `first` is the error of the one-pass validation; its words are the reason when the JSON
    itself is fine (orjson reads an integer beyond 64 bits as a float, which would make the
    reason for `"occupancy": 18446744073709551616` "should be a valid integer").
    """
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(_not_json(payload, exc)) from None
    if not isinstance(data, dict):
        raise PayloadError(f"payload must be a JSON object, got {type(data).__name__}")
    try:
        return family.model.model_validate(data)
    except ValidationError:
        raise PayloadError(_describe(first)) from None


def parse_reading(
    kind: str, sensor_id: str, payload: bytes, now: datetime, limits: Limits
) -> Reading:
    """Validate one MQTT payload into a Reading, or raise PayloadError with the reason."""
    family = families.FAMILIES.get(kind)
    if family is None:
        known = ", ".join(sorted(families.FAMILIES))
        raise PayloadError(f"unknown sensor kind {kind!r} (known: {known})")
    if len(payload) > limits.max_bytes:
        raise PayloadError(f"payload is {len(payload)} bytes, over the {limits.max_bytes} limit")
    try:
        # fast path: pydantic parses and validates the bytes in one pass (Rust)
        model = family.model.model_validate_json(payload)
    except ValidationError as exc:
        model = _validate_slowly(family, payload, exc)  # raises PayloadError with a clear reason
    ts = model.ts
    if ts - now > limits.max_future:
        raise PayloadError(
            f"ts {ts.isoformat()} is more than {limits.max_future} ahead of now ({now.isoformat()})"
        )
    if now - ts > limits.max_age:
        raise PayloadError(
            f"ts {ts.isoformat()} is older than the {limits.max_age} limit (now {now.isoformat()})"
        )
    return Reading(kind, sensor_id, ts, model.values(), model.drill)
