"""InfluxDB 2 store: the production adapter (influxdb-client, line protocol in, Flux out).

Over 400 lines on purpose: the whole adapter (line-protocol encoding, batched writes with
retries, one Flux query per Store method) in one module, read side by side with store/sqlite.py.

Data layout (one bucket, shared by any number of events):

- A reading is one point: measurement = kind, tags `event_id` (the store's event) and
  `sensor_id`, its values as fields (floats as floats, ints as `i` integers, bools as
  booleans), plus a boolean field `drill`, timestamp in microseconds. The series key is
  therefore exactly (event, kind, sensor_id) and the point key (event, kind, sensor_id, ts):
  writing a reading again overwrites the same point with the
  same values, which is what makes writes idempotent. (A *different* reading with the same key
  is merged field by field, last write wins, where SQLite keeps the first: redeliveries are
  identical, so the contract holds.) `drill` is a field, not a tag, because a tag would make
  the drill flag part of the key. Every reading point has the `drill` field, so it doubles as
  the "one per point" marker `count` counts and `latest` dates by.
- Queries see [1970-01-01, 2200-01-01) (`latest`: the last `latest_lookback` of it), and
  every query filters `r.event_id == <the store's event>`: points written before the tag
  existed (no `event_id`) are seen by no store.
- A control log entry is one point of measurement `control_log`, tags `event_id`, `log_id`
  (the entry's id: no two entries share a point), `category` and, in a thread, `incident_id`,
  timestamp = its event_ts (microseconds), fields `entry` (the entry as JSON) and `seq`
  (insertion order). As with alert transitions, an id already stored is not written again.
- An alert transition is one point of measurement `alert_events`, tags `event_id`, `alert_id`
  and `state`,
  timestamp = the event's ts (microseconds), fields `event` (the whole event as JSON, what is
  read back), `severity` and `seq` (an increasing number giving the insertion order among
  events with the same ts). A transition already stored is not written again, so the first
  write wins as in the SQLite adapter.
- An audit entry is one point of measurement `audit`, tags `event_id`, `action`, `user` and
  `target` (left out when empty), timestamp = the entry's ts (microseconds), one field `entry`
  (the whole entry as JSON). The point key is the entry's identity (event, ts, user, action,
  target), so writing it again is a no-op; the adapter has no method that deletes one.

Writes go through the synchronous write API, one HTTP request per batch (the ingest service
batches already): when `write_readings` returns the data is stored and readable, and when it
fails the caller gets a StoreError and can keep the batch. Every client, HTTP and Flux error
is raised as StoreError; the messages never contain the token.
"""

from __future__ import annotations

import math
import re
import threading
import time
import types
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Union, get_args, get_origin

import urllib3
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.flux_csv_parser import FluxCsvParserException, FluxQueryException
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from pydantic import ValidationError

from opsroom.alerts import AlertEvent
from opsroom.audit import AuditEntry
from opsroom.controllog.model import LogEntry
from opsroom.families import FAMILIES
from opsroom.store.base import BadDataError, SeriesPoint, StoreError, show_int
from opsroom.telemetry import Payload, Reading, Value

__all__ = [
    "ALERT_MEASUREMENT",
    "AUDIT_MEASUREMENT",
    "DRILL_FIELD",
    "EVENT_TAG",
    "LOG_MEASUREMENT",
    "SENSOR_TAG",
    "InfluxStore",
    "alert_to_line",
    "audit_to_line",
    "flux_string",
    "flux_time",
    "log_to_line",
    "reading_to_line",
]

ALERT_MEASUREMENT: Final = "alert_events"
AUDIT_MEASUREMENT: Final = "audit"
LOG_MEASUREMENT: Final = "control_log"
SENSOR_TAG: Final = "sensor_id"
# `event_id`, not `event`: the alert points already have a field `event` (the JSON)
EVENT_TAG: Final = "event_id"
DRILL_FIELD: Final = "drill"

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)
# Flux needs explicit bounds; "all time" is this range. The stop is far in the future on
# purpose: range()'s default stop is now(), which would hide readings stamped a little ahead.
RANGE_MIN: Final = EPOCH
RANGE_MAX: Final = datetime(2200, 1, 1, tzinfo=UTC)
# Lines per HTTP write request (a batch larger than this is sent in several requests).
WRITE_CHUNK: Final = 5_000
# WritePrecision.US is the string "us" although write() annotates the parameter as WritePrecision.
_PRECISION: Any = WritePrecision.US
_INT64 = (-(2**63), 2**63 - 1)
# InfluxDB keeps nanoseconds in 64 bits: 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16Z.
_TS_US = (_INT64[0] // 1000 + 1, _INT64[1] // 1000)
# InfluxDB refuses a series key (measurement and tags) or field key longer than 64 KiB; each name
# and tag value is held to this so that a line never fails on the server for its length.
MAX_KEY_BYTES: Final = 16_384
_REFUSED_DATA = frozenset({400, 413, 422})
# Field names `series` accepts (the same rule as the SQLite adapter).
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Field keys a reading may not use: ours (tag, drill marker) and InfluxDB's reserved `time`.
_RESERVED_FIELDS = frozenset({SENSOR_TAG, EVENT_TAG, DRILL_FIELD, "time"})

# Line protocol escapes (https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/):
# measurement: comma, space; tag keys, tag values, field keys: comma, equals sign, space;
# string field values: double quote, backslash.
_ESCAPE_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ "})
_ESCAPE_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_ESCAPE_STRING = str.maketrans({"\\": "\\\\", '"': '\\"'})
# Flux string literals: backslash, double quote, and `${` (interpolation) are escaped.
_ESCAPE_FLUX = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


# --------------------------------------------------------------------------- line protocol


def epoch_us(ts: datetime) -> int:
    """Exact epoch microseconds of a datetime (naive means UTC), by integer arithmetic."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return (ts - EPOCH) // _US


def from_epoch_us(us: int) -> datetime:
    """Aware UTC datetime of epoch microseconds (exact)."""
    return EPOCH + timedelta(microseconds=us)


def _check_identifier(what: str, text: str, *, is_value: bool = False) -> None:
    """Refuse what line protocol cannot carry faithfully.

    Newlines and other control characters end a line; a backslash is kept literally by the
    parser except before a comma, space or equals sign or at the end, where it cannot be
    written at all, so backslashes are refused everywhere. Names (not tag values) must not
    start with `_` (InfluxDB's namespace) or `#` (a comment line).
    """
    if not text:
        raise ValueError(f"{what} is empty")
    if "\\" in text or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError(f"{what} {text[:60]!r} contains a backslash or a control character")
    size = _utf8_size(what, text)
    if size > MAX_KEY_BYTES:
        raise ValueError(f"{what} {text[:60]!r}... is {size} bytes, over {MAX_KEY_BYTES}")
    if not is_value and text[0] in "_#":
        raise ValueError(f"{what} {text[:60]!r} starts with {text[0]!r}")


def _utf8_size(what: str, text: str) -> int:
    try:
        return len(text.encode())
    except UnicodeEncodeError:
        raise ValueError(f"{what} {text[:60]!r} is not valid Unicode (a lone surrogate)") from None


def _measurement(name: str) -> str:
    _check_identifier("measurement", name)
    return name.translate(_ESCAPE_MEASUREMENT)


def _key(what: str, name: str) -> str:
    _check_identifier(what, name)
    return name.translate(_ESCAPE_KEY)


def _tag_value(what: str, value: str) -> str:
    _check_identifier(what, value, is_value=True)
    return value.translate(_ESCAPE_KEY)


def _string_field(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("string field values cannot contain newlines in line protocol")
    _utf8_size("string field value", value)
    return '"' + value.translate(_ESCAPE_STRING) + '"'


def _number_field(name: str, value: object, as_float: bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise ValueError(f"field {name!r}: {show_int(value)} does not fit a 64-bit integer")
        if not as_float:
            return f"{value}i"
        if float(value) != value:  # beyond 2**53 not every integer has a float
            raise ValueError(f"field {name!r}: {value} has no exact float value (a float field)")
        value = float(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"field {name!r}: {value} is not a finite number")
        return repr(value)  # shortest round-trip form: 3.5, 1e+20, -1.5e-07
    raise ValueError(f"field {name!r}: unsupported value type {type(value).__name__}")


def _base_types(annotation: object) -> set[object]:
    """The plain types behind an annotation: Optional[Annotated[float, ...]] -> {float}."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _base_types(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        out: set[object] = set()
        for arg in get_args(annotation):
            if arg is not type(None):
                out |= _base_types(arg)
        return out
    return {annotation}


_float_fields_cache: dict[str, frozenset[str]] = {}


def _float_fields(kind: str) -> frozenset[str]:
    """Fields the family of `kind` declares as floats (ints given for them are written as floats,
    so a field keeps one type in InfluxDB whatever a caller passes)."""
    cached = _float_fields_cache.get(kind)
    if cached is not None:
        return cached
    family = FAMILIES.get(kind)
    if family is None:
        return frozenset()
    found = frozenset(
        info.alias or name
        for name, info in family.model.model_fields.items()
        if name not in Payload.common_fields and _base_types(info.annotation) == {float}
    )
    _float_fields_cache[kind] = found
    return found


def _bool_fields(kind: str) -> frozenset[str]:
    family = FAMILIES.get(kind)
    if family is None:
        return frozenset()
    return frozenset(
        info.alias or name
        for name, info in family.model.model_fields.items()
        if name not in Payload.common_fields and _base_types(info.annotation) == {bool}
    )


def reading_to_line(reading: Reading, event: str = "demo") -> str:
    """One reading of `event` as one line of line protocol (timestamp in microseconds).

    `kind,event_id=<event>,sensor_id=<id> <fields>,drill=<bool> <us>` (tags in key order, as
    InfluxDB sorts them); fields sorted by name. Raises ValueError
    for what line protocol cannot carry (see `_check_identifier`) or a non-finite number.
    """
    floats = _float_fields(reading.kind)
    fields: list[tuple[str, str]] = []
    for name, value in reading.values.items():
        if name in _RESERVED_FIELDS:
            raise ValueError(f"reading field {name!r} is a reserved name")
        fields.append((_key("field key", name), _number_field(name, value, name in floats)))
    fields.append((DRILL_FIELD, "true" if reading.drill else "false"))
    fields.sort()
    us = epoch_us(reading.ts)
    if not _TS_US[0] <= us <= _TS_US[1]:
        raise ValueError(f"ts {reading.ts.isoformat()} is outside InfluxDB's 1677-2262 range")
    return (
        f"{_measurement(reading.kind)},{EVENT_TAG}={_tag_value('event', event)}"
        f",{SENSOR_TAG}={_tag_value('sensor_id', reading.sensor_id)} "
        + ",".join(f"{k}={v}" for k, v in fields)
        + f" {us}"
    )


def alert_to_line(event: AlertEvent, seq: int | None = None, *, event_id: str = "demo") -> str:
    """One alert transition of event `event_id` as one line of line protocol (microseconds).

    `alert_events,alert_id=<id>,event_id=<event>,state=<state> event="<json>",[seq=<n>i,]
    severity="..." <us>`.
    """
    fields = [f"event={_string_field(event.model_dump_json())}"]
    if seq is not None:
        fields.append(f"seq={_number_field('seq', seq, False)}")
    fields.append(f"severity={_string_field(event.severity)}")
    return (
        f"{ALERT_MEASUREMENT},alert_id={_tag_value('alert_id', event.alert_id)}"
        f",{EVENT_TAG}={_tag_value('event', event_id)}"
        f",state={_tag_value('state', event.state)} " + ",".join(fields) + f" {epoch_us(event.ts)}"
    )


def audit_to_line(entry: AuditEntry, *, event_id: str = "demo") -> str:
    """One audit entry of event `event_id` as one line of line protocol (microseconds).

    `audit,action=<a>,event_id=<event>,target=<t>,user=<u> entry="<json>" <us>` (no `target`
    tag when it is empty: a tag value cannot be).
    """
    tags = [("action", entry.action), (EVENT_TAG, event_id), ("user", entry.user)]
    if entry.target:
        tags.append(("target", entry.target))
    tags.sort()
    us = epoch_us(entry.ts)
    if not _TS_US[0] <= us <= _TS_US[1]:
        raise ValueError(f"ts {entry.ts.isoformat()} is outside InfluxDB's 1677-2262 range")
    return (
        AUDIT_MEASUREMENT
        + "".join(f",{k}={_tag_value(k, v)}" for k, v in tags)
        + f" entry={_string_field(entry.model_dump_json())} {us}"
    )


def log_to_line(entry: LogEntry, seq: int, *, event_id: str = "demo") -> str:
    """One control log entry of event `event_id` as one line of line protocol (microseconds).

    `control_log,category=<c>,event_id=<event>[,incident_id=<id>],log_id=<id>
    entry="<json>",seq=<n>i <us>`.
    """
    tags = [("category", entry.category), (EVENT_TAG, event_id)]
    if entry.incident_id:
        tags.append(("incident_id", entry.incident_id))
    tags.append(("log_id", entry.id))
    return (
        LOG_MEASUREMENT
        + "".join(f",{k}={_tag_value(k, v)}" for k, v in tags)
        + f" entry={_string_field(entry.model_dump_json())},seq={_number_field('seq', seq, False)}"
        + f" {epoch_us(entry.event_ts)}"
    )


# --------------------------------------------------------------------------- Flux helpers


def flux_string(text: str) -> str:
    """A Flux string literal of `text` (quotes, backslashes and `${` escaped)."""
    return '"' + text.translate(_ESCAPE_FLUX).replace("${", "\\${") + '"'


def flux_time(ts: datetime) -> str:
    """A Flux RFC 3339 time literal, UTC, microseconds, clamped to [RANGE_MIN, RANGE_MAX]."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    ts = min(max(ts.astimezone(UTC), RANGE_MIN), RANGE_MAX)
    return ts.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _flux_any(column: str, values: Iterable[str]) -> str:
    """`(r.col == "a" or r.col == "b")`: a filter InfluxDB pushes down to storage."""
    return "(" + " or ".join(f"r.{column} == {flux_string(v)}" for v in values) + ")"


def _aware(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


def _alert_key(row: dict[str, Any]) -> tuple[str, str, int] | None:
    """(alert_id, state, epoch µs) of an alert_events row, None if it lacks one."""
    alert_id, state, ts = row.get("alert_id"), row.get("state"), row.get("_time")
    if isinstance(alert_id, str) and isinstance(state, str) and isinstance(ts, datetime):
        return alert_id, state, epoch_us(ts)
    return None


def _as_value(value: object) -> Value | None:
    if isinstance(value, bool | int | float):
        return value
    return None


# --------------------------------------------------------------------------- the store


class InfluxStore:
    """The Store protocol on an InfluxDB 2 bucket, scoped to one event (see
    opsroom.store.base.Store): its points carry the `event_id` tag and its queries filter by it,
    so several events (a rehearsal and the live day) can share a bucket.

    `latest_lookback` bounds how far back `latest` looks for a sensor's newest reading
    (a sensor silent for longer is not returned).
    """

    def __init__(
        self,
        url: str,
        token: str,
        org: str,
        bucket: str,
        *,
        event: str = "demo",
        latest_lookback: timedelta = timedelta(days=30),
        timeout: timedelta = timedelta(seconds=10),
    ) -> None:
        if latest_lookback <= timedelta(0):
            raise ValueError("latest_lookback must be positive")
        _check_identifier("event", event, is_value=True)  # what a tag value can carry
        self.event = event
        self.url = url
        self.org = org
        self.bucket = bucket
        self.latest_lookback = latest_lookback
        self._token = token
        self._lock = threading.Lock()
        self._last_seq = 0
        self._closed = False
        with self._errors("connect"):
            self._client = InfluxDBClient(
                url=url, token=token, org=org, timeout=int(timeout / timedelta(milliseconds=1))
            )
            self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
            self._query_api = self._client.query_api()

    def __repr__(self) -> str:
        return (
            f"InfluxStore(url={self.url!r}, org={self.org!r}, bucket={self.bucket!r},"
            f" event={self.event!r})"
        )

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Turn every client/HTTP/Flux failure into a StoreError without the token."""
        try:
            yield
        except StoreError:
            raise
        except InfluxDBError as exc:
            status = getattr(exc, "status", None) or getattr(exc.response, "status", None)
            if status:
                detail = f"HTTP {status}: {exc.message}"
            else:  # no HTTP response (e.g. TLS failure): the reason says what happened
                detail = str(getattr(exc, "reason", None) or exc.message)
            # 400 (unparsable, field type conflict), 413 (too large), 422 (outside retention):
            # the server refuses the data and would refuse it again; anything else may pass
            error = BadDataError if status in _REFUSED_DATA else StoreError
            raise error(self._message(what, detail)) from exc
        except FluxQueryException as exc:
            raise StoreError(self._message(what, f"Flux error: {exc.message}")) from exc
        except (FluxCsvParserException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise StoreError(self._message(what, f"{type(exc).__name__}: {exc}")) from exc

    def _message(self, what: str, detail: str) -> str:
        text = f"InfluxDB {what} failed ({self.url}, bucket {self.bucket!r}): {detail}"
        return text.replace(self._token, "***") if self._token else text

    def _query(self, what: str, flux: str) -> list[dict[str, Any]]:
        """Run a Flux query; each row is a FluxRecord's values (column name -> value)."""
        if self._closed:
            raise StoreError(self._message(what, "the store is closed"))
        with self._errors(what):
            tables = self._query_api.query(flux, org=self.org)
            return [record.values for table in tables for record in table.records]

    def _write_lines(self, what: str, lines: Sequence[str]) -> None:
        if self._closed:
            raise StoreError(self._message(what, "the store is closed"))
        for i in range(0, len(lines), WRITE_CHUNK):
            body = "\n".join(lines[i : i + WRITE_CHUNK])
            with self._errors(what):
                self._write_api.write(
                    bucket=self.bucket, org=self.org, record=body, write_precision=_PRECISION
                )

    def _from(self, start: datetime, stop: datetime) -> str:
        """The query's head: bucket, range, and the store's event (every query has all three)."""
        return (
            f"from(bucket: {flux_string(self.bucket)})\n"
            f"  |> range(start: {flux_time(start)}, stop: {flux_time(stop)})\n"
            f"  |> filter(fn: (r) => r.{EVENT_TAG} == {flux_string(self.event)})\n"
        )

    # ------------------------------------------------------------------ readings

    def write_readings(self, readings: Sequence[Reading]) -> None:
        """Store a batch of readings (one request per WRITE_CHUNK lines; idempotent)."""
        if not readings:
            return
        lines = []
        for r in readings:
            try:
                lines.append(reading_to_line(r, self.event))
            except (ValueError, TypeError) as exc:  # TypeError: not a Reading's types at all
                which = f"{str(r.kind)[:40]!r} reading of {str(r.sensor_id)[:60]!r} at {r.ts}"
                raise BadDataError(f"cannot write {which} to InfluxDB: {exc}") from exc
        self._write_lines("write readings", lines)

    def latest(self, kind: str, sensor_ids: Collection[str] | None = None) -> list[Reading]:
        """The newest reading of each sensor of `kind` within `latest_lookback`.

        `last()` selects per field series, so fields a sensor's newest reading lacks come back
        with older times: per sensor, only the fields at its greatest time are kept (the
        `drill` field is on every point, so that time is the newest reading's).
        """
        where = f"r._measurement == {flux_string(kind)}"
        if sensor_ids is not None:
            ids = sorted(set(sensor_ids))
            if not ids:
                return []
            where += f" and {_flux_any(SENSOR_TAG, ids)}"
        start = datetime.now(UTC) - self.latest_lookback
        flux = self._from(start, RANGE_MAX) + f"  |> filter(fn: (r) => {where})\n  |> last()"
        rows: list[tuple[str, datetime, str, Value]] = []
        newest: dict[str, datetime] = {}
        for row in self._query("latest", flux):
            sensor, ts, field = row.get(SENSOR_TAG), row.get("_time"), row.get("_field")
            value = _as_value(row.get("_value"))
            if not isinstance(sensor, str) or not isinstance(ts, datetime) or value is None:
                continue
            rows.append((sensor, ts, str(field), value))
            if sensor not in newest or ts > newest[sensor]:
                newest[sensor] = ts
        values: dict[str, dict[str, Value]] = {sensor: {} for sensor in newest}
        for sensor, ts, field, value in rows:
            if ts == newest[sensor]:
                values[sensor][field] = value
        out: list[Reading] = []
        for sensor in sorted(newest):
            fields = values[sensor]
            drill = bool(fields.pop(DRILL_FIELD, False))
            out.append(Reading(kind, sensor, newest[sensor].astimezone(UTC), fields, drill))
        return out

    def series(
        self,
        kind: str,
        field: str,
        sensor_ids: Collection[str],
        start: datetime,
        end: datetime,
        every: timedelta | None = None,
    ) -> list[SeriesPoint]:
        """One field over [start, end) (Flux range() excludes its stop), optionally averaged."""
        return self.series_many(kind, [field], sensor_ids, start, end, every)[field]

    def series_many(
        self,
        kind: str,
        fields: Sequence[str],
        sensor_ids: Collection[str],
        start: datetime,
        end: datetime,
        every: timedelta | None = None,
    ) -> dict[str, list[SeriesPoint]]:
        """Several fields in one Flux query, one table per (sensor, field).

        With `every`, aggregateWindow(mean) stamped with the window start; windows are aligned
        to the epoch, but Flux cuts the first one at `start`, so each stamp is floored to the
        epoch-aligned bucket here.
        """
        names = list(dict.fromkeys(fields))
        for field in names:
            if not _FIELD.match(field):
                raise StoreError(f"invalid field name {field!r}")
        if every is not None and every < _US:
            raise StoreError("series: every must be at least one microsecond")
        out: dict[str, list[SeriesPoint]] = {field: [] for field in names}
        ids = sorted(set(sensor_ids))
        start, end = _aware(start), _aware(end)
        if not ids or not names or start >= end:
            return out
        flux = self._from(start, end) + (
            f"  |> filter(fn: (r) => r._measurement == {flux_string(kind)}"
            f" and {_flux_any('_field', names)} and {_flux_any(SENSOR_TAG, ids)})\n"
        )
        if every is not None:
            if _bool_fields(kind).intersection(names):
                flux += "  |> toFloat()\n"
            flux += (
                f"  |> aggregateWindow(every: {every // _US}us, fn: mean, createEmpty: false,"
                ' timeSrc: "_start")\n'
            )
        for row in self._query("series", flux):
            sensor, ts, value = row.get(SENSOR_TAG), row.get("_time"), row.get("_value")
            points = out.get(str(row.get("_field")))
            if points is None or not isinstance(sensor, str) or not isinstance(ts, datetime):
                continue
            if not isinstance(value, bool | int | float):
                continue
            ts = ts.astimezone(UTC)
            if every is not None:
                ts = EPOCH + ((ts - EPOCH) // every) * every
            points.append(SeriesPoint(sensor, ts, float(value)))
        for points in out.values():
            points.sort(key=lambda p: (p.sensor_id, p.ts))
        return out

    def count(self, kind: str | None = None) -> int:
        """Readings stored (of `kind`, or of every kind): the number of `drill` field values,
        one per point."""
        if kind is None:
            which = f"r._measurement != {flux_string(ALERT_MEASUREMENT)}"
        else:
            which = f"r._measurement == {flux_string(kind)}"
        flux = self._from(RANGE_MIN, RANGE_MAX) + (
            f"  |> filter(fn: (r) => {which} and r._field == {flux_string(DRILL_FIELD)})\n"
            "  |> group()\n"
            "  |> count()"
        )
        total = 0
        for row in self._query("count", flux):
            value = row.get("_value")
            if isinstance(value, int) and not isinstance(value, bool):
                total += value
        return total

    # ------------------------------------------------------------------ alert events

    def _next_seq(self) -> int:
        with self._lock:
            self._last_seq = max(self._last_seq + 1, time.time_ns())
            return self._last_seq

    def write_alert_events(self, events: Sequence[AlertEvent]) -> None:
        """Store alert transitions; one already stored (same event, alert_id, state, ts) is
        skipped."""
        if not events:
            return
        batch: dict[tuple[str, str, int], AlertEvent] = {}
        for event in events:
            batch.setdefault((event.alert_id, event.state, epoch_us(event.ts)), event)
        stored = self._stored_alert_keys(batch)
        new = [event for key, event in batch.items() if key not in stored]
        if not new:
            return
        try:
            lines = [alert_to_line(event, self._next_seq(), event_id=self.event) for event in new]
        except ValueError as exc:
            raise StoreError(f"cannot write alert events to InfluxDB: {exc}") from exc
        self._write_lines("write alert events", lines)

    def _stored_alert_keys(
        self, keys: Collection[tuple[str, str, int]]
    ) -> set[tuple[str, str, int]]:
        times = [us for _, _, us in keys]
        flux = self._from(from_epoch_us(min(times)), from_epoch_us(max(times) + 1)) + (
            f"  |> filter(fn: (r) => r._measurement == {flux_string(ALERT_MEASUREMENT)}"
            f' and r._field == "seq" and {_flux_any("alert_id", sorted({k[0] for k in keys}))})'
        )
        stored: set[tuple[str, str, int]] = set()
        for row in self._query("alert events (existing)", flux):
            key = _alert_key(row)
            if key is not None:
                stored.add(key)
        return stored

    def alert_events(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        alert_id: str | None = None,
    ) -> list[AlertEvent]:
        """Alert transitions with start <= ts < end (or all), by ts then insertion order."""
        start = RANGE_MIN if start is None else _aware(start)
        end = RANGE_MAX if end is None else _aware(end)
        if start >= end:
            return []
        where = (
            f"r._measurement == {flux_string(ALERT_MEASUREMENT)}"
            ' and (r._field == "event" or r._field == "seq")'
        )
        if alert_id is not None:
            where += f" and r.alert_id == {flux_string(alert_id)}"
        flux = self._from(start, end) + f"  |> filter(fn: (r) => {where})"
        found: dict[tuple[str, str, int], dict[str, Any]] = {}
        for row in self._query("alert events", flux):
            key = _alert_key(row)
            if key is not None:
                found.setdefault(key, {})[str(row.get("_field"))] = row.get("_value")
        ordered: list[tuple[int, int, AlertEvent]] = []
        for (_, _, us), fields in found.items():
            raw = fields.get("event")
            if not isinstance(raw, str):
                continue
            try:
                event = AlertEvent.model_validate_json(raw)
            except ValidationError as exc:
                raise StoreError(self._message("alert events", f"unreadable event: {exc}")) from exc
            seq = fields.get("seq")
            ordered.append((us, seq if isinstance(seq, int) else 0, event))
        ordered.sort(key=lambda item: (item[0], item[1]))
        return [event for _, _, event in ordered]

    # ------------------------------------------------------------------ audit trail

    def write_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append audit entries (the point key is the entry's identity: a rewrite is a no-op)."""
        if not entries:
            return
        try:
            lines = [audit_to_line(entry, event_id=self.event) for entry in entries]
        except ValueError as exc:
            raise BadDataError(f"cannot write audit entries to InfluxDB: {exc}") from exc
        self._write_lines("write audit entries", lines)

    def audit_entries(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        user: str | None = None,
        action: str | None = None,
    ) -> list[AuditEntry]:
        """Audit entries with start <= ts < end (or all), of one user / action, by ts."""
        start = RANGE_MIN if start is None else _aware(start)
        end = RANGE_MAX if end is None else _aware(end)
        if start >= end:
            return []
        where = f'r._measurement == {flux_string(AUDIT_MEASUREMENT)} and r._field == "entry"'
        if user is not None:
            where += f" and r.user == {flux_string(user)}"
        if action is not None:
            where += f" and r.action == {flux_string(action)}"
        flux = self._from(start, end) + f"  |> filter(fn: (r) => {where})"
        entries: list[AuditEntry] = []
        for row in self._query("audit entries", flux):
            raw = row.get("_value")
            if not isinstance(raw, str):
                continue
            try:
                entries.append(AuditEntry.model_validate_json(raw))
            except ValidationError as exc:
                raise StoreError(
                    self._message("audit entries", f"unreadable entry: {exc}")
                ) from exc
        entries.sort(key=lambda e: e.ts)
        return entries

    # ------------------------------------------------------------------ control log

    def write_log(self, entries: Sequence[LogEntry]) -> None:
        """Append control log entries; an id already stored (or twice in the batch) is
        written once, the first kept."""
        if not entries:
            return
        batch: dict[str, LogEntry] = {}
        for entry in entries:
            batch.setdefault(entry.id, entry)
        times = [epoch_us(e.event_ts) for e in batch.values()]
        flux = self._from(from_epoch_us(min(times)), from_epoch_us(max(times) + 1)) + (
            f"  |> filter(fn: (r) => r._measurement == {flux_string(LOG_MEASUREMENT)}"
            f' and r._field == "seq" and {_flux_any("log_id", sorted(batch))})'
        )
        stored = {row.get("log_id") for row in self._query("control log (existing)", flux)}
        new = [entry for entry_id, entry in batch.items() if entry_id not in stored]
        if not new:
            return
        try:
            lines = [log_to_line(e, self._next_seq(), event_id=self.event) for e in new]
        except ValueError as exc:
            raise BadDataError(f"cannot write control log entries to InfluxDB: {exc}") from exc
        self._write_lines("write control log", lines)

    def log_entries(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        incident_id: str | None = None,
        category: str | None = None,
        text: str | None = None,
    ) -> list[LogEntry]:
        """Control log entries in [start, end) of event time, by event time then insertion."""
        start = RANGE_MIN if start is None else _aware(start)
        end = RANGE_MAX if end is None else _aware(end)
        if start >= end:
            return []
        where = (
            f"r._measurement == {flux_string(LOG_MEASUREMENT)}"
            ' and (r._field == "entry" or r._field == "seq")'
        )
        if incident_id is not None:
            where += f" and r.incident_id == {flux_string(incident_id)}"
        if category is not None:
            where += f" and r.category == {flux_string(category)}"
        flux = self._from(start, end) + f"  |> filter(fn: (r) => {where})"
        found: dict[str, dict[str, Any]] = {}
        for row in self._query("control log", flux):
            log_id = row.get("log_id")
            if isinstance(log_id, str):
                found.setdefault(log_id, {})[str(row.get("_field"))] = row.get("_value")
        ordered: list[tuple[int, int, LogEntry]] = []
        for fields in found.values():
            raw = fields.get("entry")
            if not isinstance(raw, str):
                continue
            try:
                entry = LogEntry.model_validate_json(raw)
            except ValidationError as exc:
                raise StoreError(self._message("control log", f"unreadable entry: {exc}")) from exc
            seq = fields.get("seq")
            ordered.append((epoch_us(entry.event_ts), seq if isinstance(seq, int) else 0, entry))
        ordered.sort(key=lambda item: (item[0], item[1]))
        found_entries = [entry for _, _, entry in ordered]
        return found_entries if not text else [e for e in found_entries if e.matches(text)]

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Release the client (writes are synchronous: nothing is buffered)."""
        if self._closed:
            return
        self._closed = True
        with self._errors("close"):
            # (untyped in influxdb-client)
            parts: list[Any] = [self._write_api, self._client]
            for part in parts:
                part.close()

    def __enter__(self) -> InfluxStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
